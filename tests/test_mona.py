"""Mona: the adapter itself, its placement in Swin blocks, its parameter count, its initialisation."""
import pytest
import torch

from mmpetl.benchmark import STANDARD_BACKBONES
from mmpetl.models import build_petl_backbone
from mmpetl.models.methods import MonaAdapter
from mmpetl.utils import count_parameters

from conftest import TINY_SWIN

SWIN_B = STANDARD_BACKBONES['Swin-B']
SWIN_L = STANDARD_BACKBONES['Swin-L']


def test_adapter_output_shape_and_residual():
    adapter = MonaAdapter(48)
    x = torch.randn(2, 6 * 5, 48)
    out = adapter(x, (6, 5))
    assert out.shape == x.shape
    # zero up-projection: the adapter is exactly its residual
    torch.nn.init.zeros_(adapter.up_proj.weight)
    torch.nn.init.zeros_(adapter.up_proj.bias)
    assert torch.equal(adapter(x, (6, 5)), x)


def test_adapter_rejects_tokens_that_cannot_hold_the_grid():
    with pytest.raises(ValueError, match='cannot hold the patch grid 3x4'):
        MonaAdapter(16)(torch.randn(1, 10, 16), (3, 4))


def test_cls_token_bypasses_the_convolution_path():
    adapter = MonaAdapter(16).eval()
    patches = torch.randn(1, 12, 16)
    cls_a, cls_b = torch.randn(1, 1, 16), torch.randn(1, 1, 16)
    out_a = adapter(torch.cat([cls_a, patches], 1), (3, 4))
    out_b = adapter(torch.cat([cls_b, patches], 1), (3, 4))
    # the patch tokens do not see the cls token (it never enters the convolutions) ...
    assert torch.equal(out_a[:, 1:], out_b[:, 1:])
    # ... and the cls token goes through the rest of the adapter
    assert torch.allclose(out_a[:, :1], cls_a + adapter.up_proj(torch.nn.functional.gelu(
        adapter.down_proj(adapter.norm(cls_a) * adapter.gamma + cls_a))))


@pytest.mark.parametrize('channels', [32, 128, 768, 1024])
def test_adapter_parameter_count(channels):
    adapter = MonaAdapter(channels)
    assert count_parameters(adapter)['total'] == 133 * channels + 9728 == MonaAdapter.num_parameters(channels)


def test_scaled_norm_at_initialisation_is_nearly_identity():
    adapter = MonaAdapter(64)
    x = torch.randn(2, 16, 64) * 3 + 1
    scaled = adapter.norm(x) * adapter.gamma + x * adapter.gammax
    assert torch.all(adapter.gamma == 1e-6) and torch.all(adapter.gammax == 1)
    assert torch.allclose(scaled, x, atol=1e-5) and not torch.equal(scaled, x)  # x + 1e-6 * LN(x)


@pytest.mark.slow
@pytest.mark.parametrize('swin, expected', [(SWIN_B, 3_667_456), (SWIN_L, 5_267_712)])
def test_swin_trainable_backbone_parameters(swin, expected):
    model = build_petl_backbone(swin, dict(type='Mona'))
    counts = count_parameters(model)
    assert counts['trainable'] == expected
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all('.mona_' in n for n in trainable)
    assert len([m for m in model.modules() if isinstance(m, MonaAdapter)]) == 2 * 24


@pytest.mark.parametrize('swin', ['mmdet.SwinTransformer', 'mmseg.SwinTransformer'])
def test_mona_sits_after_each_residual(swin):
    """With Mona forced to be the identity, the PETL Swin computes exactly the upstream Swin."""
    from mmengine.registry import MODELS
    torch.manual_seed(0)
    upstream = MODELS.build(dict(TINY_SWIN, type=swin))
    upstream.eval()  # (mmdet's Swin.train() returns None)
    torch.manual_seed(0)
    model = build_petl_backbone(dict(TINY_SWIN, type=swin), dict(type='Mona'))
    model.eval()
    model.load_state_dict(upstream.state_dict(), strict=False)
    x = torch.randn(1, 3, 64, 64)
    for adapter in (m for m in model.modules() if isinstance(m, MonaAdapter)):
        torch.nn.init.zeros_(adapter.up_proj.weight)
        torch.nn.init.zeros_(adapter.up_proj.bias)
    for out, ref in zip(model(x), upstream(x)):
        assert torch.equal(out, ref)
    # Where the adapters read the stream: after the attention residual, and after the MLP residual (block output).
    block, ref_block = model.stages[0].blocks[0], upstream.stages[0].blocks[0]
    seen = {}

    def record(key):
        def hook(module, args):
            seen.setdefault(key, args)
        return hook

    block.register_forward_pre_hook(record('block_in'))
    block.mona_attn.register_forward_pre_hook(record('attn'))
    block.mona_mlp.register_forward_pre_hook(record('mlp'))
    model(x)
    x0, hw_shape = seen['block_in']
    assert torch.equal(seen['attn'][0], x0 + ref_block.attn(ref_block.norm1(x0), hw_shape))
    assert torch.equal(seen['mlp'][0], ref_block(x0, hw_shape))


def test_mona_initialisation_survives_upstream_init_weights():
    model = build_petl_backbone(dict(TINY_SWIN, type='mmdet.SwinTransformer'), dict(type='Mona'))
    adapters = [m for m in model.modules() if isinstance(m, MonaAdapter)]
    for adapter in adapters:
        for p in adapter.parameters():
            torch.nn.init.constant_(p, 7.0)
    model.init_weights()  # mmdet's Swin re-initialises every nn.Linear; Mona's own init must come back
    for adapter in adapters:
        assert torch.all(adapter.gamma == 1e-6) and torch.all(adapter.gammax == 1)
        assert torch.all(adapter.norm.weight == 1) and torch.all(adapter.norm.bias == 0)
        assert torch.all(adapter.down_proj.bias == 0) and torch.all(adapter.up_proj.bias == 0)
        assert 0.015 < adapter.down_proj.weight.std() < 0.025  # trunc_normal(std=0.02)
        assert not torch.any(adapter.conv.dw7.weight == 7.0)
