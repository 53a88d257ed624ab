# Cascade Mask R-CNN, Swin-B (ImageNet-22K) + FPN, the reference COCO recipe of Swin / Mona / V-PETL Bench:
# 4conv1fc GIoU heads, multi-scale AutoAugment (short side 480-800, crop 384-600), AdamW 1e-4 wd 0.05 (no decay on
# position tables and norms), 36 epochs with steps at 27/33, 500-iteration linear warm-up, total batch 16 (8x2).
# Heads and pipeline come from mmdet's own config of that recipe (the ConvNeXt one); only the backbone differs.
# A PETL config inherits this file and sets `model.backbone.method`.
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py',
    './petl_runtime.py',
]

custom_imports = dict(imports=[], allow_failed_imports=False)  # the ConvNeXt parent imports mmpretrain: not needed

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
            drop_path_rate=0.3,
            patch_norm=True,
            out_indices=(0, 1, 2, 3),
            with_cp=False,
            # the official checkpoint has the original Swin keys: mmdet converts them (swin_converter)
            convert_weights=True,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        method=dict(type='Fixed')),
    neck=dict(in_channels=[128, 256, 512, 1024]))

max_epochs = 36
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
# paramwise_cfg also makes mmengine's optimizer constructor skip the frozen (requires_grad=False) parameters.
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
auto_scale_lr = dict(enable=False, base_batch_size=16)
