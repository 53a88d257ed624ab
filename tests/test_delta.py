"""Delta checkpoints (mmpetl/models/delta.py): what they hold, the base fingerprint, loading onto the base, LoRA
folding, and DeltaCheckpointHook's loading side."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import MODELS
from torch import nn

from conftest import TINY_SWIN
from mmpetl.engine import DeltaCheckpointHook
from mmpetl.models import build_petl_backbone
from mmpetl.models.delta import (DeltaBaseMismatch, base_fingerprint, delta_keys, fold_lora, human_size, is_delta,
                                 load_delta, make_delta)


class ToyDetector(nn.Module):
    """A PETL backbone and a 'head' trained from scratch: the structure of a detector, at the size of a test."""

    def __init__(self, pretrained=None, method='Mona'):
        super().__init__()
        init_cfg = ConfigDict(type='Pretrained', checkpoint=pretrained) if pretrained else None
        self.backbone = build_petl_backbone(dict(type='mmdet.SwinTransformer', init_cfg=init_cfg, **TINY_SWIN),
                                            dict(type=method))
        self.head = nn.Linear(64, 3)

    def forward(self, x):
        return self.head(self.backbone(x)[-1].mean((2, 3)))


def write_base(path, seed):
    """A pretrained file for the tiny Swin (mmdet's Swin wants the 'backbone.' prefix)."""
    torch.manual_seed(seed)
    state_dict = build_petl_backbone(dict(type='mmdet.SwinTransformer', **TINY_SWIN), dict(type='Fixed')).state_dict()
    torch.save({'state_dict': {'backbone.' + k: v for k, v in state_dict.items()}}, path)
    return str(path)


@pytest.fixture
def trained(tmp_path):
    """A ToyDetector on a pretrained base whose tuned tensors moved away from their initialisation."""
    model = ToyDetector(write_base(tmp_path / 'base.pth', seed=1))
    model.backbone.init_weights()
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param))
    return model, str(tmp_path / 'base.pth')


def test_delta_holds_everything_but_the_frozen_base(trained):
    model, _ = trained
    keys = set(delta_keys(model))
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    tuned = {n for n, p in model.named_parameters() if p.requires_grad}
    assert tuned <= keys and not keys & frozen
    assert {'head.weight', 'head.bias'} <= keys and any('.mona_attn.' in k for k in keys)
    assert not any(k.endswith('relative_position_index') for k in keys)  # integer buffers come from the config


def test_fingerprint_covers_frozen_weights_only(trained):
    model, _ = trained
    fingerprint, count = base_fingerprint(model)
    assert fingerprint.startswith('sha256:') and count == sum(not p.requires_grad for p in model.parameters())
    with torch.no_grad():
        model.backbone.stages[0].blocks[0].mona_attn.gamma.add_(1.0)  # a tuned tensor: same base
        model.head.bias.add_(1.0)
    assert base_fingerprint(model)[0] == fingerprint
    with torch.no_grad():
        model.backbone.patch_embed.projection.weight.view(-1)[-1] += 1e-3  # the last element is always sampled
    assert base_fingerprint(model)[0] != fingerprint


def test_delta_file_is_small_and_loads_with_weights_only(trained, tmp_path):
    model, _ = trained
    path = str(tmp_path / 'delta.pth')
    torch.save(make_delta(model, meta=dict(iter=7)), path)
    delta = torch.load(path, weights_only=True)
    assert is_delta(delta) and delta['meta']['iter'] == 7
    assert delta['meta']['petl'] == {'backbone': {'upstream': 'mmdet.SwinTransformer', 'method': {'type': 'Mona'}}}
    stored = sum(t.numel() for t in delta['state_dict'].values())
    assert stored < sum(t.numel() for t in model.state_dict().values()) / 2


def test_delta_loads_onto_a_fresh_model_through_the_pretrained_init(trained, tmp_path):
    model, base = trained
    path = str(tmp_path / 'delta.pth')
    torch.save(make_delta(model), path)
    fresh = ToyDetector(base)  # random weights until the delta's base is loaded by init_cfg
    load_delta(fresh, path)
    expected = model.state_dict()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in fresh.state_dict().items())
    x = torch.rand(1, 3, 64, 64)
    model.eval(), fresh.eval()
    assert torch.equal(model(x), fresh(x))


def test_delta_on_another_base_fails_unless_forced(trained, tmp_path):
    model, _ = trained
    delta = make_delta(model)
    other = ToyDetector(write_base(tmp_path / 'other.pth', seed=2))
    with pytest.raises(DeltaBaseMismatch) as error:
        load_delta(other, delta)
    message = str(error.value)
    assert delta['meta']['base_fingerprint'] in message and base_fingerprint(other)[0] in message
    assert '--force-delta' in message and 'force=True' in message
    load_delta(other, delta, force=True)
    assert torch.equal(other.head.weight, model.head.weight)


def test_delta_of_another_method_is_refused(trained):
    model, base = trained
    with pytest.raises(ValueError, match='does not fit this model'):
        load_delta(ToyDetector(base, method='Adapter'), make_delta(model), force=True)


def test_folded_lora_in_the_plain_upstream_model_equals_the_petl_model():
    torch.manual_seed(0)
    petl = build_petl_backbone(dict(type='mmdet.SwinTransformer', **TINY_SWIN), dict(type='LoRA', rank=4, alpha=2.0))
    with torch.no_grad():
        for name, param in petl.named_parameters():
            if '.lora.' in name:  # B starts at zero: give both factors values so that the update is not zero
                param.copy_(torch.randn_like(param) * 0.1)
    folded = fold_lora(petl, petl.state_dict())
    assert not any('.lora.' in k for k in folded)
    plain = MODELS.build(dict(type='mmdet.SwinTransformer', **TINY_SWIN))
    plain.load_state_dict(folded, strict=True)
    x = torch.rand(2, 3, 64, 64)
    petl.eval(), plain.eval()
    for ours, theirs in zip(petl(x), plain(x)):
        torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(folded['stages.0.blocks.0.attn.w_msa.qkv.weight'],
                              petl.state_dict()['stages.0.blocks.0.attn.w_msa.qkv.weight'])


def test_fold_lora_refuses_methods_that_do_not_fold(trained):
    model, _ = trained
    with pytest.raises(ValueError, match='no LoRA modules'):
        fold_lora(model, model.state_dict())


def test_hook_loads_a_delta_and_refuses_to_resume_from_one(trained):
    model, base = trained
    delta = make_delta(model)
    fresh = ToyDetector(base)
    checkpoint = dict(delta, state_dict=dict(delta['state_dict']))
    DeltaCheckpointHook().after_load_checkpoint(SimpleNamespace(model=fresh, _resume=False), checkpoint)
    # the runner then loads checkpoint['state_dict']: the whole model, so no 'missing keys' for the base
    assert set(checkpoint['state_dict']) == set(fresh.state_dict())
    assert torch.equal(fresh.head.weight, model.head.weight)
    with pytest.raises(ValueError, match='Cannot resume from a delta checkpoint'):
        DeltaCheckpointHook().after_load_checkpoint(SimpleNamespace(model=fresh, _resume=True), dict(delta))
    full = dict(meta=dict(iter=1), state_dict=model.state_dict())
    DeltaCheckpointHook().after_load_checkpoint(SimpleNamespace(model=fresh, _resume=True), full)  # not a delta: no-op


@pytest.mark.parametrize('num_bytes, text', [
    (0, '0 B'), (1023, '1023 B'), (1024, '1.0 KiB'), (1536, '1.5 KiB'), (1024**2 - 1, '1.0 MiB'),
    (int(14.7 * 2**20), '14.7 MiB'), (3 * 2**30, '3.0 GiB'), (5 * 2**40, '5.0 TiB'), (2**50, '1024.0 TiB'),
])
def test_human_size_prints_the_binary_unit_it_divides_by(num_bytes, text):
    assert human_size(num_bytes) == text
