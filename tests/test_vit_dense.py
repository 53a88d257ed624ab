"""The ViT-B dense-prediction bases with every method: a short ``Runner.from_cfg`` run per task family on toy data.

``configs/_base_/upernet_vit-b_mln_8xb2-160k_ade20k-512x512.py`` (UperNet over mmseg's MultiLevelNeck) and
``configs/_base_/cascade-mask-rcnn_vit-b_mln-fpn_4conv1fc-giou_ms-crop-3x_coco.py`` (MultiLevelNeck + FPN, mmdet)
wrap mmpretrain's VisionTransformer. Each test loads a method's config over one of them, keeps the architecture and
shrinks the widths (a 4-block ViT of width 32, patch 16, 64 px toy images), trains two iterations and validates with
the family's metric (IoUMetric, CocoMetric). LoRA is the method that needs mmpretrain's ViT (fused qkv); Mona is the
one users asked for. The ViT starts from a small checkpoint saved at a coarser grid than the config's ``img_size``, so
the runs also go through mmpretrain's resizing of the position embedding at load time (224 -> 512 in the real config).
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from conftest import ROOT
from mmpetl.datasets import TOY_CLASSES
from test_tasks import PALETTE, check_metrics, set_image_size, short_run

ADE20K = 'configs/{m}/upernet_vit-b-{m}_mln_8xb2-160k_ade20k-512x512.py'
COCO = 'configs/{m}/cascade-mask-rcnn_vit-b-{m}_mln-fpn_3x_coco.py'
TINY = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)
SIZE = 64  # px: a 4x4 patch grid; the necks give 16/8/4/2 (and FPN's P6 1x1)
CKPT_SIZE = 32  # the checkpoint's grid is 2x2, resized to 4x4 when it is loaded


@pytest.fixture(scope='module')
def vit_checkpoint(tmp_path_factory):
    """A tiny mmpretrain ViT's state dict at CKPT_SIZE, with bare keys (as the converter's --target mmpretrain)."""
    from mmpretrain.models import VisionTransformer
    vit = VisionTransformer(arch=TINY, img_size=CKPT_SIZE, patch_size=16)
    path = str(tmp_path_factory.mktemp('vit') / 'tiny_vit.pth')
    torch.save(vit.state_dict(), path)
    return path


def tiny_config(pattern, method, checkpoint):
    """The method's config with the tiny ViT (same type, outputs and options) loading ``checkpoint``."""
    cfg = Config.fromfile(osp.join(ROOT, pattern.format(m=method.lower())))
    vit = cfg.model.backbone.backbone
    assert vit.type == 'mmpretrain.VisionTransformer' and vit.out_type == 'featmap'
    vit.update(arch=TINY, img_size=SIZE, out_indices=(0, 1, 2, 3),
               init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    return cfg


def test_checkpoint_position_embedding_resized_at_load(vit_checkpoint):
    """The config's ViT at img_size 64 loads a 32-px checkpoint: its 2x2 position embedding is resized to 4x4
    (bicubic), the other tensors are loaded as they are."""
    from mmpretrain.models.utils import resize_pos_embed
    cfg = tiny_config(ADE20K, 'LoRA', vit_checkpoint)
    init_default_scope(cfg.default_scope)
    backbone = MODELS.build(cfg.model).backbone
    backbone.init_weights()
    state = torch.load(vit_checkpoint)
    expected = resize_pos_embed(state['pos_embed'], (2, 2), (4, 4), mode='bicubic', num_extra_tokens=1)
    assert backbone.pos_embed.shape == (1, 17, 32)
    torch.testing.assert_close(backbone.pos_embed.data, expected)
    torch.testing.assert_close(backbone.layers[3].attn.qkv.weight.data, state['layers.3.attn.qkv.weight'])


@pytest.mark.parametrize('method', ['LoRA', 'Mona'])
def test_ade20k_upernet_mln(method, toy, vit_checkpoint, tmp_path):
    cfg = tiny_config(ADE20K, method, vit_checkpoint)
    channels = [32] * 4
    cfg.model.data_preprocessor.size = (SIZE, SIZE)
    cfg.model.neck.update(in_channels=channels, out_channels=32)
    cfg.model.decode_head.update(in_channels=channels, channels=32, num_classes=len(TOY_CLASSES))
    cfg.model.auxiliary_head.update(in_channels=32, channels=16, num_classes=len(TOY_CLASSES))
    root = toy('ade20k', size=SIZE)
    for loader, split in ((cfg.train_dataloader, 'training'), (cfg.val_dataloader, 'validation')):
        # ADE20KDataset accepts a subset of its classes: the toy labels 1..3 are ADE20K's first three classes
        loader.dataset.update(data_root=root, metainfo=dict(classes=('wall', 'building', 'sky'), palette=PALETTE),
                              data_prefix=dict(img_path=f'images/{split}', seg_map_path=f'annotations/{split}'))
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', reduce_zero_label=True),
        dict(type='Resize', scale=(SIZE, SIZE), keep_ratio=True), dict(type='PackSegInputs')]
    set_image_size(cfg.val_dataloader.dataset.pipeline, (SIZE, SIZE))
    cfg.test_dataloader = cfg.val_dataloader
    check_metrics(short_run(cfg, tmp_path), ['mIoU', 'aAcc'])


@pytest.mark.parametrize('method', ['LoRA', 'Mona'])
def test_coco_cascade_mln_fpn(method, toy, vit_checkpoint, tmp_path):
    cfg = tiny_config(COCO, method, vit_checkpoint)
    width = 32
    mln, fpn = cfg.model.neck
    assert mln.type == 'mmseg.MultiLevelNeck' and fpn.type == 'FPN'
    mln.update(in_channels=[32] * 4, out_channels=width)
    fpn.update(in_channels=[width] * 4, out_channels=width)
    cfg.model.rpn_head.update(in_channels=width, feat_channels=width)
    roi_head = cfg.model.roi_head
    roi_head.bbox_roi_extractor.out_channels = roi_head.mask_roi_extractor.out_channels = width
    for head in roi_head.bbox_head:
        head.update(num_classes=len(TOY_CLASSES), in_channels=width, conv_out_channels=width, fc_out_channels=64)
    roi_head.mask_head.update(num_classes=len(TOY_CLASSES), in_channels=width, conv_out_channels=width)
    cfg.model.test_cfg.rcnn.score_thr = 0.0  # every detection kept: two iterations give predictions to evaluate
    root = toy('coco', size=SIZE)
    for loader, split in ((cfg.train_dataloader, 'train'), (cfg.val_dataloader, 'val')):
        loader.dataset.update(data_root=root, metainfo=dict(classes=TOY_CLASSES),
                              ann_file=f'annotations/instances_{split}.json', data_prefix=dict(img=f'{split}/'))
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=(SIZE, SIZE), keep_ratio=True), dict(type='PackDetInputs')]
    set_image_size(cfg.val_dataloader.dataset.pipeline, (SIZE, SIZE))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = root + 'annotations/instances_val.json'
    check_metrics(short_run(cfg, tmp_path), ['coco/bbox_mAP', 'coco/segm_mAP'])
