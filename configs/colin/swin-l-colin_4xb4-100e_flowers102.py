# CoLin on Swin-L, classification, Flowers-102, 4 GPUs x 4 images, 100 epochs.
# CoLin has no classification config (DongshuoYin/CoLin's README lists classification as "TBD"): this follows the
# recipe of the Mona reference's baselines on the dataset (their lr, as LoRand and E3VA do),
# Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/swin-large_4xb8_oxford_flower.py
# (its settings: the base below).
# Paper-reported (arXiv 2602.10513, as listed by the wizwand.com summary of the paper; third-party), not reproduced
# here: 99.66 top-1 (whether with this recipe is not on record).
_base_ = '../_base_/swin-l_4xb4-100e_flowers102.py'

model = dict(backbone=dict(method=dict(type='CoLin', inner_dim=100, rank=28, branches=4, kernel_size=3,
                                       loss_weight=0.5, orth_loss='reference')))
