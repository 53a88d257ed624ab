# Transfer of the shipped small Swin (checkpoints/swin-mini_scenes-128px_mmseg.pth) to semantic segmentation on toy
# ADE20K (the toy shapes as ADE20K's first three classes, 128 px; `python tools/misc/make_toy_data.py ade20k ...`),
# with the project's ADE20K recipe at toy scale: UperNet (narrowed), mmseg's IoUMetric. It inherits the real ADE20K
# config and changes only sizes, data, schedule and learning rate; the transfer study changes model.backbone.method.
_base_ = '../_base_/upernet_swin-l_8xb2-160k_ade20k-512x512.py'

data_root = 'data/transfer/toy_ade20k/'
image_size = (128, 128)
pretrained = 'checkpoints/swin-mini_scenes-128px_mmseg.pth'
channels = [24, 48, 96, 192]
# ADE20KDataset accepts a subset of its classes: the toy labels 1..3 are ADE20K's first three classes
metainfo = dict(classes=('wall', 'building', 'sky'), palette=[(220, 20, 60), (0, 128, 0), (0, 0, 142)])
model = dict(
    # the normalisation of the pretraining
    data_preprocessor=dict(size=image_size, mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0]),
    backbone=dict(
        backbone=dict(
            pretrain_img_size=128,
            embed_dims=24,
            depths=[2, 2, 6, 2],
            num_heads=[1, 2, 4, 8],
            window_size=4,
            drop_path_rate=0.1,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        method=dict(type='Fixed')),
    decode_head=dict(in_channels=channels, channels=64, num_classes=3),
    auxiliary_head=dict(in_channels=channels[2], channels=32, num_classes=3))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 100
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=10, end=max_iters),
]
# one learning rate for every method (the study compares methods under one recipe)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(
    logger=dict(interval=25, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
