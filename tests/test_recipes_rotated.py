"""The oriented-detection configs (Oriented R-CNN le90, Swin-B, DOTA-v1.0 and STAR) follow STAR-MMRotate's recipes.

Each pin: a config, a setting as mmengine resolves it, the reference value and the file it was read from (github
VisionXLab/STAR-MMRotate, commit 465c63f4c4ab3660968c938ede46990645560933, mmrotate 0.3.x: its keys translated to
mmengine's, e.g. optimizer_config.grad_clip -> optim_wrapper.clip_grad, lr_config -> param_scheduler,
evaluation.interval -> train_cfg.val_interval, samples_per_gpu -> train_dataloader.batch_size).
"""
import pytest

from recipes import Pin, check_pin, configs_matching

METHODS = ('full', 'fixed', 'mona', 'adapter', 'adaptformer', 'lora', 'lorand', 'bitfit', 'lntune', 'partial1', 'e3va',
           'colin')
DOTA = [f'{m}/oriented-rcnn-le90_swin-b-{m}_fpn_1x_dota.py' for m in METHODS]
STAR = [f'{m}/oriented-rcnn-le90_swin-b-{m}_fpn_1x_star.py' for m in METHODS]

NO_DECAY = {'absolute_pos_embed': {'decay_mult': 0.0}, 'relative_position_bias_table': {'decay_mult': 0.0},
            'norm': {'decay_mult': 0.0}}

PINS = []
for config in DOTA + STAR:
    PINS += [
        # optimizer: the Oriented R-CNN PEFT configs (every method the same), no fp16 anywhere
        Pin(config, 'optim_wrapper.type', 'OptimWrapper',
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(no fp16)'),
        Pin(config, 'optim_wrapper.optimizer.type', 'AdamW',
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'optim_wrapper.optimizer.lr', 1e-4,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'optim_wrapper.optimizer.betas', [0.9, 0.999],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'optim_wrapper.optimizer.weight_decay', 0.05,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'optim_wrapper.paramwise_cfg.custom_keys', NO_DECAY,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'optim_wrapper.clip_grad', {'max_norm': 35, 'norm_type': 2},
            'VisionXLab/STAR-MMRotate:configs/_base_/schedules/schedule_1x.py (optimizer_config.grad_clip)'),
        # schedule: schedule_1x
        Pin(config, 'param_scheduler[LinearLR].start_factor', 1.0 / 3,
            'VisionXLab/STAR-MMRotate:configs/_base_/schedules/schedule_1x.py (lr_config.warmup_ratio)'),
        Pin(config, 'param_scheduler[LinearLR].end', 500,
            'VisionXLab/STAR-MMRotate:configs/_base_/schedules/schedule_1x.py (lr_config.warmup_iters)'),
        Pin(config, 'param_scheduler[LinearLR].by_epoch', False,
            'VisionXLab/STAR-MMRotate:configs/_base_/schedules/schedule_1x.py (warm-up counted in iterations)'),
        Pin(config, 'param_scheduler[MultiStepLR].milestones', [8, 11],
            'VisionXLab/STAR-MMRotate:configs/_base_/schedules/schedule_1x.py (lr_config.step)'),
        Pin(config, 'param_scheduler[MultiStepLR].gamma', 0.1,
            'VisionXLab/STAR-MMRotate:configs/_base_/schedules/schedule_1x.py (policy step, gamma 0.1)'),
        Pin(config, 'train_cfg.max_epochs', 12,
            'VisionXLab/STAR-MMRotate:configs/_base_/schedules/schedule_1x.py (runner.max_epochs)'),
        Pin(config, 'train_cfg.val_interval', 6,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(evaluation.interval)'),
        Pin(config, 'default_hooks.checkpoint.max_keep_ckpts', 1,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(checkpoint_config)'),
        Pin(config, 'default_hooks.checkpoint.interval', 1,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(checkpoint_config)'),
        Pin(config, 'train_dataloader.batch_size', 2,
            'VisionXLab/STAR-MMRotate:configs/_base_/datasets/star.py (data.samples_per_gpu; dotav1.py the same)'),
        # backbone: mmdet's Swin-B as the _init configs build it
        Pin(config, 'model.backbone.backbone.drop_path_rate', 0.2,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.backbone.backbone.out_indices', [0, 1, 2, 3],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.backbone.backbone.embed_dims', 128,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.backbone.backbone.depths', [2, 2, 18, 2],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.backbone.backbone.num_heads', [4, 8, 16, 32],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.backbone.backbone.window_size', 7,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.neck.in_channels', [128, 256, 512, 1024],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.neck.num_outs', 5,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        # angle version and heads
        Pin(config, 'model.rpn_head.bbox_coder.angle_version', 'le90',
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(angle_version)'),
        Pin(config, 'model.roi_head.bbox_head.bbox_coder.angle_version', 'le90',
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(angle_version)'),
        Pin(config, 'model.rpn_head.anchor_generator.strides', [4, 8, 16, 32, 64],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.test_cfg.rpn.nms.iou_threshold', 0.8,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.test_cfg.rpn.max_per_img', 2000,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.test_cfg.rcnn.nms.iou_threshold', 0.1,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.test_cfg.rcnn.score_thr', 0.05,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.test_cfg.rcnn.max_per_img', 2000,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'model.data_preprocessor.mean', [123.675, 116.28, 103.53],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(img_norm_cfg)'),
        Pin(config, 'model.data_preprocessor.std', [58.395, 57.12, 57.375],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(img_norm_cfg)'),
        # training pipeline: RResize 1024 (ratio kept), RRandomFlip 0.25 x horizontal/vertical/diagonal
        Pin(config, 'train_dataloader.dataset.pipeline[Resize].scale', [1024, 1024],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(train_pipeline RResize img_scale)'),
        Pin(config, 'train_dataloader.dataset.pipeline[Resize].keep_ratio', True,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(RResize keeps the ratio by default)'),
        Pin(config, 'train_dataloader.dataset.pipeline[RandomFlip].prob', 0.75,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py '
            '(flip_ratio [0.25, 0.25, 0.25])'),
        Pin(config, 'train_dataloader.dataset.pipeline[RandomFlip].direction', ['horizontal', 'vertical', 'diagonal'],
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
    ]

# STAR-MMRotate's Adapter comes after the branch's drop path (mmdet's Swin applies it inside attn and ffn)
for config in ('adapter/oriented-rcnn-le90_swin-b-adapter_fpn_1x_dota.py',
               'adapter/oriented-rcnn-le90_swin-b-adapter_fpn_1x_star.py'):
    PINS.append(Pin(config, 'model.backbone.method.placement', 'after_drop_path',
                    'VisionXLab/STAR-MMRotate:mmrotate/models/backbones/swin_adapter.py (SwinBlock.forward)'))

for config in DOTA:
    PINS += [
        Pin(config, 'model.roi_head.bbox_head.num_classes', 15,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_r50_fpn_1x_dota_le90.py'),
        Pin(config, 'train_dataloader.dataset.ann_file', 'trainval/annfiles/',
            'VisionXLab/STAR-MMRotate:configs/h2rbox_v2p/peft/h2rbox_v2p_swin-b_mona_fpn_1x_dota_le90.py (data.train)'),
        Pin(config, 'val_dataloader.dataset.ann_file', 'trainval/annfiles/',
            'VisionXLab/STAR-MMRotate:configs/h2rbox_v2p/peft/h2rbox_v2p_swin-b_mona_fpn_1x_dota_le90.py (data.val)'),
        # the test split: the test images, no annotations, merged into the Task1 submission files
        Pin(config, 'test_dataloader.dataset.ann_file', '',
            'VisionXLab/STAR-MMRotate:configs/h2rbox_v2p/peft/h2rbox_v2p_swin-b_mona_fpn_1x_dota_le90.py (data.test)'),
        Pin(config, 'test_dataloader.dataset.data_prefix.img_path', 'test/images/',
            'VisionXLab/STAR-MMRotate:configs/h2rbox_v2p/peft/h2rbox_v2p_swin-b_mona_fpn_1x_dota_le90.py (data.test)'),
        Pin(config, 'test_evaluator.format_only', True,
            'VisionXLab/STAR-MMRotate:mmrotate/datasets/dota.py (format_results: the server scores the test set)'),
        Pin(config, 'test_evaluator.merge_patches', True,
            'VisionXLab/STAR-MMRotate:mmrotate/datasets/dota.py (format_results -> merge_det)'),
        Pin(config, 'test_evaluator.iou_thr', 0.1,
            'VisionXLab/STAR-MMRotate:mmrotate/datasets/dota.py (merge_det: _merge_func iou_thr=0.1)'),
    ]

for config in STAR:
    PINS += [
        Pin(config, 'model.roi_head.bbox_head.num_classes', 48,
            'VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py'),
        Pin(config, 'train_dataloader.dataset.ann_file', 'train/annfiles/',
            'VisionXLab/STAR-MMRotate:configs/_base_/datasets/star.py (data.train)'),
        Pin(config, 'val_dataloader.dataset.ann_file', 'test/annfiles/',
            'VisionXLab/STAR-MMRotate:configs/_base_/datasets/star.py (data.val)'),
        Pin(config, 'test_dataloader.dataset.ann_file', 'test/annfiles/',
            'VisionXLab/STAR-MMRotate:configs/_base_/datasets/star.py (data.test)'),
        # whole test images: patch detections merged per class by rotated NMS at IoU 0.4, then the mAP at IoU 0.5
        # against the whole-image annotations
        Pin(config, 'test_evaluator.1.type', 'mmpetl.MergedDOTAMetric',
            'VisionXLab/STAR-MMRotate:mmrotate/models/detectors/two_stage_crop.py (OrientedRCNNCrop.simple_test)'),
        Pin(config, 'test_evaluator.1.merge_iou_thr', 0.4,
            'VisionXLab/STAR-MMRotate:mmrotate/models/detectors/two_stage_crop.py (merge_results_two_stage iou_thr)'),
        Pin(config, 'test_evaluator.1.iou_thrs', 0.5,
            'VisionXLab/STAR-MMRotate:mmrotate/datasets/star.py (STARDataset.evaluate iou_thr)'),
    ]


@pytest.mark.parametrize('pin', PINS, ids=Pin.id)
def test_follows_the_reference(pin):
    check_pin(pin)


def test_every_oriented_rcnn_config_is_pinned():
    assert configs_matching('*/oriented-rcnn-le90_swin-b-*_fpn_1x_*.py') == set(DOTA + STAR)
