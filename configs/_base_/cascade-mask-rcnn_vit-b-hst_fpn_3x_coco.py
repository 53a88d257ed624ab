# Cascade Mask R-CNN + FPN on COCO, 3x, with a plain ViT-B/16 (ImageNet-21K) and HST's side network as the backbone:
# the ViT-B recipe of the base below (the Swin-B COCO recipe: 4conv1fc GIoU heads, multi-scale AutoAugment, AdamW 1e-4
# wd 0.05, 36 epochs with steps at 27/33, 500-iteration warm-up, batch 16; the checkpoint, the [-1, 1] inputs, drop
# path 0.1 and no weight decay on the ViT's LayerNorms ln1 / ln2, which HST trains, come from there too). A plain ViT
# has one stride-16 map; HST's side network gives the four maps FPN needs (strides 4/8/16/32, 32/48/64/72 channels),
# so the base's MultiLevelNeck is removed and the recipe's FPN reads the side network directly (the ViT's own outputs
# are discarded, docs/hst.md). HST's detection code is not public (docs/hst.md): what the paper does not state is ours
# and marked so.
_base_ = './cascade-mask-rcnn_vit-b_mln-fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(
    # HST discards the ViT's own outputs: mmpretrain's defaults instead of the base's four maps (any ViT depth fits)
    backbone=dict(method=dict(type='HST'), backbone=dict(out_type='cls_token', out_indices=-1)),
    neck=dict(_delete_=True, type='FPN', in_channels=[32, 48, 64, 72], out_channels=256, num_outs=5))
