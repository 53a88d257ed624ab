# UperNet on ADE20K 512x512, 160k iterations, batch 16 (8x2), with a plain ViT-B/16 (ImageNet-21K) and HST's side
# network as the backbone: the ViT-B recipe of the base below (mmseg's own ViT-B UperNet: AdamW wd 0.01, poly with
# power 1, 1500-iteration warm-up; the checkpoint, the [-1, 1] inputs, drop path 0.1 and no weight decay on the ViT's
# LayerNorms ln1 / ln2, which HST trains, come from there too). HST's side network gives the four maps UperNet needs
# (strides 4/8/16/32, 32/48/64/72 channels), so the base's MultiLevelNeck is removed and the ViT's own outputs are
# discarded (docs/hst.md); the auxiliary FCN head reads the stride-16 map. HST's segmentation code is not public
# (docs/hst.md).
_base_ = './upernet_vit-b_mln_8xb2-160k_ade20k-512x512.py'

model = dict(
    # HST discards the ViT's own outputs: mmpretrain's defaults instead of the base's four maps (any ViT depth fits)
    backbone=dict(method=dict(type='HST'), backbone=dict(out_type='cls_token', out_indices=-1)),
    neck=None,
    decode_head=dict(in_channels=[32, 48, 64, 72], in_index=[0, 1, 2, 3]),
    auxiliary_head=dict(in_channels=64, in_index=2))
