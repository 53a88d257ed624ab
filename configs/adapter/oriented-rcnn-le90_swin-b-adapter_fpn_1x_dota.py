# The Houlsby adapter on Swin-B, Oriented R-CNN (le90) + FPN, DOTA-v1.0 1x, through mmrotate 1.x.
# Follows, for the Oriented R-CNN PEFT recipe (STAR-MMRotate's SwinAdapter backbone):
#   VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_adapter_fpn_1x_star_le90_init.py
# and, for the DOTA settings:
#   VisionXLab/STAR-MMRotate:configs/h2rbox_v2p/peft/h2rbox_v2p_swin-b_adapter_fpn_1x_dota_le90.py
# Every setting is set in the base (see its header).
# STAR-MMRotate's Adapter (mmrotate/models/backbones/swin_adapter.py) adds the adapter to the attention and FFN
# outputs after mmdet's Swin has applied the branch's drop path, unlike the Mona repository (mmpetl's default):
# placement='after_drop_path' follows it. (With a checkpoint, its init_weights leaves the adapters at PyTorch's
# default Linear init; mmpetl's default, trunc-normal std 0.02, is kept.)
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_dota.py'

model = dict(backbone=dict(method=dict(type='Adapter', bottleneck=64, placement='after_drop_path')))
