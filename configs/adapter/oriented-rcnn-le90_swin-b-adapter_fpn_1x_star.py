# The Houlsby adapter on Swin-B, Oriented R-CNN (le90) + FPN, STAR 1x, through mmrotate (STAR-MMRotate's recipe: the base below).
# STAR-MMRotate (mmrotate/models/backbones/swin_adapter.py) applies the adapter after the branch's drop-path, unlike
# the Mona repository (mmpetl's default): placement='after_drop_path' follows STAR's code here. (With a checkpoint, STAR's
# init_weights leaves the adapters at PyTorch's default Linear init; mmpetl offers trunc-normal or identity: the default,
# trunc-normal std 0.02, is kept.)
_base_ = '../_base_/oriented-rcnn-le90_swin-b_fpn_1x_star.py'

model = dict(backbone=dict(method=dict(type='Adapter', bottleneck=64, placement='after_drop_path')))
