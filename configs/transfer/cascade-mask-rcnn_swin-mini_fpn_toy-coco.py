# Transfer of the shipped small Swin (checkpoints/swin-mini_scenes-128px.pth, pretrained on the dense upstream
# scenes) to instance segmentation on toy COCO (rectangles, ellipses, triangles on dark noise, 128 px;
# `python tools/misc/make_toy_data.py coco ...`), with the project's COCO recipe at toy scale: Cascade Mask R-CNN with
# 4conv1fc GIoU heads (narrowed to 64 channels, 128 RoIs per image), mmdet's CocoMetric (bbox, segm). It inherits the
# real COCO config and changes only sizes, data, schedule and learning rate. The demo (configs/demo/) is this config
# with Mona; the transfer study's Mask R-CNN config (mask-rcnn_swin-mini_fpn_toy-coco.py) inherits it.
_base_ = '../_base_/cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py'

data_root = 'data/transfer/toy_coco/'
metainfo = dict(classes=('rectangle', 'ellipse', 'triangle'))
num_classes = 3
width = 64  # FPN and head width
image_size = 128
pretrained = 'checkpoints/swin-mini_scenes-128px.pth'  # the mmpretrain release: mmdet's Swin keeps its backbone.* keys

_bbox_heads = [
    dict(
        type='ConvFCBBoxHead',
        num_shared_convs=4,
        num_shared_fcs=1,
        in_channels=width,
        conv_out_channels=width,
        fc_out_channels=256,
        roi_feat_size=7,
        num_classes=num_classes,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.], target_stds=stds),
        reg_class_agnostic=False,
        reg_decoded_bbox=True,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=10.0))
    for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067])
]
model = dict(
    # the normalisation of the pretraining
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0]),
    backbone=dict(
        backbone=dict(
            embed_dims=24,
            depths=[2, 2, 6, 2],
            num_heads=[1, 2, 4, 8],
            window_size=4,
            drop_path_rate=0.1,
            convert_weights=False,  # the file has the upstream keys, not the official Swin ones
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        method=dict(type='Fixed')),
    neck=dict(in_channels=[24, 48, 96, 192], out_channels=width),
    rpn_head=dict(in_channels=width, feat_channels=width),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=width),
        bbox_head=_bbox_heads,
        mask_roi_extractor=dict(out_channels=width),
        mask_head=dict(in_channels=width, conv_out_channels=width, num_classes=num_classes)),
    # a toy image holds at most three objects: 128 sampled RoIs per image and stage instead of 512 (4x cheaper heads)
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=300),
        rcnn=[dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=iou, neg_iou_thr=iou, min_pos_iou=iou,
                                 match_low_quality=False, ignore_iof_thr=-1),
                   sampler=dict(type='RandomSampler', num=128, pos_fraction=0.25, neg_pos_ub=-1,
                                add_gt_as_proposals=True),
                   mask_size=28, pos_weight=-1, debug=False) for iou in (0.5, 0.6, 0.7)]),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=300), rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_iters = 150
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=20, end=max_iters),
]
# float32 with a plain OptimWrapper: a toy run at CPU scale (the tests build it with Runner.from_cfg), not the COCO
# recipe's mixed precision
optim_wrapper = dict(_delete_=True, type='OptimWrapper', constructor=_base_.optim_wrapper.constructor,
                     optimizer=dict(_base_.optim_wrapper.optimizer, lr=5e-4),
                     paramwise_cfg=_base_.optim_wrapper.paramwise_cfg, clip_grad=dict(max_norm=10.0))
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
