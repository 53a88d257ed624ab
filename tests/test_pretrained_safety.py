"""Pretrained-weight safety: a PETL backbone's init_weights() counts what the upstream Pretrained init loaded and
fails, naming the likely cause, when the checkpoint's keys do not match (real files written from a tiny Swin)."""
import pytest
import torch
from mmengine.config import ConfigDict

from conftest import TINY_SWIN
from mmpetl.models import build_petl_backbone
from mmpetl.models import pretrained as pretrained_module


def official_key(key: str) -> str:
    """mmdet's Swin key -> the official Swin release's key (the inverse of mmdet's swin_converter's renaming)."""
    for ours, theirs in (('stages.', 'layers.'), ('attn.w_msa.', 'attn.'), ('ffn.layers.0.0.', 'mlp.fc1.'),
                         ('ffn.layers.1.', 'mlp.fc2.'), ('patch_embed.projection.', 'patch_embed.proj.')):
        key = key.replace(ours, theirs)
    return key


@pytest.fixture(scope='module')
def swin_weights():
    """The state dict of a tiny mmdet Swin (what a pretrained file holds), without the output norms."""
    torch.manual_seed(1)
    state_dict = build_petl_backbone(dict(type='mmdet.SwinTransformer', **TINY_SWIN), dict(type='Fixed')).state_dict()
    return {k: v for k, v in state_dict.items() if not k.startswith('norm')}


@pytest.fixture
def logs(monkeypatch):
    messages = []
    monkeypatch.setattr(pretrained_module, 'print_log', lambda msg, **kwargs: messages.append(msg))
    return messages


def save(tmp_path, name, state_dict):
    path = str(tmp_path / f'{name}.pth')
    torch.save({'state_dict': state_dict}, path)
    return path


def build(path, upstream='mmdet.SwinTransformer', method='Mona', init_cfg=None, backbone_options=None, **kwargs):
    """A tiny PETL Swin of ``upstream`` whose init_cfg loads ``path``; ``kwargs`` go to PETLBackbone."""
    if upstream == 'mmpretrain.SwinTransformer':
        backbone = dict(type=upstream, arch=dict(embed_dims=32, depths=[2, 2], num_heads=[1, 2]), img_size=64,
                        out_indices=(0, 1))
    else:
        backbone = dict(type=upstream, **TINY_SWIN)
    backbone.update(init_cfg=ConfigDict(type='Pretrained', checkpoint=path, **(init_cfg or {})),
                    **(backbone_options or {}))
    return build_petl_backbone(backbone, dict(type=method), **kwargs)


def test_matching_checkpoint_loads_and_logs_counts(tmp_path, swin_weights, logs):
    path = save(tmp_path, 'good', {'backbone.' + k: v for k, v in swin_weights.items()})  # mmdet's Swin wants it
    model = build(path)
    model.init_weights()
    upstream = [n for n in swin_weights if n in dict(model.named_parameters())]
    assert f'{len(upstream)}/{len(upstream)} upstream tensors loaded (100.0 %), 0 missing' in logs[-1]
    assert 'norm0.weight' in logs[-1]  # the output norms, which no pretrained checkpoint holds, are named
    loaded = dict(model.named_parameters())
    assert all(torch.equal(loaded[n], swin_weights[n]) for n in upstream)


def test_extra_backbone_prefix_fails_with_the_prefix_hint(tmp_path, swin_weights):
    path = save(tmp_path, 'extra_prefix', {'backbone.backbone.' + k: v for k, v in swin_weights.items()})
    with pytest.raises(RuntimeError, match=r"match once the prefix 'backbone\.' is removed"):
        build(path).init_weights()


def test_missing_prefix_for_mmdet_swin_fails_with_the_prefix_hint(tmp_path, swin_weights):
    # mmdet's Swin keeps only keys that start with 'backbone.' and then fails with an IndexError
    path = save(tmp_path, 'bare', dict(swin_weights))
    with pytest.raises(RuntimeError, match=r"keeps only keys that start with 'backbone\.'"):
        build(path).init_weights()


@pytest.mark.parametrize('upstream', ['mmdet.SwinTransformer', 'mmseg.SwinTransformer'])
def test_official_swin_keys_fail_with_the_conversion_hint(tmp_path, swin_weights, upstream):
    path = save(tmp_path, 'official', {official_key(k): v for k, v in swin_weights.items()})
    with pytest.raises(RuntimeError, match='official Swin release layout.*convert_weights=True') as error:
        build(path, upstream=upstream).init_weights()
    assert 'stages.0.blocks.0' in str(error.value) or 'backbone.' in str(error.value)  # names missing keys


def test_official_swin_keys_load_with_convert_weights(tmp_path, swin_weights, logs):
    path = save(tmp_path, 'official', {official_key(k): v for k, v in swin_weights.items()})
    build(path, backbone_options=dict(convert_weights=True)).init_weights()
    assert '(100.0 %), 0 missing' in logs[-1]


def test_mmpretrain_whole_model_checkpoint_needs_the_prefix(tmp_path, logs):
    torch.manual_seed(2)
    source = build('unused', upstream='mmpretrain.SwinTransformer', method='Fixed')
    path = save(tmp_path, 'classifier', {'backbone.' + k: v for k, v in source.state_dict().items()})
    with pytest.raises(RuntimeError, match=r"prefix 'backbone\.'.*prefix='backbone\.'"):
        build(path, upstream='mmpretrain.SwinTransformer').init_weights()
    build(path, upstream='mmpretrain.SwinTransformer', init_cfg=dict(prefix='backbone.')).init_weights()
    assert '(100.0 %), 0 missing' in logs[-1]


def test_partial_load_fails_unless_the_share_is_lowered(tmp_path, swin_weights, logs):
    dropped = sorted(k for k in swin_weights if k.startswith('stages.1.blocks.1.'))[:3]
    path = save(tmp_path, 'partial', {'backbone.' + k: v for k, v in swin_weights.items() if k not in dropped})
    upstream = len(swin_weights) - sum(k.endswith('relative_position_index') for k in swin_weights)  # parameters
    with pytest.raises(RuntimeError, match=f'loaded only {upstream - 3} of {upstream} upstream tensors') as error:
        build(path).init_weights()
    assert all(key in str(error.value) for key in dropped)
    assert 'min_loaded_share 100.0 %' in str(error.value) and 'only some of the backbone' in str(error.value)
    build(path, min_loaded_share=0.9).init_weights()
    assert '3 missing' in logs[-1]


def test_share_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match='min_loaded_share must be in'):
        build_petl_backbone(dict(type='mmdet.SwinTransformer', **TINY_SWIN), dict(type='Mona'), min_loaded_share=1.5)


def test_random_frozen_backbone_is_reported(logs):
    build_petl_backbone(dict(type='mmdet.SwinTransformer', **TINY_SWIN), dict(type='Mona')).init_weights()
    assert any('frozen backbone tensors keep their random initialisation' in message for message in logs)
