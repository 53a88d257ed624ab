# Mona on Swin-L, classification, Oxford-IIIT Pets, 4 GPUs x 4 images, 100 epochs: the reference
# Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/swin-large_4xb8_oxford_pet_mona.py
# (its settings: the base below).
_base_ = '../_base_/swin-l_4xb4-100e_oxford-pets.py'

model = dict(backbone=dict(method=dict(type='Mona', bottleneck=64, dropout=0.1)))
# the reference trains Mona on this dataset with twice the shared lr: 5e-4 * 16 / 512 * 2
optim_wrapper = dict(optimizer=dict(lr=5e-4 * 4 * 4 / 512 * 2))
