# Oriented R-CNN (le90), Swin-B (ImageNet-22K) + FPN on DOTA-v1.0 (1024 single-scale split), 12 epochs with steps at
# 8 and 11, AdamW 1e-4 wd 0.05: mmrotate's own Oriented R-CNN config. The reference (STAR-MMRotate) fed FPN from
# out_indices (1, 2, 3); mmrotate's RPN anchors and RoI extractor assume a stride-4 first level, so all four stages
# feed FPN here.
_base_ = [
    'mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py',
    './petl_runtime.py',
]

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpetl.PETLBackbone',
        backbone=dict(
            type='mmdet.SwinTransformer',
            embed_dims=128,
            depths=[2, 2, 18, 2],
            num_heads=[4, 8, 16, 32],
            window_size=7,
            mlp_ratio=4,
            qkv_bias=True,
            qk_scale=None,
            drop_rate=0.,
            attn_drop_rate=0.,
            drop_path_rate=0.2,
            patch_norm=True,
            out_indices=(0, 1, 2, 3),
            with_cp=False,
            convert_weights=True,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        method=dict(type='Fixed')),
    neck=dict(in_channels=[128, 256, 512, 1024]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='mmpetl.PETLOptimWrapperConstructor',  # frozen parameters left out, in one log line
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
    }))
