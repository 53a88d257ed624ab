# Plain ViT-B/16 (Google's ImageNet-21K weights) as mmpretrain's VisionTransformer: the backbone of the HST configs
# (COCO, ADE20K, VTAB-1k). mmpretrain's ViT resizes its position embedding to every input size, so one converted
# checkpoint serves detection, segmentation and classification:
#   python tools/model_converters/official_to_mmpetl.py vit \
#       B_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0.npz pretrain/vit-base-p16_in21k_mmpretrain.pth \
#       --target mmpretrain
# (docs/checkpoints.md); the configs load it with init_cfg=dict(type='Pretrained', checkpoint=pretrained). Google's ViT
# saw inputs scaled to [-1, 1]: the configs normalise with mean = std = 127.5.
# A snippet read as `_base_.vit_b16` and then deleted (`del _base_.vit_b16`), as ./swin-b.py describes.
vit_b16 = dict(
    type='mmpretrain.VisionTransformer',
    arch='base',
    img_size=224,  # the pretraining grid (14x14); resized to each input's grid at run time
    patch_size=16)
