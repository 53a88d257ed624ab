# BitFit on Swin-B, Oriented R-CNN (le90) + FPN, DOTA-v1.0 1x, through mmrotate (the reference recipe: the base below).
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_dota.py'

model = dict(backbone=dict(method=dict(type='BitFit')))
