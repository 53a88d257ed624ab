# BitFit on Swin-L, classification, Flowers-102, 4 GPUs x 4 images, 100 epochs: the reference
# Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/swin-large_4xb8_oxford_flower_bitfit.py
# (its settings: the base below).
_base_ = '../_base_/swin-l_4xb4-100e_flowers102.py'

model = dict(backbone=dict(method=dict(type='BitFit')))
