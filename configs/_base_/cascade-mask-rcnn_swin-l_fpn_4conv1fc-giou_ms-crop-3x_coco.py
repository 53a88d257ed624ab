# Cascade Mask R-CNN, Swin-L (ImageNet-22K, window 7) + FPN: the Swin-B recipe of the file below with Swin-L's sizes.
_base_ = ['./cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py', './models/swin-l.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(backbone=dict(_base_.swin_l, init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    neck=dict(in_channels=[192, 384, 768, 1536]))
del _base_.swin_l  # the snippet's helper, not a config key
