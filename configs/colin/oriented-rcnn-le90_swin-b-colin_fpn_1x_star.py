# CoLin on Swin-B, Oriented R-CNN (le90) + FPN, STAR 1x, through mmrotate 1.x.
# Neither DongshuoYin/CoLin (MMDetection configs only) nor STAR-MMRotate has a CoLin oriented-detection config: the
# Oriented R-CNN PEFT recipe of the base, whose header lists its references (the recipe every method's STAR file
# shares).
# Paper-reported (arXiv 2602.10513, as listed by the wizwand.com summary of the paper; third-party), not reproduced
# here: 39.22 AP (whether with this detector, schedule and metric is not on record).
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_star.py'

model = dict(backbone=dict(method=dict(type='CoLin', inner_dim=100, rank=28, branches=4, kernel_size=3,
                                       loss_weight=0.5, orth_loss='reference')))
