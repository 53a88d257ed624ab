"""`type='mmpetl.<Name>'` resolves from every downstream library's scope, without custom_imports."""
import subprocess
import sys

import pytest
from mmengine.registry import DefaultScope

PETL_SWIN = dict(
    type='mmpetl.PETLBackbone',
    backbone=dict(type='SWIN', embed_dims=32, depths=(2, 2), num_heads=(1, 2), out_indices=(0, 1)),
    method=dict(type='Mona'))


@pytest.mark.parametrize('scope, swin', [
    ('mmdet', 'mmdet.SwinTransformer'),
    ('mmseg', 'mmseg.SwinTransformer'),
    ('mmpretrain', 'mmpretrain.SwinTransformer'),
    ('mmrotate', 'mmdet.SwinTransformer'),  # mmrotate reuses mmdet's Swin
])
def test_petl_backbone_resolves_from_downstream_scope(scope, swin):
    import importlib
    registry = importlib.import_module(f'{scope}.registry')
    assert registry.MODELS.get('mmpetl.PETLBackbone') is not None
    cfg = dict(PETL_SWIN, backbone=dict(PETL_SWIN['backbone'], type=swin))
    if scope == 'mmpretrain':  # mmpretrain's Swin takes arch=dict(...) instead of embed_dims/depths/num_heads
        cfg['backbone'] = dict(type=swin, arch=dict(embed_dims=32, depths=(2, 2), num_heads=(1, 2)),
                               out_indices=(0, 1))
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.MODELS.build(cfg)
    assert type(model).__name__ == 'PETLSwinTransformer'
    assert any('mona' in name for name, _ in model.named_parameters())


def test_import_mmpetl_does_not_import_downstream_libraries():
    code = ('import sys, mmpetl, mmpetl.models, mmpetl.registry, mmpetl.utils; '
            'print(sorted(m for m in ("mmdet", "mmseg", "mmpretrain", "mmrotate") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[]'
