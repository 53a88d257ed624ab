# E3VA on Swin-B, Oriented R-CNN (le90) + FPN, DOTA-v1.0 1x, through mmrotate 1.x.
# STAR-MMRotate has no E3VA: the Oriented R-CNN PEFT recipe of the base, whose header lists its references.
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_dota.py'

model = dict(backbone=dict(method=dict(type='E3VA')))
