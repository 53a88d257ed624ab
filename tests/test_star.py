"""STAR through mmrotate 1.x: the real STAR configs read STAR-format data (DOTA txt files under
``{train,test}/{annfiles,images}``, STAR's 48 classes) with mmrotate's ``DOTADataset``, and one of them trains two
iterations and validates with ``DOTAMetric`` through ``Runner.from_cfg`` on the toy STAR data."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT
from mmpetl.datasets import STAR_CLASSES, TOY_STAR_CLASSES
from mmpetl.engine import register_scope_modules
from test_tasks import check_metrics, set_image_size, short_run, shrink_backbone

METHODS = ('full', 'fixed', 'mona', 'adapter', 'adaptformer', 'lora', 'lorand', 'bitfit', 'lntune', 'partial1', 'e3va',
           'colin')


def star_config(method):
    return Config.fromfile(osp.join(ROOT, 'configs', method, f'oriented-rcnn-le90_swin-b-{method}_fpn_1x_star.py'))


def shrunk_star_config(method, width=64):
    """The method's STAR config with backbone, neck and heads shrunk (STAR's 48 classes kept) and a small evaluation."""
    cfg = star_config(method)
    cfg.model.neck.update(in_channels=shrink_backbone(cfg, method.capitalize()), out_channels=width)
    cfg.model.rpn_head.update(in_channels=width, feat_channels=width)
    cfg.model.roi_head.bbox_roi_extractor.out_channels = width
    cfg.model.roi_head.bbox_head.update(in_channels=width, fc_out_channels=128)
    cfg.model.test_cfg.rcnn.update(score_thr=0.0, max_per_img=100)  # 48 classes: keep the evaluation small
    return cfg


@pytest.fixture(scope='module')
def toy_star(toy):
    return toy('star')


def test_every_method_has_a_star_config():
    paths = glob.glob(osp.join(ROOT, 'configs', '*', 'oriented-rcnn-le90_swin-b-*_fpn_1x_star.py'))
    found = {osp.basename(osp.dirname(p)) for p in paths}
    assert found == set(METHODS)


def test_star_classes():
    assert len(STAR_CLASSES) == len(set(STAR_CLASSES)) == 48
    assert not any(' ' in name for name in STAR_CLASSES)  # DOTADataset splits annotation lines on white space
    assert set(TOY_STAR_CLASSES) <= set(STAR_CLASSES)
    assert any('_' in name for name in TOY_STAR_CLASSES)


def test_star_config_reads_the_star_data(toy_star):
    cfg = star_config('mona')
    assert 'STAR_CLASSES' not in cfg and 'star' not in cfg  # the helpers stay out of the resolved config
    assert cfg.model.roi_head.bbox_head.num_classes == 48
    register_scope_modules(cfg)
    init_default_scope(cfg.default_scope)
    from mmrotate.registry import DATASETS
    for loader, split in ((cfg.train_dataloader, 'train'), (cfg.val_dataloader, 'test')):
        assert loader.dataset.ann_file == f'{split}/annfiles/'
        assert tuple(loader.dataset.metainfo.classes) == STAR_CLASSES
        dataset = DATASETS.build(dict(loader.dataset, data_root=toy_star, pipeline=[]))
        assert type(dataset).__name__ == 'DOTADataset'
        assert tuple(dataset.metainfo['classes']) == STAR_CLASSES
        assert len(dataset) == (4 if split == 'train' else 2)
        names = set()
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            txt = osp.join(toy_star, split, 'annfiles', osp.basename(info['img_path'])[:-4] + '.txt')
            with open(txt) as f:
                expected = [line.split()[8] for line in f if line.strip()]
            parsed = [STAR_CLASSES[instance['bbox_label']] for instance in info['instances']]
            assert parsed == expected  # multi-word names come through whole, with STAR's label order
            names.update(parsed)
        assert names <= set(TOY_STAR_CLASSES) and any('_' in name for name in names)


def test_star_oriented_detection(toy_star, tmp_path):
    """Mona's STAR config, backbone, neck and heads shrunk (STAR's 48 classes kept), two iterations and DOTAMetric."""
    cfg = shrunk_star_config('mona')
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = toy_star
        set_image_size(loader.dataset.pipeline, (128, 128))
    cfg.test_dataloader = cfg.val_dataloader
    metrics = short_run(cfg, tmp_path)
    check_metrics(metrics, ['dota/mAP', 'dota/AP50'])
