# LoRand on Swin-B, Oriented R-CNN (le90) + FPN, DOTA-v1.0 1x, through mmrotate 1.x.
# Follows, for the Oriented R-CNN PEFT recipe (STAR-MMRotate's SwinLoRand backbone):
#   VisionXLab/STAR-MMRotate:configs/oriented_rcnn/peft/oriented_rcnn_swin-b_lorand_fpn_1x_star_le90_init.py
# and, for the DOTA settings:
#   VisionXLab/STAR-MMRotate:configs/h2rbox_v2p/peft/h2rbox_v2p_swin-b_lorand_fpn_1x_dota_le90.py
# Every setting is set in the base (see its header).
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_dota.py'

model = dict(backbone=dict(method=dict(type='LoRand', subspaces=4, rank=8)))
