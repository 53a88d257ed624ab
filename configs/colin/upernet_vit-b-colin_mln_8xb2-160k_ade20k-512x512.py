# CoLin on ViT-B/16 (ImageNet-21K), UperNet over mmseg's MultiLevelNeck, ADE20K 512x512, 160k iterations (the recipe:
# the base below, mmseg's own ViT-B UperNet; CoLin has no reference ADE20K config, its README lists segmentation as
# "TBD"). Options as on Swin-L. No published figure for this setting.
# Needs pretrain/vit-base-p16_in21k_mmpretrain.pth (docs/checkpoints.md).
_base_ = '../_base_/upernet_vit-b_mln_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(method=dict(type='CoLin', inner_dim=100, rank=28, branches=4, kernel_size=3,
                                       loss_weight=0.5, orth_loss='reference')))
# lr 6e-5 (the base's), as every method but Mona (the Mona reference raises the lr for Mona only).
