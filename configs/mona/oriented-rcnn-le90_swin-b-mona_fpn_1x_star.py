# Mona on Swin-B, Oriented R-CNN (le90) + FPN, STAR 1x, through mmrotate 1.x.
# Follows (STAR-MMRotate's SwinMona backbone):
#   VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py
# whose training settings are those of every _init config, set in the base (see its header).
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_star.py'

model = dict(backbone=dict(method=dict(type='Mona', bottleneck=64, dropout=0.1)))
