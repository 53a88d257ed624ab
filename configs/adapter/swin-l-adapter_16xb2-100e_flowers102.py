# The Houlsby adapter on Swin-L, classification, Flowers-102 (the reference recipe: the base below).
_base_ = '../_base_/swin-l_16xb2-100e_flowers102.py'

model = dict(backbone=dict(method=dict(type='Adapter', bottleneck=64)))
