# HST on ViT-B/16 (ImageNet-21K), Cascade Mask R-CNN + FPN, COCO 3x (the recipe: the base below). The side network's
# four maps (strides 4/8/16/32, 32/48/64/72 channels) feed FPN. Trainable in the backbone: 764,840 parameters
# (docs/hst.md). Paper-reported (HST, COCO test-dev, not reproduced here): 49.7 box AP / 43.2 mask AP.
# Needs pretrain/vit-base-p16_in21k_mmpretrain.pth (docs/checkpoints.md).
_base_ = '../_base_/cascade-mask-rcnn_vit-b-hst_fpn_3x_coco.py'

# drop path 0.1: ours, as the ViT's (the reference's VTAB scripts use 0-0.2). The stem's BatchNorm sees 2 images per
# GPU: synchronised across GPUs (mmengine reverts it to BN when training on one GPU without a distributed launcher).
model = dict(backbone=dict(
    method=dict(type='HST', drop_path_rate=0.1, stem_norm_cfg=dict(type='SyncBN', requires_grad=True))))
