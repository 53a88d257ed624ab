"""Swin-L classification (Flowers-102, Oxford-IIIT Pets, VOC2007) follows the Mona reference, setting by setting.

The reference is Leiyi-Hu/mona's Swin-Transformer-Classification/mona_configs (mmcls 0.25): one file per dataset and
method (swin-l_<dataset>/swin-large_4xb8_<dataset>[_<method>].py) over shared bases (large_224_det.py,
<dataset>_mona.py, imagenet_bs1024_adamw_swin.py). Each value is pinned with the file it was read from.
"""

import pytest

from recipes import Pin, check_pin, configs_matching

DATASETS = ['flowers102', 'oxford-pets', 'voc2007']
METHODS = ['full', 'fixed', 'bitfit', 'lntune', 'partial1', 'adapter', 'lora', 'adaptformer', 'mona', 'lorand', 'e3va',
           'colin']

# The reference file of each (dataset, method). LoRand, E3VA and CoLin have none: they follow the baselines' recipe, the
# dataset's plain file (the same settings as every non-Mona file of the dataset).
METHOD_FILES = {
    'flowers102': {
        'full': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                'swin-large_4xb8_oxford_flower.py',
        'fixed': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                 'swin-large_4xb8_oxford_flower_fixed.py',
        'bitfit': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                  'swin-large_4xb8_oxford_flower_bitfit.py',
        'lntune': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                  'swin-large_4xb8_oxford_flower_LN.py',
        'partial1': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                    'swin-large_4xb8_oxford_flower_partial_1.py',
        'adapter': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                   'swin-large_4xb8_oxford_flower_adapter.py',
        'lora': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                'swin-large_4xb8_oxford_flower_lora.py',
        'adaptformer': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                       'swin-large_4xb8_oxford_flower_adaptformer.py',
        'mona': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                'swin-large_4xb8_oxford_flower_mona.py',
        'lorand': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                  'swin-large_4xb8_oxford_flower.py (no LoRand file: the baselines\' recipe)',
        'e3va': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                'swin-large_4xb8_oxford_flower.py (no E3VA file: the baselines\' recipe)',
        'colin': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/'
                 'swin-large_4xb8_oxford_flower.py (no CoLin file: the baselines\' recipe)',
    },
    'oxford-pets': {
        'full': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                'swin-large_4xb8_oxford_pet.py',
        'fixed': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                 'swin-large_4xb8_oxford_pet_fixed.py',
        'bitfit': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                  'swin-large_4xb8_oxford_pet_bitfit.py',
        'lntune': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                  'swin-large_4xb8_oxford_pet_LN.py',
        'partial1': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                    'swin-large_4xb8_oxford_pet_partial_1.py',
        'adapter': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                   'swin-large_4xb8_oxford_pet_adapter.py',
        'lora': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                'swin-large_4xb8_oxford_pet_lora.py',
        'adaptformer': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                       'swin-large_4xb8_oxford_pet_adaptformer.py',
        'mona': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                'swin-large_4xb8_oxford_pet_mona.py',
        'lorand': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                  'swin-large_4xb8_oxford_pet.py (no LoRand file: the baselines\' recipe)',
        'e3va': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                'swin-large_4xb8_oxford_pet.py (no E3VA file: the baselines\' recipe)',
        'colin': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/'
                 'swin-large_4xb8_oxford_pet.py (no CoLin file: the baselines\' recipe)',
    },
    'voc2007': {
        'full': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc.py',
        'fixed': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc_fixed.py',
        'bitfit': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/'
                  'swin-large_4xb8_voc_bitfit.py',
        'lntune': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc_LN.py',
        'partial1': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/'
                    'swin-large_4xb8_voc_partial_1.py',
        'adapter': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/'
                   'swin-large_4xb8_voc_adapter.py',
        'lora': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc_lora.py '
                '(names the unregistered SwinTransformer_lora_64; the registered SwinTransformer_lora is rank 64)',
        'adaptformer': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/'
                       'swin-large_4xb8_voc_adaptformer.py',
        'mona': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc_mona.py',
        'lorand': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc.py '
                  '(no LoRand file: the baselines\' recipe)',
        'e3va': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc.py '
                '(no E3VA file: the baselines\' recipe)',
        'colin': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc.py '
                 '(no CoLin file: the baselines\' recipe)',
    },
}

SCHEDULE = ('Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/_base_/schedules/'
            'imagenet_bs1024_adamw_swin.py')
MODEL = 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/_base_/models/swin_transformer/large_224_det.py'
DATA = {
    'flowers102': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/_base_/datasets/oxford_flower_mona.py',
    'oxford-pets': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/_base_/datasets/oxford_pet_mona.py',
    'voc2007': 'Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/_base_/datasets/voc_mona.py',
}
# VOC as single-label classification: the reference's list dataset keeps the first label of each line
VOC_SINGLE_LABEL = ('Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/_base_/datasets/voc_mona.py '
                    '(VOCMona, a CustomDataset: Swin-Transformer-Classification/mmcls/datasets/custom.py '
                    'load_annotations keeps int(label.split(",")[0]))')
NUM_CLASSES = {'flowers102': 102, 'oxford-pets': 37, 'voc2007': 20}
# lr = 5e-4 * bs_per_gpu * gpu_num / 512 with 4 x 4; the Mona files on Flowers and Pets add * 2
LR = {(dataset, method): 5e-4 * 16 / 512 for dataset in DATASETS for method in METHODS}
LR['flowers102', 'mona'] = 3.125e-5
LR['oxford-pets', 'mona'] = 3.125e-5
assert LR['voc2007', 'mona'] == LR['flowers102', 'full'] == 1.5625e-5

TRAIN_PIPELINE = [  # RandomResizedCrop(size=224) and RandomFlip(flip_prob=0.5) with mmcls 0.25's defaults
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0), aspect_ratio_range=(3. / 4., 4. / 3.),
         backend='cv2', interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
TEST_PIPELINE = [  # Resize(size=(256, -1)) (the short side, cv2 bilinear) and CenterCrop(crop_size=224)
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='cv2', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]


def recipe_pins(dataset, method):
    cfg = f'{method}/swin-l-{method}_4xb4-100e_{dataset}.py'
    ref = METHOD_FILES[dataset][method]
    return [
        # optimizer, lr, weight decay
        Pin(cfg, 'optim_wrapper.optimizer.type', 'AdamW', SCHEDULE),
        Pin(cfg, 'optim_wrapper.optimizer.lr', LR[dataset, method], ref + ' (optimizer.lr)'),
        Pin(cfg, 'optim_wrapper.optimizer.weight_decay', 0.05, ref + ' (optimizer.weight_decay)'),
        Pin(cfg, 'optim_wrapper.optimizer.eps', 1e-8, ref + ' (optimizer.eps)'),
        Pin(cfg, 'optim_wrapper.optimizer.betas', (0.9, 0.999), ref + ' (optimizer.betas)'),
        # paramwise settings
        Pin(cfg, 'optim_wrapper.paramwise_cfg', dict(
            norm_decay_mult=0.0, bias_decay_mult=0.0,
            custom_keys={'.absolute_pos_embed': dict(decay_mult=0.0),
                         '.relative_position_bias_table': dict(decay_mult=0.0)}), SCHEDULE + ' (paramwise_cfg)'),
        # gradient clipping
        Pin(cfg, 'optim_wrapper.clip_grad', dict(max_norm=5.0), SCHEDULE + ' (optimizer_config.grad_clip)'),
        # mixed precision: fp16 = dict(loss_scale='dynamic')
        Pin(cfg, 'optim_wrapper.type', 'AmpOptimWrapper', ref + ' (fp16)'),
        Pin(cfg, 'optim_wrapper.loss_scale', 'dynamic', ref + ' (fp16.loss_scale)'),
        # warm-up: linear from 1e-3 over 20 epochs, per iteration
        Pin(cfg, 'param_scheduler[LinearLR].start_factor', 1e-3, SCHEDULE + ' (lr_config.warmup_ratio)'),
        Pin(cfg, 'param_scheduler[LinearLR].begin', 0, SCHEDULE + ' (lr_config.warmup_iters, warmup_by_epoch)'),
        Pin(cfg, 'param_scheduler[LinearLR].end', 20, SCHEDULE + ' (lr_config.warmup_iters, warmup_by_epoch)'),
        Pin(cfg, 'param_scheduler[LinearLR].convert_to_iter_based', True, SCHEDULE + ' (lr_config.by_epoch=False)'),
        # schedule: cosine per iteration over the whole run, floor 0.01 x lr
        Pin(cfg, 'param_scheduler[CosineAnnealingLR].begin', 0, SCHEDULE + ' (lr_config.policy CosineAnnealing)'),
        Pin(cfg, 'param_scheduler[CosineAnnealingLR].end', 100, ref + ' (runner.max_epochs)'),
        Pin(cfg, 'param_scheduler[CosineAnnealingLR].eta_min_ratio', 1e-2, SCHEDULE + ' (lr_config.min_lr_ratio)'),
        Pin(cfg, 'param_scheduler[CosineAnnealingLR].convert_to_iter_based', True,
            SCHEDULE + ' (lr_config.by_epoch=False)'),
        Pin(cfg, 'train_cfg.max_epochs', 100, ref + ' (runner.max_epochs)'),
        # batch per GPU and GPU count
        Pin(cfg, 'train_dataloader.batch_size', 4, ref + ' (bs_per_gpu, data.samples_per_gpu)'),
        Pin(cfg, 'auto_scale_lr.base_batch_size', 16, ref + ' (bs_per_gpu * gpu_num)'),
        Pin(cfg, 'train_dataloader.num_workers', 2, DATA[dataset] + ' (data.workers_per_gpu)'),
        # pipelines and normalisation
        Pin(cfg, 'train_dataloader.dataset.pipeline', TRAIN_PIPELINE, DATA[dataset] + ' (train_pipeline)'),
        Pin(cfg, 'val_dataloader.dataset.pipeline', TEST_PIPELINE, DATA[dataset] + ' (test_pipeline)'),
        Pin(cfg, 'test_dataloader.dataset.pipeline', TEST_PIPELINE, DATA[dataset] + ' (test_pipeline)'),
        Pin(cfg, 'data_preprocessor.mean', [123.675, 116.28, 103.53], DATA[dataset] + ' (img_norm_cfg)'),
        Pin(cfg, 'data_preprocessor.std', [58.395, 57.12, 57.375], DATA[dataset] + ' (img_norm_cfg)'),
        Pin(cfg, 'data_preprocessor.to_rgb', True, DATA[dataset] + ' (img_norm_cfg)'),
        # the model: Swin-L 224 (window 7), drop path 0.3, pooled, a linear head with cross-entropy
        Pin(cfg, 'model.backbone.backbone.arch', 'large', MODEL + ' (embed_dim 192, depths 2/2/18/2)'),
        Pin(cfg, 'model.backbone.backbone.img_size', 224, MODEL),
        Pin(cfg, 'model.backbone.backbone.drop_path_rate', 0.3, MODEL + ' (drop_path_rate)'),
        Pin(cfg, 'model.neck.type', 'GlobalAveragePooling', MODEL + ' (neck)'),
        Pin(cfg, 'model.head.type', 'LinearClsHead', MODEL + ' (head)'),
        Pin(cfg, 'model.head.in_channels', 1536, MODEL + ' (head.in_channels)'),
        Pin(cfg, 'model.head.loss', dict(type='CrossEntropyLoss', loss_weight=1.0), MODEL + ' (head.loss)'),
        Pin(cfg, 'model.head.num_classes', NUM_CLASSES[dataset], ref + ' (head.num_classes)'),
        # evaluation: top-1 / top-5 accuracy after every epoch
        Pin(cfg, 'train_cfg.val_interval', 1, DATA[dataset] + ' (evaluation.interval)'),
        Pin(cfg, 'val_evaluator', dict(type='Accuracy', topk=(1, 5)),
            DATA[dataset] + " (evaluation.metric='accuracy': mmcls 0.25 reports topk (1, 5))"),
        Pin(cfg, 'test_evaluator', dict(type='Accuracy', topk=(1, 5)),
            DATA[dataset] + " (evaluation.metric='accuracy': mmcls 0.25 reports topk (1, 5))"),
    ]


PINS = [pin for dataset in DATASETS for method in METHODS for pin in recipe_pins(dataset, method)]
# VOC2007 is single-label in the reference: a list dataset, a softmax head, accuracy (not mmpretrain's multi-label VOC)
for method in METHODS:
    PINS += [
        Pin(f'{method}/swin-l-{method}_4xb4-100e_voc2007.py', 'train_dataloader.dataset.type', 'CustomDataset',
            VOC_SINGLE_LABEL),
        Pin(f'{method}/swin-l-{method}_4xb4-100e_voc2007.py', 'val_dataloader.dataset.type', 'CustomDataset',
            VOC_SINGLE_LABEL),
    ]


@pytest.mark.parametrize('pin', PINS, ids=Pin.id)
def test_follows_the_reference(pin):
    check_pin(pin)


def test_every_classification_config_is_pinned():
    assert configs_matching('*/swin-l-*-100e_*.py') == {pin.config for pin in PINS}
