# CoLin on ViT-B/16 (ImageNet-21K), Cascade Mask R-CNN, mmseg's MultiLevelNeck + FPN, COCO 3x (the recipe: the base
# below, as every method's ViT-B COCO file; the CoLin reference has Swin only). Options as on Swin-B. No published
# figure for this setting.
# Needs pretrain/vit-base-p16_in21k_mmpretrain.pth (docs/checkpoints.md).
_base_ = '../_base_/cascade-mask-rcnn_vit-b_mln-fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(backbone=dict(method=dict(type='CoLin', inner_dim=100, rank=28, branches=4, kernel_size=3,
                                       loss_weight=0.5, orth_loss='reference')))
