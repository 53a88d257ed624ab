"""ADE20K semantic segmentation (UperNet, Swin-L): every config follows the reference config it reproduces.

The references are the Mona repository's mmseg 0.x configs (``mona_configs/swin-l_ade20k/`` and their ``_base_``
files); each pin holds a value as it reads in our mmseg 1.x schema and the file (and key) it was read from there.
LoRand, E3VA and CoLin have no reference ADE20K config: they take the recipe the reference's PETL baselines share (the
Adapter's file is cited), as their configs' headers say.
"""

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS

from recipes import Pin, check_pin, configs_matching, load

CONFIGS = {
    'Full': 'full/upernet_swin-l-full_8xb2-160k_ade20k-512x512.py',
    'Fixed': 'fixed/upernet_swin-l-fixed_8xb2-160k_ade20k-512x512.py',
    'Mona': 'mona/upernet_swin-l-mona_8xb2-160k_ade20k-512x512.py',
    'LNTune': 'lntune/upernet_swin-l-lntune_8xb2-160k_ade20k-512x512.py',
    'BitFit': 'bitfit/upernet_swin-l-bitfit_8xb2-160k_ade20k-512x512.py',
    'Partial1': 'partial1/upernet_swin-l-partial1_8xb2-160k_ade20k-512x512.py',
    'Adapter': 'adapter/upernet_swin-l-adapter_8xb2-160k_ade20k-512x512.py',
    'LoRA': 'lora/upernet_swin-l-lora_8xb2-160k_ade20k-512x512.py',
    'AdaptFormer': 'adaptformer/upernet_swin-l-adaptformer_8xb2-160k_ade20k-512x512.py',
    'LoRand': 'lorand/upernet_swin-l-lorand_8xb2-160k_ade20k-512x512.py',
    'E3VA': 'e3va/upernet_swin-l-e3va_8xb2-160k_ade20k-512x512.py',
    'CoLin': 'colin/upernet_swin-l-colin_8xb2-160k_ade20k-512x512.py',
}

# each method's reference file (LoRand, E3VA and CoLin: the PETL baselines' recipe, the Adapter's file)
REFERENCE = {
    'Full': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_full.py',  # noqa
    'Fixed': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_fixed.py',  # noqa
    'Mona': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_mona.py',  # noqa
    'LNTune': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_LN.py',  # noqa
    'BitFit': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_bitfit.py',  # noqa
    'Partial1': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_partial_1.py',  # noqa
    'Adapter': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_adapter.py',  # noqa
    'LoRA': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_lora.py',  # noqa
    'AdaptFormer': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_adaptformer.py',  # noqa
    'LoRand': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_adapter.py (no LoRand file: the PETL baselines\' recipe)',  # noqa
    'E3VA': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_adapter.py (no E3VA file: the PETL baselines\' recipe)',  # noqa
    'CoLin': 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_adapter.py (no CoLin file: the PETL baselines\' recipe)',  # noqa
}
MODELS = 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/_base_/models/upernet_swin.py'
DATASET = 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/_base_/datasets/ade20k.py'
SCHEDULE = 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/_base_/schedules/schedule_160k.py'
RUNTIME = 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/_base_/default_runtime.py'
SWIN = 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mmseg/models/backbones/swin_transformer.py'
TRAIN_API = 'Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mmseg/apis/train.py'

SYNC_BN = ('Full', 'Fixed', 'Mona')
PLAIN_BN = ('LNTune', 'BitFit', 'Partial1', 'Adapter', 'LoRA', 'AdaptFormer', 'LoRand', 'E3VA', 'CoLin')
BASELINE_RECIPE = ('Full', 'Fixed') + PLAIN_BN  # every method but Mona: lr 6e-5, drop path 0.3, three custom keys

PINS = []
for m in CONFIGS:
    c, ref = CONFIGS[m], REFERENCE[m]
    PINS += [
        # the method file: Swin-L, the optimizer, the warm-up and the poly decay, the batch
        Pin(c, 'model.backbone.backbone.embed_dims', 192, ref + ' (backbone.embed_dim)'),
        Pin(c, 'model.backbone.backbone.depths', [2, 2, 18, 2], ref),
        Pin(c, 'model.backbone.backbone.num_heads', [6, 12, 24, 48], ref),
        Pin(c, 'model.backbone.backbone.window_size', 7, ref),
        Pin(c, 'model.backbone.backbone.use_abs_pos_embed', False, ref + ' (backbone.ape)'),
        Pin(c, 'model.backbone.backbone.patch_norm', True, ref),
        Pin(c, 'model.backbone.backbone.with_cp', False, ref + ' (backbone.use_checkpoint)'),
        Pin(c, 'model.decode_head.in_channels', [192, 384, 768, 1536], ref),
        Pin(c, 'model.decode_head.num_classes', 150, ref),
        Pin(c, 'model.auxiliary_head.in_channels', 768, ref),
        Pin(c, 'model.auxiliary_head.num_classes', 150, ref),
        Pin(c, 'optim_wrapper.optimizer.type', 'AdamW', ref),
        Pin(c, 'optim_wrapper.optimizer.betas', [0.9, 0.999], ref),
        Pin(c, 'optim_wrapper.optimizer.weight_decay', 0.01, ref),
        Pin(c, 'param_scheduler[LinearLR].begin', 0, ref + ' (lr_config warmup)'),
        Pin(c, 'param_scheduler[LinearLR].end', 1500, ref + ' (lr_config.warmup_iters)'),
        Pin(c, 'param_scheduler[LinearLR].start_factor', 1e-6, ref + ' (lr_config.warmup_ratio)'),
        Pin(c, 'param_scheduler[LinearLR].by_epoch', False, ref),
        Pin(c, 'param_scheduler[PolyLR].power', 1.0, ref + ' (lr_config.power)'),
        Pin(c, 'param_scheduler[PolyLR].eta_min', 0.0, ref + ' (lr_config.min_lr)'),
        Pin(c, 'param_scheduler[PolyLR].begin', 0, ref + ' (poly over the whole run, warm-up included)'),
        Pin(c, 'param_scheduler[PolyLR].end', 160000, ref + ' + ' + SCHEDULE + ' (runner.max_iters)'),
        Pin(c, 'param_scheduler[PolyLR].by_epoch', False, ref),
        Pin(c, 'train_dataloader.batch_size', 2, ref + ' (data.samples_per_gpu)'),
        Pin(c, 'auto_scale_lr.base_batch_size', 16, ref + ' (8 GPUs with 2 images per GPU)'),
        Pin(c, 'auto_scale_lr.enable', False, ref + ' (the lr is set for the total batch 16, never scaled)'),
        # the schedule: 160k iterations, evaluation and checkpoint every 16k, mIoU; no clipping, no fp16
        Pin(c, 'train_cfg.type', 'IterBasedTrainLoop', SCHEDULE + ' (runner.type)'),
        Pin(c, 'train_cfg.max_iters', 160000, SCHEDULE + ' (runner.max_iters)'),
        Pin(c, 'train_cfg.val_interval', 16000, SCHEDULE + ' (evaluation.interval)'),
        Pin(c, 'default_hooks.checkpoint.interval', 16000, SCHEDULE + ' (checkpoint_config.interval)'),
        Pin(c, 'default_hooks.checkpoint.by_epoch', False, SCHEDULE + ' (checkpoint_config.by_epoch)'),
        Pin(c, 'val_evaluator.iou_metrics', ['mIoU'], SCHEDULE + ' (evaluation.metric)'),
        Pin(c, 'optim_wrapper.clip_grad', None, SCHEDULE + ' (optimizer_config = dict(): no grad_clip)'),
        Pin(c, 'optim_wrapper.type', 'OptimWrapper', SCHEDULE + ' (optimizer_config = dict(): fp32, no fp16/apex)'),
        # the model base: the heads, whole-image inference
        Pin(c, 'model.decode_head.type', 'UPerHead', MODELS),
        Pin(c, 'model.decode_head.channels', 512, MODELS),
        Pin(c, 'model.decode_head.pool_scales', [1, 2, 3, 6], MODELS),
        Pin(c, 'model.decode_head.dropout_ratio', 0.1, MODELS),
        Pin(c, 'model.decode_head.loss_decode.loss_weight', 1.0, MODELS),
        Pin(c, 'model.auxiliary_head.type', 'FCNHead', MODELS),
        Pin(c, 'model.auxiliary_head.in_index', 2, MODELS),
        Pin(c, 'model.auxiliary_head.channels', 256, MODELS),
        Pin(c, 'model.auxiliary_head.num_convs', 1, MODELS),
        Pin(c, 'model.auxiliary_head.loss_decode.loss_weight', 0.4, MODELS),
        Pin(c, 'model.backbone.backbone.out_indices', [0, 1, 2, 3], MODELS),
        Pin(c, 'model.test_cfg.mode', 'whole', MODELS),
        Pin(c, 'model.backbone.backbone.frozen_stages', -1, SWIN + ' (SwinTransformer default; no config sets it)'),
        # the dataset base: normalisation, crop 512, the train and test pipelines, workers, validation batch
        Pin(c, 'model.data_preprocessor.mean', [123.675, 116.28, 103.53], DATASET + ' (img_norm_cfg)'),
        Pin(c, 'model.data_preprocessor.std', [58.395, 57.12, 57.375], DATASET + ' (img_norm_cfg)'),
        Pin(c, 'model.data_preprocessor.bgr_to_rgb', True, DATASET + ' (img_norm_cfg.to_rgb)'),
        Pin(c, 'model.data_preprocessor.size', [512, 512], DATASET + ' (Pad size=crop_size)'),
        Pin(c, 'model.data_preprocessor.pad_val', 0, DATASET + ' (Pad pad_val)'),
        Pin(c, 'model.data_preprocessor.seg_pad_val', 255, DATASET + ' (Pad seg_pad_val)'),
        Pin(c, 'train_dataloader.dataset.pipeline', [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', reduce_zero_label=True),
            dict(type='RandomResize', scale=[2048, 512], ratio_range=[0.5, 2.0], keep_ratio=True),
            dict(type='RandomCrop', crop_size=[512, 512], cat_max_ratio=0.75),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PhotoMetricDistortion'),
            dict(type='PackSegInputs')], DATASET + ' (train_pipeline; Normalize and Pad: the data preprocessor)'),
        Pin(c, 'val_dataloader.dataset.pipeline', [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=[2048, 512], keep_ratio=True),
            dict(type='LoadAnnotations', reduce_zero_label=True),
            dict(type='PackSegInputs')], DATASET + ' (test_pipeline: one scale, flip=False)'),
        Pin(c, 'train_dataloader.num_workers', 4, DATASET + ' (data.workers_per_gpu)'),
        Pin(c, 'train_dataloader.dataset.type', 'ADE20KDataset', DATASET),
        Pin(c, 'val_dataloader.batch_size', 1, TRAIN_API + ' (the validation loader: samples_per_gpu=1)'),
        # the runtime base
        Pin(c, 'env_cfg.cudnn_benchmark', True, RUNTIME + ' (cudnn_benchmark)'),
        Pin(c, 'default_hooks.logger.interval', 50, RUNTIME + ' (log_config.interval)'),
    ]

# the lr: 6e-5 for every method but Mona (whose file multiplies it by 5); drop path 0.3 but Mona's 0.2
for m in BASELINE_RECIPE:
    PINS += [
        Pin(CONFIGS[m], 'optim_wrapper.optimizer.lr', 6e-5, REFERENCE[m] + ' (optimizer.lr=0.00006)'),
        Pin(CONFIGS[m], 'model.backbone.backbone.drop_path_rate', 0.3, REFERENCE[m]),
        Pin(CONFIGS[m], 'optim_wrapper.paramwise_cfg.custom_keys', {
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)}, REFERENCE[m]),
    ]
PINS += [
    Pin(CONFIGS['Mona'], 'optim_wrapper.optimizer.lr', 3e-4, REFERENCE['Mona'] + ' (optimizer.lr=0.00006 * 5.0)'),
    Pin(CONFIGS['Mona'], 'model.backbone.backbone.drop_path_rate', 0.2, REFERENCE['Mona']),
    Pin(CONFIGS['Mona'], 'optim_wrapper.paramwise_cfg.custom_keys', {
        'backbone': dict(lr_mult=1.0),
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)}, REFERENCE['Mona']),
]

# the heads' norm layers: SyncBN for Full, Fixed and Mona; BN for the PETL baselines (and LoRand, E3VA and CoLin with
# them)
for m in SYNC_BN:
    PINS += [Pin(CONFIGS[m], f'model.{head}.norm_cfg', dict(type='SyncBN', requires_grad=True), REFERENCE[m])
             for head in ('decode_head', 'auxiliary_head')]
for m in PLAIN_BN:
    PINS += [Pin(CONFIGS[m], f'model.{head}.norm_cfg', dict(type='BN', requires_grad=True), REFERENCE[m])
             for head in ('decode_head', 'auxiliary_head')]


@pytest.mark.parametrize('pin', PINS, ids=Pin.id)
def test_follows_the_reference(pin):
    check_pin(pin)


def test_every_ade20k_swin_config_is_pinned():
    assert configs_matching('*/upernet_swin-l-*_ade20k-512x512.py') == set(CONFIGS.values())


def mmcv1_lr(base, it, total=160000, warmup=1500, ratio=1e-6, power=1.0, min_lr=0.0):
    """The reference's lr at iteration ``it`` (mmcv 1.x: poly over ``total``; before ``warmup``, that value times the
    linear warm-up factor)."""
    lr = (base - min_lr) * (1 - it / total) ** power + min_lr
    if it < warmup:
        lr *= 1 - (1 - it / warmup) * (1 - ratio)
    return lr


@pytest.mark.filterwarnings('ignore:Detected call of `scheduler.step\\(\\)` before')  # no optimizer steps here
@pytest.mark.parametrize('method', ['Full', 'Mona'])
def test_schedule_matches_the_reference_curve(method):
    """The configs' schedulers, stepped as the Runner steps them, give the reference's lr through the warm-up and past
    it. mmengine's LinearLR reaches its end factor one step before ``end`` (at 1499, mmcv 1.x's at 1500): up to
    1/1500 apart during the warm-up; from 1500 on the two agree to float rounding."""
    cfg = load(CONFIGS[method])
    base = cfg.optim_wrapper.optimizer.lr
    wrapper = build_optim_wrapper(torch.nn.Linear(2, 2), dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=base)))
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper)) for s in cfg.param_scheduler]
    for it in range(3001):
        if it in (0, 1, 10, 750, 1499, 1500, 1501, 2000, 3000):
            lr = wrapper.optimizer.param_groups[0]['lr']
            assert lr == pytest.approx(mmcv1_lr(base, it), rel=1e-3 if it < 1500 else 1e-6, abs=1e-15), it
        for scheduler in schedulers:
            scheduler.step()
