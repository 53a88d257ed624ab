# Pretraining of mmpetl's small Swin ("swin-mini") on the generated upstream task (48 shape x texture classes, 64 px;
# mmpetl/datasets/upstream_data.py), with mmpretrain's ImageClassifier. Run it with tools/misc/pretrain_backbone.py,
# which writes the data and publishes the checkpoint (docs/transfer.md, "The small pretrained backbones"). The
# backbone is what the downstream configs (demo, transfer study) load.
_base_ = ['mmpretrain::_base_/default_runtime.py', '../_base_/datasets/generated_shapes_cls.py']

data_root = 'data/upstream_shapes/'
num_classes = 48
image_size = 64
# embed 24 keeps the fp32 checkpoint under 10 MB; window 4 divides the 128 px maps of the downstream tasks
# (32/16/8/4) and, with pad_small_map, also the 2x2 last stage at 64 px.
backbone_arch = dict(embed_dims=24, depths=[2, 2, 6, 2], num_heads=[1, 2, 4, 8])
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='SwinTransformer',
        arch=backbone_arch,
        img_size=image_size,
        window_size=4,
        pad_small_map=True,
        drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=192,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
              dict(type='Constant', layer='LayerNorm', val=1., bias=0.)])

data_preprocessor = dict(num_classes=num_classes)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=image_size, crop_ratio_range=(0.6, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = test_dataloader = dict(batch_size=128, dataset=dict(data_root=data_root))
val_evaluator = test_evaluator = dict(topk=(1, 5))

max_iters = 3000
warmup_iters = 200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
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
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, deterministic=False)
