# Full fine-tuning on ViT-B/16 (ImageNet-21K), UperNet over mmseg's MultiLevelNeck, ADE20K 512x512, 160k iterations (the
# recipe: the base below, mmseg's own ViT-B UperNet). No published figure for this setting.
# Trainable in the backbone: 86,434,560, the README's 85,798,656 plus the position embedding grown from 14x14 to 32x32
# (img_size 512).
# Needs pretrain/vit-base-p16_in21k_mmpretrain.pth (docs/checkpoints.md).
_base_ = '../_base_/upernet_vit-b_mln_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(method=dict(type='Full')))
