# RetinaNet, Swin-L (ImageNet-22K) + FPN on Pascal VOC0712, the Mona reference recipe: out_indices (1, 2, 3), FPN on
# [384, 768, 1536] with extra convs on the input, 1000x600, AdamW 1e-4 wd 0.05, 4 epochs over RepeatDataset x3 (step
# at 3), total batch 2. mmdet's VOC RetinaNet config provides the head, data and schedule.
_base_ = [
    'mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py',
    './petl_runtime.py',
]

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpetl.PETLBackbone',
        backbone=dict(
            type='mmdet.SwinTransformer',
            embed_dims=192,
            depths=[2, 2, 18, 2],
            num_heads=[6, 12, 24, 48],
            window_size=7,
            mlp_ratio=4,
            qkv_bias=True,
            qk_scale=None,
            drop_rate=0.,
            attn_drop_rate=0.,
            drop_path_rate=0.2,
            patch_norm=True,
            out_indices=(1, 2, 3),
            with_cp=False,
            convert_weights=True,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        method=dict(type='Fixed')),
    neck=dict(in_channels=[384, 768, 1536], start_level=0, add_extra_convs='on_input', num_outs=5))

train_dataloader = dict(batch_size=2)
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
auto_scale_lr = dict(enable=False, base_batch_size=2)
