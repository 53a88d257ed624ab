"""One short training run and one validation per task family and method, through ``Runner.from_cfg`` on toy data.

Each test loads a real config from ``configs/``, shrinks the backbone (same architecture, fewer and narrower blocks),
points the data at a toy dataset in the real on-disk format, trains two iterations and validates with the real
metric of the family: CocoMetric, IoUMetric, VOCMetric, DOTAMetric, Accuracy.
"""
import glob
import math
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import ROOT
from mmpetl.datasets import TOY_CLASSES
from mmpetl.engine import amp_without_cuda
from mmpetl.engine.hooks import LastMetricsHook

TINY_SWIN = dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8], drop_path_rate=0.1, init_cfg=None)
TINY_SWIN_CHANNELS = [32, 64, 128, 256]
TINY_VIT = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)
HST_CHANNELS = [32, 48, 64, 72]
PALETTE = [(220, 20, 60), (0, 128, 0), (0, 0, 142)]


def config(method, pattern):
    """The method's config matching ``pattern`` (``{m}``: the method's directory name; ``*``: the GPUs x batch part,
    which differs between reference recipes)."""
    paths = glob.glob(osp.join(ROOT, 'configs', method.lower(), pattern.format(m=method.lower())))
    assert len(paths) == 1, f'{len(paths)} configs match configs/{method.lower()}/{pattern}'
    return Config.fromfile(paths[0])


def shrink_backbone(cfg, method):
    """Tiny version of the config's upstream backbone; returns the channels of its outputs."""
    backbone = cfg.model.backbone.backbone
    backbone.init_cfg = None
    if method == 'HST':
        backbone.arch = TINY_VIT
        backbone.img_size = 64
        return HST_CHANNELS
    if backbone.type == 'mmpretrain.SwinTransformer':
        backbone.arch = dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])
        backbone.update(img_size=64, pad_small_map=True)
    else:
        backbone.update(TINY_SWIN)
    return [TINY_SWIN_CHANNELS[i] for i in backbone.get('out_indices', (0, 1, 2, 3))]


def set_image_size(pipeline, size):
    for transform in pipeline:
        for key in ('scale', 'crop_size'):
            if key in transform and not transform['type'].endswith('RandomResizedCrop'):
                transform[key] = size
        if transform['type'].endswith(('RandomResizedCrop', 'ResizeEdge')):  # a single side
            transform['scale'] = size[0]


def short_run(cfg, work_dir, batch_size=2):
    """Two training iterations, then the validation that ends the loop; returns its metrics."""
    return trained_runner(cfg, work_dir, batch_size)[1]


def trained_runner(cfg, work_dir, batch_size=2):
    """:func:`short_run`'s runner, after the run, and the validation's metrics."""
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(by_epoch=False)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.update(num_workers=0, persistent_workers=False, batch_size=batch_size)
    amp_without_cuda(cfg)  # the recipes' mixed precision, as tools/train.py runs it without a GPU
    runner = Runner.from_cfg(cfg)
    metrics = LastMetricsHook()
    runner.register_hook(metrics)
    runner.train()
    return runner, metrics.metrics


def check_metrics(metrics, keys):
    for key in keys:
        assert key in metrics, f'{key} not in {sorted(metrics)}'
        assert math.isfinite(float(metrics[key])), (key, metrics[key])  # a Python or numpy float


def coco_cfg(method, root):
    pattern = 'cascade-mask-rcnn_vit-b-{m}_fpn_3x_coco.py' if method == 'HST' else \
        'cascade-mask-rcnn_swin-b-{m}_fpn_*-3x_coco.py'
    cfg = config(method, pattern)
    # narrow neck and heads, and every detection kept, so that two iterations give predictions to evaluate
    width = 64
    cfg.model.neck.update(in_channels=shrink_backbone(cfg, method), out_channels=width)
    cfg.model.rpn_head.update(in_channels=width, feat_channels=width)
    roi_head = cfg.model.roi_head
    roi_head.bbox_roi_extractor.out_channels = roi_head.mask_roi_extractor.out_channels = width
    for head in roi_head.bbox_head:
        head.update(num_classes=len(TOY_CLASSES), in_channels=width, conv_out_channels=width, fc_out_channels=128)
    roi_head.mask_head.update(num_classes=len(TOY_CLASSES), in_channels=width, conv_out_channels=width)
    cfg.model.test_cfg.rcnn.score_thr = 0.0
    train = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
             dict(type='Resize', scale=(128, 128), keep_ratio=True), dict(type='PackDetInputs')]
    for loader, split in ((cfg.train_dataloader, 'train'), (cfg.val_dataloader, 'val')):
        loader.dataset.update(data_root=root, metainfo=dict(classes=TOY_CLASSES),
                              ann_file=f'annotations/instances_{split}.json', data_prefix=dict(img=f'{split}/'))
    cfg.train_dataloader.dataset.pipeline = train
    set_image_size(cfg.val_dataloader.dataset.pipeline, (128, 128))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = root + 'annotations/instances_val.json'
    return cfg


@pytest.mark.parametrize('method', ['Mona', 'E3VA', 'HST'])
def test_coco_instance_segmentation(method, toy, tmp_path):
    metrics = short_run(coco_cfg(method, toy('coco')), tmp_path)
    check_metrics(metrics, ['coco/bbox_mAP', 'coco/segm_mAP'])


def ade20k_cfg(method, root):
    pattern = 'upernet_vit-b-{m}_8xb2-160k_ade20k-512x512.py' if method == 'HST' else \
        'upernet_swin-l-{m}_8xb2-160k_ade20k-512x512.py'
    cfg = config(method, pattern)
    channels = shrink_backbone(cfg, method)
    cfg.model.data_preprocessor.size = (64, 64)
    cfg.model.decode_head.update(in_channels=channels, channels=32, num_classes=len(TOY_CLASSES))
    cfg.model.auxiliary_head.update(in_channels=channels[2], channels=16, num_classes=len(TOY_CLASSES))
    for loader, split in ((cfg.train_dataloader, 'training'), (cfg.val_dataloader, 'validation')):
        # ADE20KDataset accepts a subset of its classes: the toy labels 1..3 are ADE20K's first three classes
        loader.dataset.update(data_root=root, metainfo=dict(classes=('wall', 'building', 'sky'), palette=PALETTE),
                              data_prefix=dict(img_path=f'images/{split}', seg_map_path=f'annotations/{split}'))
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', reduce_zero_label=True),
        dict(type='Resize', scale=(64, 64), keep_ratio=True), dict(type='PackSegInputs')]
    set_image_size(cfg.val_dataloader.dataset.pipeline, (64, 64))
    cfg.test_dataloader = cfg.val_dataloader
    return cfg


@pytest.mark.parametrize('method', ['Mona', 'E3VA', 'HST'])
def test_ade20k_semantic_segmentation(method, toy, tmp_path):
    metrics = short_run(ade20k_cfg(method, toy('ade20k')), tmp_path)
    check_metrics(metrics, ['mIoU', 'aAcc'])


@pytest.mark.parametrize('method', ['Mona', 'E3VA', 'CoLin'])
def test_voc_detection(method, toy, tmp_path):
    cfg = config(method, 'retinanet_swin-l-{m}_fpn_*-4e_voc0712.py')
    cfg.model.neck.update(in_channels=shrink_backbone(cfg, method), out_channels=64)
    cfg.model.bbox_head.update(num_classes=len(TOY_CLASSES), in_channels=64, feat_channels=64)
    cfg.model.test_cfg.score_thr = 0.0
    root = toy('voc')
    dataset = dict(type='VOCDataset', data_root=root, metainfo=dict(classes=TOY_CLASSES),
                   data_prefix=dict(sub_data_root='VOC2007/'))
    cfg.train_dataloader.dataset = dict(
        dataset, ann_file='VOC2007/ImageSets/Main/trainval.txt',
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                  dict(type='Resize', scale=(128, 128), keep_ratio=True), dict(type='PackDetInputs')])
    cfg.val_dataloader.dataset.update(dataset, ann_file='VOC2007/ImageSets/Main/test.txt')
    set_image_size(cfg.val_dataloader.dataset.pipeline, (128, 128))
    cfg.test_dataloader = cfg.val_dataloader
    metrics = short_run(cfg, tmp_path)
    check_metrics(metrics, ['pascal_voc/mAP'])


@pytest.mark.parametrize('method', ['Mona', 'E3VA', 'CoLin'])
def test_dota_oriented_detection(method, toy, tmp_path):
    cfg = config(method, 'oriented-rcnn-le90_swin-b-{m}_fpn_1x_dota.py')
    width = 64
    cfg.model.neck.update(in_channels=shrink_backbone(cfg, method), out_channels=width)
    cfg.model.rpn_head.update(in_channels=width, feat_channels=width)
    cfg.model.roi_head.bbox_roi_extractor.out_channels = width
    cfg.model.roi_head.bbox_head.update(num_classes=len(TOY_CLASSES), in_channels=width, fc_out_channels=128)
    cfg.model.test_cfg.rcnn.score_thr = 0.0
    root = toy('dota')
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.update(data_root=root, metainfo=dict(classes=TOY_CLASSES, palette=PALETTE),
                              ann_file='trainval/annfiles/' if loader is cfg.train_dataloader else 'test/annfiles/',
                              data_prefix=dict(img_path='trainval/images/' if loader is cfg.train_dataloader
                                               else 'test/images/'))
        set_image_size(loader.dataset.pipeline, (128, 128))
    cfg.test_dataloader = cfg.val_dataloader
    metrics = short_run(cfg, tmp_path)
    check_metrics(metrics, ['dota/mAP'])


def cls_cfg(method, root):
    pattern = 'vit-b16-{m}_2xb32-110e_vtab1k-dtd.py' if method == 'HST' else 'swin-l-{m}_4xb4-100e_flowers102.py'
    cfg = config(method, pattern)
    channels = shrink_backbone(cfg, method)
    cfg.model.head.update(num_classes=len(TOY_CLASSES), in_channels=channels[-1])
    cfg.model.data_preprocessor = dict(num_classes=len(TOY_CLASSES), mean=[123.675, 116.28, 103.53],
                                       std=[58.395, 57.12, 57.375], to_rgb=True)
    cfg.data_preprocessor = cfg.model.data_preprocessor
    for loader, split in ((cfg.train_dataloader, 'train'), (cfg.val_dataloader, 'val')):
        loader.dataset = dict(type='CustomDataset', data_root=root, data_prefix=split, with_label=True,
                              pipeline=loader.dataset.pipeline)
        set_image_size(loader.dataset.pipeline, (64, 64))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = cfg.test_evaluator = dict(type='Accuracy', topk=(1, ))
    return cfg


@pytest.mark.parametrize('method', ['Mona', 'E3VA', 'HST'])
def test_classification(method, toy, tmp_path):
    metrics = short_run(cls_cfg(method, toy('imagenet')), tmp_path)
    check_metrics(metrics, ['accuracy/top1'])
