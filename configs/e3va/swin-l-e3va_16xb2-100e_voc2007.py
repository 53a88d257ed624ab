# E3VA on Swin-L, multi-label classification, VOC2007 (the reference recipe: the base below).
_base_ = '../_base_/swin-l_16xb2-100e_voc2007.py'

model = dict(backbone=dict(method=dict(type='E3VA')))
