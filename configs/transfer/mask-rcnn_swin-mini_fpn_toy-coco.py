# The toy-COCO transfer task of the transfer study: cascade-mask-rcnn_swin-mini_fpn_toy-coco.py (same backbone, data,
# schedule, optimizer and learning rate) with mmdet's Mask R-CNN heads (shared 2fc box head, FCN mask head, one stage,
# narrowed to 64 channels) instead of the three 4conv1fc stages: on 2 CPU cores the Cascade heads cost most of a
# step, and the study runs one detector per method. The demo keeps Cascade Mask R-CNN.
_base_ = './cascade-mask-rcnn_swin-mini_fpn_toy-coco.py'

model = dict(
    type='MaskRCNN',
    roi_head=dict(
        _delete_=True,
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor', roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels={{_base_.width}}, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels={{_base_.width}},
            fc_out_channels=256,
            roi_feat_size=7,
            num_classes={{_base_.num_classes}},
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.], target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor', roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels={{_base_.width}}, featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=4,
            in_channels={{_base_.width}},
            conv_out_channels={{_base_.width}},
            num_classes={{_base_.num_classes}},
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(
        rcnn=dict(
            _delete_=True,
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                          match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=128, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
            mask_size=28,
            pos_weight=-1,
            debug=False)))

# a shorter schedule than the Cascade config's (the study trains 13 detectors per seed)
# (the base's warm-up and cosine, shortened: warm-up over 10 iterations)
max_iters = 80
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(_base_.param_scheduler[0], end=10), dict(_base_.param_scheduler[1], begin=10, end=max_iters)]
default_hooks = dict(checkpoint=dict(interval=max_iters))
