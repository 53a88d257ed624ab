# The Houlsby adapter on Swin-L, classification, Oxford-IIIT Pets, 4 GPUs x 4 images, 100 epochs: the reference
# Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/swin-large_4xb8_oxford_pet_adapter.py
# (its settings: the base below).
_base_ = '../_base_/swin-l_4xb4-100e_oxford-pets.py'

model = dict(backbone=dict(method=dict(type='Adapter', bottleneck=64)))
