# UperNet on ADE20K 512x512, 160k iterations, batch 16 (8x2), with a plain ViT-B/16 (ImageNet-21K) and HST's side
# network as the backbone: the recipe of the Swin-L base below (mmseg's own: AdamW wd 0.01, poly with power 1,
# 1500-iteration warm-up) with the backbone swapped. HST's side network gives the four maps UperNet needs (strides
# 4/8/16/32, 32/48/64/72 channels), so no multi-level neck is added; the auxiliary FCN head reads the stride-16 map.
# The ViT is mmpretrain's (./models/vit-b16.py; it resizes its position embedding to every input size). HST's
# segmentation code is not public (docs/hst.md).
_base_ = ['./upernet_swin-l_8xb2-160k_ade20k-512x512.py', './models/vit-b16.py']

pretrained = 'pretrain/vit-base-p16_in21k_mmpretrain.pth'  # converted as ./models/vit-b16.py says
model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),  # the ViT's [-1, 1] inputs
    # drop path 0.1: ours, no segmentation code is public (the reference's VTAB scripts use 0-0.2)
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='HST'), backbone=dict(
        _base_.vit_b16, drop_path_rate=0.1, init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    decode_head=dict(in_channels=[32, 48, 64, 72], in_index=[0, 1, 2, 3]),
    auxiliary_head=dict(in_channels=64, in_index=2))

# mmseg's "no weight decay on norms", extended to the LayerNorms inside the ViT blocks (ln1 / ln2), which HST trains.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.ln1.': dict(decay_mult=0.), '.ln2.': dict(decay_mult=0.)}))
del _base_.vit_b16  # the snippet's helper, not a config key
