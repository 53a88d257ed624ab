# The Houlsby adapter on Swin-B, Oriented R-CNN (le90) + FPN, STAR 1x, through mmrotate 1.x.
# Follows (STAR-MMRotate's SwinAdapter backbone):
#   VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_adapter_fpn_1x_star_le90_init.py
# whose training settings are those of every _init config, set in the base (see its header).
# STAR-MMRotate's Adapter (mmrotate/models/backbones/swin_adapter.py) adds the adapter to the attention and FFN
# outputs after mmdet's Swin has applied the branch's drop path, unlike the Mona repository (mmpetl's default):
# placement='after_drop_path' follows it. (With a checkpoint, its init_weights leaves the adapters at PyTorch's
# default Linear init; mmpetl's default, trunc-normal std 0.02, is kept.)
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_star.py'

model = dict(backbone=dict(method=dict(type='Adapter', bottleneck=64, placement='after_drop_path')))
