# E3VA on Swin-B, Oriented R-CNN (le90) + FPN, STAR 1x, through mmrotate (STAR-MMRotate has no E3VA: its PEFT recipe, the base below).
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_star.py'

model = dict(backbone=dict(method=dict(type='E3VA')))
