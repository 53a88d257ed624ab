# LN-tune on Swin-B, Oriented R-CNN (le90) + FPN, DOTA-v1.0 1x, through mmrotate 1.x.
# Follows, for the Oriented R-CNN PEFT recipe (STAR-MMRotate's SwinNormTunning backbone):
#   VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_norm_tunning_fpn_1x_star_le90_init.py
# and, for the DOTA settings, the other methods' h2rbox_v2p/peft/*_dota_le90.py (the reference has no
# LN-tune config on DOTA). Every setting is set in the base (see its header).
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_dota.py'

model = dict(backbone=dict(method=dict(type='LNTune')))
