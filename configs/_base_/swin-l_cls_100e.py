# Image classification with a Swin-L (ImageNet-22K) in mmpretrain, the Mona reference recipe: 224x224, AdamW
# lr 5e-4 * 32 / 512 (batch 2 x 16), wd 0.05, gradient clipping at 5, cosine schedule after a 20-epoch linear warm-up,
# 100 epochs. The dataset files beside this one set the dataset, the classes and the head.
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/large_224.py',
    'mmpretrain::_base_/default_runtime.py',
    './petl_runtime.py',
    './schedules/cls_100e.py',
]

# The official Microsoft checkpoint converted to mmpretrain's keys by
# `python tools/model_converters/official_to_mmpetl.py swin <.pth> pretrain/swin-large-22k_mmpretrain.pth --target mmpretrain`
pretrained = 'pretrain/swin-large-22k_mmpretrain.pth'
# the upstream config's own Swin-L (arch 'large', 224), scoped to mmpretrain and wrapped
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.model.backbone, type='mmpretrain.SwinTransformer', drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    head=dict(in_channels=1536))

data_preprocessor = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    dataset=dict(pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    dataset=dict(pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmpetl.PETLOptimWrapperConstructor',  # frozen parameters left out, in one log line
    optimizer=dict(type='AdamW', lr=5e-4 * 32 / 512, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.absolute_pos_embed': dict(decay_mult=0.0),
            '.relative_position_bias_table': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=20, end=_base_.max_epochs),
]
auto_scale_lr = dict(base_batch_size=32)
