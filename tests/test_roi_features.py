"""PETL backbones give contiguous feature maps, so that a two-stage detector's RoI heads read the right features:
mmcv's RoIAlign reads its input as contiguous NCHW whatever its strides (open-mmlab/mmcv#2203), and maps made from
tokens (mmpretrain's ViT featmaps, HST's side stages) are channels-last views that convs pass down the neck."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT
from mmpetl.models.petl_backbone import build_petl_backbone


def _detector(config: str):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.backbone.backbone.init_cfg = None
    return MODELS.build(cfg.model).eval()


def test_hst_detector_rois_read_the_maps_the_neck_made():
    """The toy HST Mask R-CNN of the transfer study, two images: every FPN level is contiguous, and the RoI features
    its extractor gives are those of the same maps copied to the standard layout."""
    model = _detector('configs/transfer/mask-rcnn_vit-mini-hst_fpn_toy-coco.py')
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(2, 3, 128, 128))
        assert all(f.is_contiguous() for f in feats)
        rois = torch.tensor([[0, 10., 10., 60., 60.], [1, 30., 20., 90., 100.], [1, 0., 64., 40., 128.]])
        extractor = model.roi_head.bbox_roi_extractor
        got = extractor(feats[:extractor.num_inputs], rois)
        expected = extractor(tuple(f.clone(memory_format=torch.contiguous_format) for f in
                                   feats[:extractor.num_inputs]), rois)
    assert torch.equal(got, expected)


@pytest.mark.parametrize('method', ['Full', 'LoRA', 'HST'])
def test_vit_feature_maps_are_contiguous(method):
    """A plain ViT's maps (mmpretrain's ``featmap``: a permuted view of its tokens) and HST's four, batch 2."""
    vit = dict(type='mmpretrain.VisionTransformer', arch=dict(embed_dims=96, num_layers=4, num_heads=3,
                                                              feedforward_channels=384),
               img_size=64, patch_size=8, out_type='featmap', out_indices=(1, 3))
    backbone = build_petl_backbone(backbone=vit, method=dict(type=method))
    outs = backbone(torch.randn(2, 3, 64, 64))
    assert len(outs) == (4 if method == 'HST' else 2)
    assert all(o.dim() == 4 and o.is_contiguous() for o in outs)
