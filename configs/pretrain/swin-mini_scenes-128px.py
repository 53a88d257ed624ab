# Dense pretraining of mmpetl's small Swin ("swin-mini") on the generated upstream scenes (mmpetl/datasets/
# upstream_data.py, `make_upstream_scenes`): semantic segmentation of the 8 upstream shapes (textured, 1-5 per
# 128 px image, on backgrounds of any brightness) through mmseg's Runner, with mmpretrain's SwinTransformer as the
# backbone (so the checkpoint has mmpretrain's keys, as the shipped releases do) and a light all-MLP decode head
# (SegformerHead) that leaves the work to the backbone. Run it with tools/misc/pretrain_backbone.py (docs/transfer.md,
# "The small pretrained backbones").
_base_ = ['mmseg::_base_/default_runtime.py']

data_root = 'data/upstream_scenes/'
image_size = (128, 128)
classes = ('background', 'star', 'cross', 'ring', 'hexagon', 'pentagon', 'crescent', 'arrow', 'heart')
palette = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230)]
# embed 24 keeps the fp32 checkpoint under 10 MB; window 4 divides the 32/16/8/4 maps of 128 px inputs
backbone_arch = dict(embed_dims=24, depths=[2, 2, 6, 2], num_heads=[1, 2, 4, 8])
channels = [24, 48, 96, 192]
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=image_size),
    backbone=dict(
        type='mmpretrain.SwinTransformer',
        arch=backbone_arch,
        img_size=image_size[0],
        window_size=4,
        pad_small_map=True,
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                  dict(type='Constant', layer='LayerNorm', val=1., bias=0.)]),
    decode_head=dict(
        type='SegformerHead',
        in_channels=channels,
        in_index=[0, 1, 2, 3],
        channels=64,
        dropout_ratio=0.1,
        num_classes=len(classes),
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
dataset = dict(type='BaseSegDataset', data_root=data_root, img_suffix='.png', seg_map_suffix='.png',
               metainfo=dict(classes=classes, palette=palette))
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])

max_iters = 3000
warmup_iters = 200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, custom_keys={
        '.absolute_pos_embed': dict(decay_mult=0.0),
        '.relative_position_bias_table': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=warmup_iters, end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2),
    visualization=dict(type='SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, deterministic=False)
