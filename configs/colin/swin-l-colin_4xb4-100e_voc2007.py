# CoLin on Swin-L, classification, VOC2007 (single-label), 4 GPUs x 4 images, 100 epochs.
# CoLin has no classification config (DongshuoYin/CoLin's README lists classification as "TBD"): this follows the
# recipe of the Mona reference's baselines on the dataset (their lr, as LoRand and E3VA do),
# Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc.py
# (its settings: the base below).
_base_ = '../_base_/swin-l_4xb4-100e_voc2007.py'

model = dict(backbone=dict(method=dict(type='CoLin', inner_dim=100, rank=28, branches=4, kernel_size=3,
                                       loss_weight=0.5, orth_loss='reference')))
