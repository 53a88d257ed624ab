"""The COCO (Cascade Mask R-CNN, Swin-B and Swin-L) and VOC0712 (RetinaNet, Swin-L) configs against the reference
recipes of Leiyi-Hu/mona, ``Swin-Transformer-Object-Detection/mona_configs/`` (mmdet 2.x schema; the values below are
their mmengine 2.x translations, each with the file it was read from), and CoLin's against its own reference recipes,
DongshuoYin/CoLin ``MMDetection/peft_config/`` (mmdet 2.28).

The reference has one file per method, identical but for the backbone type; LoRand and E3VA, which it lacks, follow its
method-neutral ``_full`` file, and Swin-L on COCO (which it lacks too) follows its Swin-B recipe. The VOC files'
``frozen_stages=1`` (the patch embedding frozen in the Swin repository) is mmpetl's ``frozen_modules=['patch_embed']``.
"""
import pytest

from recipes import Pin, check_pin, configs_matching

REPO = 'Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/'
# our method directory -> the suffix of the reference file of that method (None: the reference has no such method).
# CoLin is not here: it has its own reference recipes (2 images per GPU), pinned below by colin_coco_pins and
# colin_voc_pins.
METHODS = {'adapter': 'adapter', 'adaptformer': 'adaptformer', 'bitfit': 'bitfit', 'e3va': None, 'fixed': 'fixed',
           'full': 'full', 'lntune': 'LN', 'lora': 'lora', 'lorand': None, 'mona': 'mona', 'partial1': 'partial_1'}

# Written once because the table repeats them per config; both are literal copies of the reference's values.
PARAMWISE_KEYS = {'absolute_pos_embed': {'decay_mult': 0.0}, 'relative_position_bias_table': {'decay_mult': 0.0},
                  'norm': {'decay_mult': 0.0}}
COCO_SCALES = [[480, 1333], [512, 1333], [544, 1333], [576, 1333], [608, 1333], [640, 1333], [672, 1333],
               [704, 1333], [736, 1333], [768, 1333], [800, 1333]]
# AutoAugment's two policies (mmdet 2.x: Resize multiscale_mode='value' = RandomChoiceResize; the last resize of the
# crop policy has override=True, which a 2.x RandomChoiceResize after a crop does by construction)
COCO_AUGMENT = [
    [dict(type='RandomChoiceResize', scales=COCO_SCALES, keep_ratio=True)],
    [dict(type='RandomChoiceResize', scales=[[400, 1333], [500, 1333], [600, 1333]], keep_ratio=True),
     dict(type='RandomCrop', crop_type='absolute_range', crop_size=[384, 600], allow_negative_crop=True),
     dict(type='RandomChoiceResize', scales=COCO_SCALES, keep_ratio=True)],
]
SYNC_BN = {'type': 'SyncBN', 'requires_grad': True}


def coco_pins(config, ref, swin_l):
    model = REPO + '_base_/models/cascade_mask_rcnn_swin_fpn.py'
    data = REPO + '_base_/datasets/coco_instance_sample_1.py'
    schedule = REPO + '_base_/schedules/schedule_1x.py'
    runtime = REPO + '_base_/default_runtime.py'
    size_ref = REPO + 'swin-l_voc/voc_retinanet_swin_large_1x_full.py: Swin-L sizes' if swin_l else ref
    pins = [
        Pin(config, 'optim_wrapper.type', 'AmpOptimWrapper', ref + ': optimizer_config use_fp16=True (apex O1)'),
        Pin(config, 'optim_wrapper.loss_scale', 'dynamic', ref + ': apex O1, dynamic loss scale'),
        Pin(config, 'optim_wrapper.clip_grad', None, ref + ': optimizer_config grad_clip=None'),
        Pin(config, 'optim_wrapper.optimizer.type', 'AdamW', ref),
        Pin(config, 'optim_wrapper.optimizer.lr', 1e-4, ref),
        Pin(config, 'optim_wrapper.optimizer.betas', [0.9, 0.999], ref),
        Pin(config, 'optim_wrapper.optimizer.weight_decay', 0.05, ref),
        Pin(config, 'optim_wrapper.paramwise_cfg.custom_keys', PARAMWISE_KEYS, ref),
        Pin(config, 'param_scheduler.0', dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
            schedule + ": warmup='linear', warmup_iters=500, warmup_ratio=0.001"),
        Pin(config, 'param_scheduler.1', dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33],
                                              gamma=0.1), ref + ': lr_config step=[27, 33]'),
        Pin(config, 'train_cfg.max_epochs', 36, ref + ': runner max_epochs=36'),
        Pin(config, 'train_cfg.val_interval', 1, data + ': evaluation (EvalHook interval 1)'),
        Pin(config, 'train_dataloader.batch_size', 1, data + ': samples_per_gpu=1'),
        Pin(config, 'train_dataloader.num_workers', 2, data + ': workers_per_gpu=2'),
        Pin(config, 'auto_scale_lr.base_batch_size', 16, ref + ': bs_16, 16 GPUs x 1'),
        Pin(config, 'train_dataloader.dataset.pipeline[RandomFlip].prob', 0.5, ref + ': train_pipeline'),
        Pin(config, 'train_dataloader.dataset.pipeline[RandomChoice].transforms', COCO_AUGMENT,
            ref + ': train_pipeline AutoAugment'),
        Pin(config, 'test_dataloader.dataset.pipeline[Resize].scale', [1333, 800], data + ': test_pipeline'),
        Pin(config, 'test_dataloader.dataset.pipeline[Resize].keep_ratio', True, data + ': test_pipeline'),
        Pin(config, 'model.data_preprocessor.pad_size_divisor', 32, ref + ': Pad size_divisor=32'),
        Pin(config, 'model.data_preprocessor.mean', [123.675, 116.28, 103.53], ref + ': img_norm_cfg'),
        Pin(config, 'model.data_preprocessor.std', [58.395, 57.12, 57.375], ref + ': img_norm_cfg'),
        Pin(config, 'model.data_preprocessor.bgr_to_rgb', True, ref + ': img_norm_cfg to_rgb=True'),
        Pin(config, 'val_evaluator.metric', ['bbox', 'segm'], data + ': evaluation metric'),
        Pin(config, 'default_hooks.checkpoint.interval', 1, runtime + ': checkpoint_config'),
        Pin(config, 'default_hooks.logger.interval', 50, runtime + ': log_config'),
        Pin(config, 'model.backbone.backbone.drop_path_rate', 0.3, ref),
        Pin(config, 'model.backbone.backbone.out_indices', [0, 1, 2, 3], model),
        Pin(config, 'model.backbone.backbone.window_size', 7, ref),
        Pin(config, 'model.backbone.backbone.patch_norm', True, ref),
        Pin(config, 'model.backbone.backbone.qkv_bias', True, model),
        Pin(config, 'model.backbone.backbone.embed_dims', 192 if swin_l else 128, size_ref),
        Pin(config, 'model.backbone.backbone.depths', [2, 2, 18, 2], size_ref),
        Pin(config, 'model.backbone.backbone.num_heads', [6, 12, 24, 48] if swin_l else [4, 8, 16, 32], size_ref),
        Pin(config, 'model.neck.in_channels', [192, 384, 768, 1536] if swin_l else [128, 256, 512, 1024], size_ref),
        Pin(config, 'model.neck.out_channels', 256, model),
        Pin(config, 'model.neck.num_outs', 5, model),
    ]
    for stage, stds in enumerate(([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067])):
        head = f'model.roi_head.bbox_head.{stage}'
        pins += [
            Pin(config, f'{head}.type', 'ConvFCBBoxHead', ref + f': bbox_head[{stage}]'),
            Pin(config, f'{head}.num_shared_convs', 4, ref + f': bbox_head[{stage}]'),
            Pin(config, f'{head}.num_shared_fcs', 1, ref + f': bbox_head[{stage}]'),
            Pin(config, f'{head}.norm_cfg', SYNC_BN, ref + f': bbox_head[{stage}] norm_cfg'),
            Pin(config, f'{head}.reg_decoded_bbox', True, ref + f': bbox_head[{stage}]'),
            Pin(config, f'{head}.loss_bbox', dict(type='GIoULoss', loss_weight=10.0), ref + f': bbox_head[{stage}]'),
            Pin(config, f'{head}.bbox_coder.target_stds', stds, ref + f': bbox_head[{stage}]'),
        ]
    return pins


def voc_pins(config, ref):
    data = REPO + '_base_/datasets/voc0712.py'
    runtime = REPO + '_base_/default_runtime.py'
    log = 'Leiyi-Hu/mona:Swin-Transformer-Object-Detection/log/voc/mona.txt'
    return [
        Pin(config, 'optim_wrapper.type', 'AmpOptimWrapper', ref + ': optimizer_config use_fp16=True (apex O1)'),
        Pin(config, 'optim_wrapper.loss_scale', 'dynamic', ref + ': apex O1, dynamic loss scale'),
        Pin(config, 'optim_wrapper.clip_grad', None, ref + ': optimizer_config grad_clip=None'),
        # frozen_stages=1 in the Swin repository's backbone: the patch embedding frozen
        Pin(config, 'model.backbone.frozen_modules', ['patch_embed'], ref + ': backbone frozen_stages=1'),
        Pin(config, 'optim_wrapper.optimizer.type', 'AdamW', ref),
        Pin(config, 'optim_wrapper.optimizer.lr', 1e-4, ref),
        Pin(config, 'optim_wrapper.optimizer.betas', [0.9, 0.999], ref),
        Pin(config, 'optim_wrapper.optimizer.weight_decay', 0.05, ref),
        Pin(config, 'optim_wrapper.paramwise_cfg.custom_keys', PARAMWISE_KEYS, ref),
        # the whole list: one step at epoch 3 and no warm-up (the reference has no schedule base)
        Pin(config, 'param_scheduler', [dict(type='MultiStepLR', begin=0, end=4, by_epoch=True, milestones=[3],
                                             gamma=0.1)], ref + ": lr_config policy='step', step=[3]"),
        Pin(config, 'train_cfg.max_epochs', 4, ref + ': runner max_epochs=4'),
        Pin(config, 'train_cfg.val_interval', 1, data + ': evaluation interval=1'),
        Pin(config, 'train_dataloader.batch_size', 1, data + ': samples_per_gpu=1'),
        Pin(config, 'train_dataloader.num_workers', 2, data + ': workers_per_gpu=2'),
        Pin(config, 'auto_scale_lr.base_batch_size', 2, log + ': gpu_ids = range(0, 2), 2 GPUs x 1'),
        Pin(config, 'train_dataloader.dataset.type', 'RepeatDataset', data),
        Pin(config, 'train_dataloader.dataset.times', 3, data),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.0.ann_file', 'VOC2007/ImageSets/Main/trainval.txt',
            data),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.1.ann_file', 'VOC2012/ImageSets/Main/trainval.txt',
            data),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.0.pipeline[Resize].scale', [1000, 600],
            data + ': train_pipeline'),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.0.pipeline[Resize].keep_ratio', True,
            data + ': train_pipeline'),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.0.pipeline[RandomFlip].prob', 0.5,
            data + ': train_pipeline'),
        Pin(config, 'test_dataloader.dataset.ann_file', 'VOC2007/ImageSets/Main/test.txt', data),
        Pin(config, 'test_dataloader.dataset.pipeline[Resize].scale', [1000, 600], data + ': test_pipeline'),
        Pin(config, 'model.data_preprocessor.pad_size_divisor', 32, data + ': Pad size_divisor=32'),
        Pin(config, 'model.data_preprocessor.mean', [123.675, 116.28, 103.53], data + ': img_norm_cfg'),
        Pin(config, 'model.data_preprocessor.std', [58.395, 57.12, 57.375], data + ': img_norm_cfg'),
        Pin(config, 'val_evaluator.metric', 'mAP', data + ': evaluation metric'),
        # mmdet 2.x evaluates a VOC2007 test set with the 11-point AP (VOCDataset year 2007 -> eval_map 'voc07')
        Pin(config, 'val_evaluator.eval_mode', '11points', data + ': VOC2007 test'),
        Pin(config, 'default_hooks.checkpoint.interval', 1, runtime + ': checkpoint_config'),
        Pin(config, 'model.backbone.backbone.drop_path_rate', 0.2, ref),
        Pin(config, 'model.backbone.backbone.out_indices', [1, 2, 3], ref),
        Pin(config, 'model.backbone.backbone.embed_dims', 192, ref),
        Pin(config, 'model.backbone.backbone.depths', [2, 2, 18, 2], ref),
        Pin(config, 'model.backbone.backbone.num_heads', [6, 12, 24, 48], ref),
        Pin(config, 'model.backbone.backbone.window_size', 7, ref),
        Pin(config, 'model.backbone.backbone.mlp_ratio', 4, ref),
        Pin(config, 'model.backbone.backbone.qkv_bias', True, ref),
        Pin(config, 'model.backbone.backbone.patch_norm', True, ref),
        Pin(config, 'model.neck.in_channels', [384, 768, 1536], ref),
        Pin(config, 'model.neck.out_channels', 256, ref),
        Pin(config, 'model.neck.start_level', 0, ref),
        Pin(config, 'model.neck.add_extra_convs', 'on_input', ref),
        Pin(config, 'model.neck.num_outs', 5, ref),
        Pin(config, 'model.bbox_head.num_classes', 20, ref),
        Pin(config, 'model.bbox_head.stacked_convs', 4, ref),
        Pin(config, 'model.bbox_head.loss_cls', dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                                                     loss_weight=1.0), ref),
        Pin(config, 'model.bbox_head.loss_bbox', dict(type='L1Loss', loss_weight=1.0), ref),
        Pin(config, 'model.test_cfg.score_thr', 0.05, ref),
        Pin(config, 'model.test_cfg.nms', dict(type='nms', iou_threshold=0.5), ref),
    ]


PINS = []
for method, suffix in METHODS.items():
    coco_ref = REPO + 'swin-b_coco/cascade_mask_swin_base_3x_coco_sample_1_bs_16_' + (suffix or 'full') + '.py'
    voc_ref = REPO + 'swin-l_voc/voc_retinanet_swin_large_1x_' + (suffix or 'full') + '.py'
    PINS += coco_pins(f'{method}/cascade-mask-rcnn_swin-b-{method}_fpn_16xb1-3x_coco.py', coco_ref, swin_l=False)
    PINS += coco_pins(f'{method}/cascade-mask-rcnn_swin-l-{method}_fpn_16xb1-3x_coco.py', coco_ref, swin_l=True)
    PINS += voc_pins(f'{method}/retinanet_swin-l-{method}_fpn_2xb1-4e_voc0712.py', voc_ref)

# LoRA: the COCO reference names `SwinTransformer_lora_64`, which its repository does not register; the registered
# `SwinTransformer_lora` (used by the VOC file) puts rank 64 on q and v
LORA = 'Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mmdet/models/backbones/swin_transformer_lora.py: ' \
       'MergedLinear(r=64, enable_lora=[True, False, True])'
PINS += [Pin(f'lora/{name}', 'model.backbone.method.rank', 64, LORA) for name in (
    'cascade-mask-rcnn_swin-b-lora_fpn_16xb1-3x_coco.py', 'cascade-mask-rcnn_swin-l-lora_fpn_16xb1-3x_coco.py',
    'retinanet_swin-l-lora_fpn_2xb1-4e_voc0712.py')]


# CoLin: its own reference, DongshuoYin/CoLin (mmdet 2.28), whose two configs name the unregistered `SwinCoLin`
# (the registered backbone is `SwinColin`). The GPU counts are not stated: COCO 8 x 2 (default_runtime.py's
# auto_scale_lr, 8 GPUs x 2), VOC 2 x 2 (the Mona VOC recipe's 2 GPUs) are the configs' assumptions.
COLIN = 'DongshuoYin/CoLin:MMDetection/'
COLIN_COCO = COLIN + 'peft_config/config/cascade_mask_rcnn_colin_train_only-b-p4-w7_official_3x_coco.py'
COLIN_VOC = COLIN + 'peft_config/config/retinanet_swin-l-p4-w7_fpn_1x_voc_colin_train_only.py'
COLIN_SWIN = COLIN + 'mmdet/models/backbones/swin_colin.py'
COLIN_TRAIN = COLIN + 'mmdet/apis/train.py'
COLIN_RUNTIME = COLIN + 'peft_config/_base_/default_runtime.py'
# the constants of swin_colin.py (INNER_DIM, KERNEL_DIM, NUM_BRANCH, KERNEL_SIZE, LOSS_WEIGHT), which its configs use
COLIN_OPTIONS = {'inner_dim': (100, 'INNER_DIM = 100, line 26'), 'rank': (28, 'KERNEL_DIM = 28, line 28'),
                 'branches': (4, 'NUM_BRANCH = 4, line 27'), 'kernel_size': (3, 'KERNEL_SIZE = 3, line 30'),
                 'loss_weight': (0.5, 'LOSS_WEIGHT = 0.5, line 29')}


def colin_method_pins(config, ref):
    pins = [Pin(config, f'model.backbone.method.{key}', value, f'{COLIN_SWIN} ({where})')
            for key, (value, where) in COLIN_OPTIONS.items()]
    pins += [
        Pin(config, 'model.backbone.method.type', 'CoLin', ref + ' (line 12: type="SwinCoLin", read as SwinColin)'),
        # the orthogonality loss computed, not trained: the Fp16OptimizerHook zeroes its gradients before any step
        Pin(config, 'model.backbone.method.orth_loss', 'reference',
            COLIN_TRAIN + ' (lines 181-189: fp16 -> Fp16OptimizerHook, which zero_grad()s after the forward)'),
    ]
    return pins


def colin_coco_pins(config, swin_l):
    ref = COLIN_COCO
    model = COLIN + 'peft_config/_base_/models/cascade_mask_rcnn_swin_fpn.py'
    data = COLIN + 'peft_config/_base_/datasets/coco_instance.py'
    schedule = COLIN + 'peft_config/_base_/schedules/swin_schedule_3x.py'
    size_ref = COLIN_VOC + ' (lines 13-15: Swin-L sizes)' if swin_l else ref + ' (lines 13-15)'
    pins = colin_method_pins(config, ref) + [
        Pin(config, 'optim_wrapper.type', 'AmpOptimWrapper',
            ref + ' (lines 190-194: fp16 = dict(), mmdet 2.28 Fp16OptimizerHook)'),
        Pin(config, 'optim_wrapper.loss_scale', 'dynamic', ref + ' (line 191: optimizer_config loss_scale)'),
        Pin(config, 'optim_wrapper.clip_grad', None, ref + ' (line 191: optimizer_config grad_clip=None)'),
        Pin(config, 'optim_wrapper.optimizer.type', 'AdamW', ref + ' (line 176)'),
        Pin(config, 'optim_wrapper.optimizer.lr', 1e-4, ref + ' (line 177)'),
        Pin(config, 'optim_wrapper.optimizer.betas', [0.9, 0.999], ref + ' (line 178)'),
        Pin(config, 'optim_wrapper.optimizer.weight_decay', 0.05, ref + ' (line 179)'),
        Pin(config, 'optim_wrapper.paramwise_cfg.custom_keys', PARAMWISE_KEYS, ref + ' (lines 182-186)'),
        Pin(config, 'param_scheduler.0', dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
            schedule + " (lines 5-10: warmup='linear', warmup_iters=500, warmup_ratio=0.001)"),
        Pin(config, 'param_scheduler.1', dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33],
                                              gamma=0.1), schedule + ' (lines 5-11: step=[27, 33], max_epochs=36)'),
        Pin(config, 'train_cfg.max_epochs', 36, schedule + ' (line 11: runner max_epochs=36)'),
        Pin(config, 'train_cfg.val_interval', 3, ref + ' (line 198: evaluation interval=3)'),
        Pin(config, 'train_dataloader.batch_size', 2, ref + ' (line 171: samples_per_gpu=2)'),
        Pin(config, 'train_dataloader.num_workers', 2, data + ' (line 38: workers_per_gpu=2)'),
        Pin(config, 'auto_scale_lr.base_batch_size', 16,
            COLIN_RUNTIME + ' (lines 23-27: base_batch_size=16, "(8 GPUs) x (2 samples per GPU)")'),
        Pin(config, 'train_dataloader.dataset.pipeline[RandomFlip].prob', 0.5, ref + ' (line 106)'),
        Pin(config, 'train_dataloader.dataset.pipeline[RandomChoice].transforms', COCO_AUGMENT,
            ref + ' (lines 107-164: AutoAugment)'),
        Pin(config, 'test_dataloader.dataset.pipeline[Resize].scale', [1333, 800], data + ' (lines 20-35)'),
        Pin(config, 'test_dataloader.dataset.pipeline[Resize].keep_ratio', True, data + ' (lines 20-35)'),
        Pin(config, 'model.data_preprocessor.pad_size_divisor', 32, ref + ' (line 166: Pad size_divisor=32)'),
        Pin(config, 'model.data_preprocessor.mean', [123.675, 116.28, 103.53], ref + ' (lines 98-100)'),
        Pin(config, 'model.data_preprocessor.std', [58.395, 57.12, 57.375], ref + ' (lines 98-100)'),
        Pin(config, 'model.data_preprocessor.bgr_to_rgb', True, ref + ' (lines 98-100: to_rgb=True)'),
        # the config evaluates bbox only (line 198); segm is kept since the paper reports mask AP too
        Pin(config, 'val_evaluator.metric', ['bbox', 'segm'],
            data + ' (line 58: metric=["bbox", "segm"]; the config\'s line 198 narrows it to bbox)'),
        Pin(config, 'default_hooks.checkpoint.interval', 1, ref + ' (line 197: checkpoint_config)'),
        Pin(config, 'default_hooks.logger.interval', 50, COLIN_RUNTIME + ' (lines 3-8: log_config)'),
        Pin(config, 'model.backbone.backbone.drop_path_rate', 0.3, ref + ' (line 18)'),
        Pin(config, 'model.backbone.backbone.out_indices', [0, 1, 2, 3], model + ' (line 16)'),
        Pin(config, 'model.backbone.backbone.window_size', 7, ref + ' (line 16)'),
        Pin(config, 'model.backbone.backbone.patch_norm', True, ref + ' (line 19)'),
        Pin(config, 'model.backbone.backbone.qkv_bias', True, model + ' (line 17)'),
        Pin(config, 'model.backbone.backbone.convert_weights', True, ref + ' (line 21)'),
        Pin(config, 'model.backbone.backbone.embed_dims', 192 if swin_l else 128, size_ref),
        Pin(config, 'model.backbone.backbone.depths', [2, 2, 18, 2], size_ref),
        Pin(config, 'model.backbone.backbone.num_heads', [6, 12, 24, 48] if swin_l else [4, 8, 16, 32], size_ref),
        Pin(config, 'model.neck.in_channels', [192, 384, 768, 1536] if swin_l else [128, 256, 512, 1024],
            size_ref if swin_l else ref + ' (line 24)'),
        Pin(config, 'model.neck.out_channels', 256, model + ' (line 33)'),
        Pin(config, 'model.neck.num_outs', 5, model + ' (line 34)'),
    ]
    for stage, (stds, lines) in enumerate((([0.1, 0.1, 0.2, 0.2], '27-48'), ([0.05, 0.05, 0.1, 0.1], '49-70'),
                                           ([0.033, 0.033, 0.067, 0.067], '71-92'))):
        head, where = f'model.roi_head.bbox_head.{stage}', ref + f' (lines {lines}: bbox_head[{stage}])'
        pins += [
            Pin(config, f'{head}.type', 'ConvFCBBoxHead', where),
            Pin(config, f'{head}.num_shared_convs', 4, where),
            Pin(config, f'{head}.num_shared_fcs', 1, where),
            Pin(config, f'{head}.norm_cfg', SYNC_BN, where),
            Pin(config, f'{head}.reg_decoded_bbox', True, where),
            Pin(config, f'{head}.loss_bbox', dict(type='GIoULoss', loss_weight=10.0), where),
            Pin(config, f'{head}.bbox_coder.target_stds', stds, where),
        ]
    return pins


def colin_voc_pins(config):
    ref = COLIN_VOC
    model = COLIN + 'peft_config/_base_/models/retinanet_r50_fpn.py'
    data = COLIN + 'peft_config/_base_/datasets/voc0712.py'
    return colin_method_pins(config, ref) + [
        Pin(config, 'optim_wrapper.type', 'AmpOptimWrapper',
            ref + ' (lines 69-77: fp16 = dict(), mmdet 2.28 Fp16OptimizerHook)'),
        Pin(config, 'optim_wrapper.loss_scale', 'dynamic', ref + ' (line 72: optimizer_config loss_scale)'),
        Pin(config, 'optim_wrapper.clip_grad', None, ref + ' (line 73: optimizer_config grad_clip=None)'),
        # no frozen_stages in the reference, but SwinColin freezes every parameter outside CoLin, the patch embedding's
        Pin(config, 'model.backbone.frozen_modules', ['patch_embed'],
            COLIN_SWIN + ' (lines 1099-1102: SwinColin.init_weights freezes every parameter whose name lacks colin)'),
        Pin(config, 'optim_wrapper.optimizer.type', 'AdamW', ref + ' (line 47)'),
        Pin(config, 'optim_wrapper.optimizer.lr', 1e-4, ref + ' (line 48)'),
        Pin(config, 'optim_wrapper.optimizer.betas', [0.9, 0.999], ref + ' (line 49)'),
        Pin(config, 'optim_wrapper.optimizer.weight_decay', 0.05, ref + ' (line 50)'),
        Pin(config, 'optim_wrapper.paramwise_cfg.custom_keys', PARAMWISE_KEYS, ref + ' (lines 54-58)'),
        # the whole list: one step at epoch 3 and no warm-up (the reference has no schedule base)
        Pin(config, 'param_scheduler', [dict(type='MultiStepLR', begin=0, end=4, by_epoch=True, milestones=[3],
                                             gamma=0.1)], ref + " (line 64: lr_config policy='step', step=[3])"),
        Pin(config, 'train_cfg.max_epochs', 4, ref + ' (lines 66-67: runner max_epochs=4)'),
        Pin(config, 'train_cfg.val_interval', 1, ref + ' (line 81: evaluation interval=1)'),
        Pin(config, 'train_dataloader.batch_size', 2, ref + ' (lines 40-42: samples_per_gpu=2)'),
        Pin(config, 'train_dataloader.num_workers', 2, data + ' (line 33: workers_per_gpu=2)'),
        Pin(config, 'auto_scale_lr.base_batch_size', 4,
            ref + ' (lines 40-42: 2 images per GPU, on 2 GPUs assumed: the GPU count is not stated)'),
        Pin(config, 'train_dataloader.dataset.type', 'RepeatDataset', data + ' (line 35)'),
        Pin(config, 'train_dataloader.dataset.times', 3, data + ' (line 36)'),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.0.ann_file', 'VOC2007/ImageSets/Main/trainval.txt',
            data + ' (line 40)'),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.1.ann_file', 'VOC2012/ImageSets/Main/trainval.txt',
            data + ' (line 41)'),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.0.pipeline[Resize].scale', [1000, 600],
            data + ' (line 9)'),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.0.pipeline[Resize].keep_ratio', True,
            data + ' (line 9)'),
        Pin(config, 'train_dataloader.dataset.dataset.datasets.0.pipeline[RandomFlip].prob', 0.5,
            data + ' (line 10)'),
        Pin(config, 'test_dataloader.dataset.ann_file', 'VOC2007/ImageSets/Main/test.txt', data + ' (line 47)'),
        Pin(config, 'test_dataloader.dataset.pipeline[Resize].scale', [1000, 600], data + ' (line 20)'),
        Pin(config, 'model.data_preprocessor.pad_size_divisor', 32, data + ' (line 12: Pad size_divisor=32)'),
        Pin(config, 'model.data_preprocessor.mean', [123.675, 116.28, 103.53], data + ' (lines 4-5)'),
        Pin(config, 'model.data_preprocessor.std', [58.395, 57.12, 57.375], data + ' (lines 4-5)'),
        Pin(config, 'val_evaluator.metric', 'mAP', ref + ' (line 81: evaluation metric="mAP")'),
        # mmdet 2.x evaluates a VOC2007 test set with the 11-point AP (VOCDataset year 2007 -> eval_map 'voc07')
        Pin(config, 'val_evaluator.eval_mode', '11points', data + ' (line 47: VOC2007 test)'),
        Pin(config, 'default_hooks.checkpoint.interval', 1, ref + ' (line 80: checkpoint_config)'),
        Pin(config, 'model.backbone.backbone.drop_path_rate', 0.2, ref + ' (line 22)'),
        Pin(config, 'model.backbone.backbone.out_indices', [1, 2, 3], ref + ' (line 24)'),
        Pin(config, 'model.backbone.backbone.embed_dims', 192, ref + ' (line 13)'),
        Pin(config, 'model.backbone.backbone.depths', [2, 2, 18, 2], ref + ' (line 14)'),
        Pin(config, 'model.backbone.backbone.num_heads', [6, 12, 24, 48], ref + ' (line 15)'),
        Pin(config, 'model.backbone.backbone.window_size', 7, ref + ' (line 16)'),
        Pin(config, 'model.backbone.backbone.mlp_ratio', 4, ref + ' (line 17)'),
        Pin(config, 'model.backbone.backbone.qkv_bias', True, ref + ' (line 18)'),
        Pin(config, 'model.backbone.backbone.patch_norm', True, ref + ' (line 23)'),
        Pin(config, 'model.backbone.backbone.convert_weights', True, ref + ' (line 28)'),
        Pin(config, 'model.neck.in_channels', [384, 768, 1536], ref + ' (line 31)'),
        Pin(config, 'model.neck.out_channels', 256, model + ' (line 17)'),
        Pin(config, 'model.neck.start_level', 0, ref + ' (line 31)'),
        Pin(config, 'model.neck.add_extra_convs', 'on_input', model + ' (line 19)'),
        Pin(config, 'model.neck.num_outs', 5, ref + ' (line 31)'),
        Pin(config, 'model.bbox_head.num_classes', 20, ref + ' (line 32)'),
        Pin(config, 'model.bbox_head.stacked_convs', 4, model + ' (line 25)'),
        Pin(config, 'model.bbox_head.loss_cls', dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                                                     loss_weight=1.0), model + ' (lines 37-42)'),
        Pin(config, 'model.bbox_head.loss_bbox', dict(type='L1Loss', loss_weight=1.0), model + ' (line 43)'),
        Pin(config, 'model.test_cfg.score_thr', 0.05, model + ' (line 58)'),
        Pin(config, 'model.test_cfg.nms', dict(type='nms', iou_threshold=0.5), model + ' (line 59)'),
    ]


PINS += colin_coco_pins('colin/cascade-mask-rcnn_swin-b-colin_fpn_8xb2-3x_coco.py', swin_l=False)
PINS += colin_coco_pins('colin/cascade-mask-rcnn_swin-l-colin_fpn_8xb2-3x_coco.py', swin_l=True)
PINS += colin_voc_pins('colin/retinanet_swin-l-colin_fpn_2xb2-4e_voc0712.py')


@pytest.mark.parametrize('pin', PINS, ids=Pin.id)
def test_follows_the_reference(pin):
    check_pin(pin)


def test_every_coco_and_voc_swin_config_is_pinned():
    assert (configs_matching('*/cascade-mask-rcnn_swin-[bl]-*_coco.py')
            | configs_matching('*/retinanet_swin-l-*_voc0712.py')) == {pin.config for pin in PINS}
