# UperNet on ADE20K 512x512, 160k iterations, batch 16 (8x2), with a plain ViT-B/16 (ImageNet-21K) and HST's side
# network as the backbone: the recipe of the Swin-L base below (mmseg's own: AdamW wd 0.01, poly with power 1,
# 1500-iteration warm-up) with the backbone swapped. HST's side network gives the four maps UperNet needs (strides
# 4/8/16/32, 32/48/64/72 channels), so no multi-level neck is added; the auxiliary FCN head reads the stride-16 map.
# The ViT is mmpretrain's (it resizes its position embedding to every input size; one converted checkpoint serves
# the detection, segmentation and VTAB configs). HST's segmentation code is not public (docs/hst.md).
_base_ = './upernet_swin-l_8xb2-160k_ade20k-512x512.py'

# Google's ImageNet-21K ViT-B/16 converted to mmpretrain's keys (docs/checkpoints.md):
#   python tools/model_converters/official_to_mmpetl.py vit \
#       B_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0.npz pretrain/vit-base-p16_in21k_mmpretrain.pth \
#       --target mmpretrain
pretrained = 'pretrain/vit-base-p16_in21k_mmpretrain.pth'
model = dict(
    # Google's ViT saw inputs scaled to [-1, 1]
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),
    backbone=dict(
        _delete_=True,
        type='mmpetl.PETLBackbone',
        backbone=dict(
            type='mmpretrain.VisionTransformer',
            arch='base',
            img_size=224,  # the pretraining grid (14x14); resized to each input's grid at run time
            patch_size=16,
            drop_path_rate=0.1,  # ours: no segmentation code is public (the reference's VTAB scripts use 0-0.2)
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        method=dict(type='HST')),
    decode_head=dict(in_channels=[32, 48, 64, 72], in_index=[0, 1, 2, 3]),
    auxiliary_head=dict(in_channels=64, in_index=2))

# mmseg's "no weight decay on norms", extended to the LayerNorms inside the ViT blocks (ln1 / ln2), which HST trains.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.ln1.': dict(decay_mult=0.), '.ln2.': dict(decay_mult=0.)}))
