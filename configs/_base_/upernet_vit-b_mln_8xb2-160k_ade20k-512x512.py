# UperNet on ADE20K 512x512, 160k iterations, batch 16 (8x2), with a plain ViT-B/16 (Google's ImageNet-21K weights):
# mmseg's own ViT-B UperNet config (vit_vit-b16_mln: the outputs of blocks 3, 6, 9 and 12 through mmseg's
# MultiLevelNeck, resized x4 / x2 / x1 / x0.5 to strides 4 / 8 / 16 / 32 at 768 channels; the auxiliary FCN head on the
# stride-32 map; AdamW lr 6e-5 wd 0.01, no weight decay on pos_embed, cls_token and norms, poly with power 1,
# 1500-iteration warm-up) with the backbone wrapped. A PETL config inherits this file and sets `model.backbone.method`;
# as on Swin-L (the Mona reference), Mona raises the lr to 3e-4 and every other method keeps 6e-5.
# The ViT is mmpretrain's (./models/vit-b16.py), not mmseg's: it has the fused qkv Linear that LoRA needs, so every
# method runs on the same backbone. out_type='featmap' gives (B, 768, 32, 32) maps at 512x512, without the cls token;
# final_norm=True (the snippet's default) keeps the checkpoint's final LayerNorm, which normalises block 12's map, as
# mmseg's vit-b16-ln_mln variant. img_size=512, as mmseg's: the checkpoint's 14x14 position embedding is resized
# (bicubic) to 32x32 when it is loaded (mmpretrain's load hook), and again to other grids at run time (sliding-window
# or multi-scale tests). Google's ViT saw inputs scaled to [-1, 1]: mean = std = 127.5.
_base_ = [
    'mmseg::vit/vit_vit-b16_mln_upernet_8xb2-160k_ade20k-512x512.py',
    './petl_runtime.py',
    './models/vit-b16.py',
]

pretrained = 'pretrain/vit-base-p16_in21k_mmpretrain.pth'  # converted as ./models/vit-b16.py says
model = dict(
    pretrained=None,  # the upstream config's mmseg checkpoint: the ViT's init_cfg below loads ours
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),
    # drop path 0.1: mmseg's DeiT-B UperNet and ViTDet's ViT-B value (mmseg's ViT-B config trains with 0)
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.vit_b16, img_size=512, out_type='featmap', out_indices=(2, 5, 8, 11), drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained))))

# mmseg's optimizer settings, with mmpetl's constructor (frozen parameters left out, in one log line). mmpretrain names
# the ViT's LayerNorms ln1 / ln2 (in the blocks; `ln1` is also the final norm), which the recipe's 'norm' key misses.
optim_wrapper = dict(constructor='mmpetl.PETLOptimWrapperConstructor', paramwise_cfg=dict(
    custom_keys={'.ln1.': dict(decay_mult=0.), '.ln2.': dict(decay_mult=0.)}))
del _base_.vit_b16  # the snippet's helper, not a config key
