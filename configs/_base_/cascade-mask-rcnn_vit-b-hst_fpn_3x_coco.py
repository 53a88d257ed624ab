# Cascade Mask R-CNN + FPN on COCO, 3x, with a plain ViT-B/16 (ImageNet-21K) and HST's side network as the backbone:
# the COCO recipe of the Swin-B base below (4conv1fc GIoU heads, multi-scale AutoAugment, AdamW 1e-4 wd 0.05,
# 36 epochs with steps at 27/33, 500-iteration warm-up, batch 16) with the backbone swapped. A plain ViT has one
# stride-16 map; HST's side network gives the four maps FPN needs (strides 4/8/16/32, 32/48/64/72 channels), so no
# simple-feature-pyramid neck is added. The ViT is mmpretrain's (./models/vit-b16.py): it resizes its position
# embedding to every input size (the recipe's multi-scale, 32-divisible inputs). HST's detection code is not public
# (docs/hst.md): what the paper does not state is ours and marked so.
_base_ = ['./cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py', './models/vit-b16.py']

pretrained = 'pretrain/vit-base-p16_in21k_mmpretrain.pth'  # converted as ./models/vit-b16.py says
model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),  # the ViT's [-1, 1] inputs
    # drop path 0.1: ours, no detection code is public (the reference's VTAB scripts use 0-0.2)
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='HST'), backbone=dict(
        _base_.vit_b16, drop_path_rate=0.1, init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    neck=dict(in_channels=[32, 48, 64, 72]))

# The recipe's "no weight decay on norms", extended to the LayerNorms inside the ViT blocks (ln1 / ln2), which HST
# trains; the side network's norms already match the recipe's 'norm' key. The meta tokens decay, as in the reference.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.ln1.': dict(decay_mult=0.), '.ln2.': dict(decay_mult=0.)}))
del _base_.vit_b16  # the snippet's helper, not a config key
