# LoRA on ViT-B/16 (ImageNet-21K), UperNet over mmseg's MultiLevelNeck, ADE20K 512x512, 160k iterations (the recipe: the
# base below, mmseg's own ViT-B UperNet). Options as on Swin-L. No published figure for this setting.
# Needs pretrain/vit-base-p16_in21k_mmpretrain.pth (docs/checkpoints.md).
_base_ = '../_base_/upernet_vit-b_mln_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(method=dict(type='LoRA', rank=64, alpha=1.0)))
# lr 6e-5 (the base's), as every method but Mona on Swin-L (the Mona reference raises the lr for Mona only).
