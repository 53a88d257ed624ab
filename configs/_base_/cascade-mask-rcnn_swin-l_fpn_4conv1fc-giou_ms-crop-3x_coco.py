# Cascade Mask R-CNN, Swin-L (ImageNet-22K, window 7) + FPN on COCO, 3x. Leiyi-Hu/mona has no Swin-L COCO config (its
# COCO configs are Swin-B only, and so are V-PETL Bench's COCO results): this follows its Swin-B recipe,
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-b_coco/cascade_mask_swin_base_3x_coco_sample_1_bs_16_<method>.py
# (the base below: every setting but the backbone), with Swin-L's sizes and FPN inputs. Drop path stays at the
# recipe's 0.3, the rate of that file; nothing in the reference sets one for Swin-L on COCO.
_base_ = ['./cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py', './models/swin-l.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(backbone=dict(_base_.swin_l, init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    neck=dict(in_channels=[192, 384, 768, 1536]))
del _base_.swin_l  # the snippet's helper, not a config key
