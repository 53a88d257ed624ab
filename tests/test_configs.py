"""Every config under configs/ builds its model with the real registries (a config that does not build fails CI)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from conftest import ROOT

CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '/_base_/' not in p)
# The folders of the configs on the shipped small backbones (seconds to build); every other config builds a full-size
# Swin-B/L or ViT-B model (up to a minute on 2 cores): `pytest -m "not slow"` leaves those out.
SMALL_BACKBONE_DIRS = ('demo', 'transfer', 'pretrain')


def config_case(path):
    small = osp.relpath(path, osp.join(ROOT, 'configs')).split(osp.sep)[0] in SMALL_BACKBONE_DIRS
    return path if small else pytest.param(path, marks=pytest.mark.slow)


def test_there_are_configs_for_every_method():
    methods = {osp.basename(osp.dirname(p)) for p in CONFIGS}
    assert {'mona', 'e3va', 'hst', 'full', 'fixed', 'bitfit', 'lntune', 'partial1', 'adapter', 'lora', 'adaptformer',
            'lorand', 'colin'} <= methods


@pytest.mark.parametrize('path', [config_case(p) for p in CONFIGS],
                         ids=lambda p: osp.relpath(p, osp.join(ROOT, 'configs')))
def test_config_builds_its_model(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    backbone = model.backbone
    method_dir = osp.basename(osp.dirname(path))
    if method_dir == 'pretrain':  # the small backbones' upstream pretraining: a plain mmpretrain classifier
        assert type(backbone).__name__ in ('SwinTransformer', 'VisionTransformer')
        return
    method = cfg.model.backbone.method['type']
    assert type(backbone).__name__.startswith('PETL'), 'the backbone is not a PETL backbone'
    assert type(backbone.petl_method).__name__ == method
    if method_dir not in ('demo', 'transfer'):
        assert method.lower() == method_dir, f'a {method} config in configs/{method_dir}/'
