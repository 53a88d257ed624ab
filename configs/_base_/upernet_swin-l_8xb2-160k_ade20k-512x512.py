# UperNet, Swin-L (ImageNet-22K, window 7), ADE20K 512x512, 160k iterations, batch 16 (8x2): mmseg's own config of
# that recipe (AdamW wd 0.01, poly with power 1, 1500-iteration warm-up; lr 6e-5 for full fine-tuning — PETL configs
# raise it to 3e-4 as the Mona reference does). Only the backbone is wrapped; a PETL config sets the method.
_base_ = [
    'mmseg::swin/swin-large-patch4-window7-in22k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    './petl_runtime.py',
]

# mmseg's converted ImageNet-22K Swin-L (the keys mmseg's SwinTransformer expects)
pretrained = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window7_224_22k_20220412-aeecf2aa.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpetl.PETLBackbone',
        backbone=dict(
            type='mmseg.SwinTransformer',
            pretrain_img_size=224,
            embed_dims=192,
            patch_size=4,
            window_size=7,
            mlp_ratio=4,
            depths=[2, 2, 18, 2],
            num_heads=[6, 12, 24, 48],
            strides=(4, 2, 2, 2),
            out_indices=(0, 1, 2, 3),
            qkv_bias=True,
            qk_scale=None,
            patch_norm=True,
            drop_rate=0.,
            attn_drop_rate=0.,
            drop_path_rate=0.3,
            use_abs_pos_embed=False,
            act_cfg=dict(type='GELU'),
            norm_cfg=dict(type='LN', requires_grad=True),
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        method=dict(type='Fixed')))
# mmseg's optimizer settings, with mmpetl's constructor: frozen parameters left out, in one log line
optim_wrapper = dict(constructor='mmpetl.PETLOptimWrapperConstructor')
