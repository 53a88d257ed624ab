# HST on ViT-B/16 (ImageNet-21K), UperNet, ADE20K 512x512, 160k iterations (the recipe: the base below). The side
# network's four maps feed UperNet; the auxiliary head reads the stride-16 one. Trainable in the backbone: 764,840
# parameters (docs/hst.md). Needs pretrain/vit-base-p16_in21k_mmpretrain.pth (docs/checkpoints.md).
_base_ = '../_base_/upernet_vit-b-hst_8xb2-160k_ade20k-512x512.py'

# drop path 0.1: ours, as the ViT's (the reference's VTAB scripts use 0-0.2). The stem's BatchNorm sees 2 crops per
# GPU: synchronised across GPUs (mmengine reverts it to BN when training on one GPU without a distributed launcher).
model = dict(backbone=dict(
    method=dict(type='HST', drop_path_rate=0.1, stem_norm_cfg=dict(type='SyncBN', requires_grad=True))))
# HST's own segmentation settings are not public. Its side network starts from scratch (like Mona's adapters, which
# the Mona reference trains at 3e-4 on ADE20K), so it takes Mona's lr 3e-4 rather than the 6e-5 of the other methods.
optim_wrapper = dict(optimizer=dict(lr=3e-4))
