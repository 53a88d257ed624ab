"""E³VA: the adapter, the highway beside the frozen Swin, its gradients, its saved-for-backward memory, its counts."""
from copy import deepcopy

import pytest
import torch
from mmengine.registry import MODELS

import mmpetl.models.methods.e3va  # noqa: F401  (registers E3VA whether or not methods/__init__.py imports it)
from mmpetl.benchmark import STANDARD_BACKBONES
from mmpetl.models import build_petl_backbone
from mmpetl.models.blocks import ForwardRecord
from mmpetl.models.methods.e3va import E3VA, E3VAAdapter, E3VANorm
from mmpetl.utils import count_parameters

from conftest import TINY_SWIN

SWIN_B = dict(STANDARD_BACKBONES['Swin-B'], window_size=7)
SWIN_L = dict(STANDARD_BACKBONES['Swin-L'], window_size=7)
MMDET_TINY = dict(TINY_SWIN, type='mmdet.SwinTransformer')
TINY = {
    'mmdet': MMDET_TINY,
    'mmseg': dict(TINY_SWIN, type='mmseg.SwinTransformer'),
    'mmpretrain': dict(type='mmpretrain.SwinTransformer', arch=dict(embed_dims=32, depths=(2, 2), num_heads=(1, 2)),
                       img_size=64, out_indices=(0, 1)),
    # mmpretrain's other layout: output s is taken after stage s's patch merging.
    'mmpretrain-out-after-downsample': dict(
        type='mmpretrain.SwinTransformer', arch=dict(embed_dims=32, depths=(2, 2, 2), num_heads=(1, 2, 4)),
        img_size=64, out_indices=(0, 1), out_after_downsample=True, pad_small_map=True),
}
# An odd grid (15 x 19 tokens) exercises the patch merging's padding on the highway too.
IMAGE = (2, 3, 60, 76)


def build_pair(cfg):
    """The upstream backbone and an E3VA backbone with the same upstream weights, both in eval mode."""
    upstream = MODELS.build(cfg)
    upstream.eval()  # (mmdet's Swin.train() returns None)
    model = build_petl_backbone(cfg, dict(type='E3VA'))
    missing = model.load_state_dict(upstream.state_dict(), strict=False).missing_keys
    assert missing and all('e3va_' in key for key in missing)
    model.eval()
    return upstream, model


def e3va_parameters(model):
    return [(name, param) for name, param in model.named_parameters() if 'e3va_' in name]


def perturb(model):
    """Move every E3VA parameter off its initialisation (the up-projections and norms start at zero)."""
    with torch.no_grad():
        for _, param in e3va_parameters(model):
            param.normal_(0.0, 0.1)


def of_type(model, cls):
    return [m for m in model.modules() if isinstance(m, cls)]


def test_adapter_has_a_linear_and_a_gelu_low_rank_path():
    adapter = E3VAAdapter(48, rank=8)
    assert E3VAAdapter.num_parameters(48, 8) == count_parameters(adapter)['total'] == 17 * 48 + 8
    x = torch.randn(2, 30, 48)
    assert torch.equal(adapter.adapt(x), torch.zeros_like(x))  # zero up-projection: zero at init
    with torch.no_grad():
        adapter.up.weight.normal_()
        adapter.down.bias.zero_()
        linear_only = adapter.up.weight.clone()
        linear_only[:, 4:] = 0  # drop the GELU path (the last rank/2 channels)
        gelu_only = adapter.up.weight - linear_only
        adapter.up.weight.copy_(linear_only)
        assert torch.allclose(adapter.adapt(3 * x), 3 * adapter.adapt(x), atol=1e-5)
        adapter.up.weight.copy_(gelu_only)
        assert not torch.allclose(adapter.adapt(-x), -adapter.adapt(x), atol=1e-3)
    # In the frozen forward the adapter only taps: the branch output goes on unchanged, a detached view is recorded
    # in the call's record.
    branch_out = torch.randn(2, 30, 48, requires_grad=True)
    with ForwardRecord() as record:
        assert adapter(branch_out, x, (5, 6)) is branch_out
    tapped = record.take(adapter, 'test')
    assert torch.equal(tapped, branch_out) and not tapped.requires_grad
    assert adapter(branch_out, x, (5, 6)) is branch_out  # with no forward of a PETL backbone running, nothing kept


@pytest.mark.parametrize('rank', [0, 7])
def test_adapter_rejects_a_rank_that_does_not_split_in_two(rank):
    with pytest.raises(ValueError, match='even'):
        E3VAAdapter(16, rank)


@pytest.mark.parametrize('name', list(TINY))
def test_outputs_have_upstream_shapes_and_equal_the_frozen_backbone_at_init(name):
    upstream, model = build_pair(TINY[name])
    x = torch.randn(*IMAGE)
    outs, refs = model(x), upstream(x)
    assert type(outs) is type(refs) and len(outs) == len(refs) == 2
    for out, ref in zip(outs, refs):
        assert out.shape == ref.shape and out.is_contiguous()
        assert torch.equal(out, ref)


def test_highway_computes_the_documented_sum():
    """out_s = frozen_out_s + Norm_s(h_s); h starts at the stage-0 input, gains A_attn(attn_out) + A_mlp(mlp_out)
    per block, and goes through the backbone's own patch merging between stages. Recomputed from the upstream."""
    cfg = dict(MMDET_TINY, depths=(2, 2, 2), num_heads=(1, 2, 4), out_indices=(0, 2))
    upstream, model = build_pair(cfg)
    perturb(model)
    seen = {}

    def record(key, index=0):
        def hook(module, args, output):
            seen[key] = output[index] if isinstance(output, tuple) else output
        return hook

    upstream.drop_after_pos.register_forward_hook(record('x0'))
    upstream.patch_embed.register_forward_hook(record('hw0', 1))
    for s, stage in enumerate(upstream.stages):
        for b, block in enumerate(stage.blocks):
            block.attn.register_forward_hook(record(('attn', s, b)))
            block.ffn.layers.register_forward_hook(record(('mlp', s, b)))  # the MLP branch (eval: no drop-path)
    x = torch.randn(*IMAGE)
    refs = upstream(x)
    h, hw_shape = seen['x0'], seen['hw0']
    expected = []
    for s, stage in enumerate(model.stages):
        for b, block in enumerate(stage.blocks):
            h = h + block.e3va_attn.adapt(seen[('attn', s, b)]) + block.e3va_mlp.adapt(seen[('mlp', s, b)])
        if s in cfg['out_indices']:
            highway = getattr(model, f'e3va_norm{s}')(h).view(-1, *hw_shape, h.shape[-1]).permute(0, 3, 1, 2)
            expected.append(refs[len(expected)] + highway)
        if stage.downsample is not None:
            h, hw_shape = stage.downsample(h, hw_shape)
    outs = model(x)
    assert len(outs) == len(expected) == 2
    for out, exp, ref in zip(outs, expected, refs):
        assert torch.allclose(out, exp, atol=1e-6) and not torch.allclose(out, ref, atol=1e-3)


@pytest.mark.parametrize('name', ['mmdet', 'mmpretrain-out-after-downsample'])
def test_stage_wide_up_projection_equals_adding_each_adapter(name, monkeypatch):
    """The highway's one up-projection per stage gives the outputs and gradients of adding each adapter's output to
    the stream in turn (float64, so that only the order of additions differs)."""
    model = build_petl_backbone(TINY[name], dict(type='E3VA')).double()
    model.train()
    perturb(model)
    x = torch.randn(*IMAGE, dtype=torch.float64)
    weights = [torch.randn_like(out) for out in model(x)]

    def outputs_and_gradients():
        model.zero_grad(set_to_none=True)
        outs = model(x)
        sum((out * w).sum() for out, w in zip(outs, weights)).backward()
        return [out.detach() for out in outs], {n: p.grad.clone() for n, p in e3va_parameters(model)}

    outs, grads = outputs_and_gradients()

    def one_by_one(self, stage, record):
        adapters = [getattr(block, f'e3va_{suffix}') for block in stage.blocks for suffix in ('attn', 'mlp')]
        return sum(adapter.adapt(record.take(adapter, 'test')) for adapter in adapters)

    monkeypatch.setattr(E3VA, '_stage_sum', one_by_one)
    ref_outs, ref_grads = outputs_and_gradients()
    assert len(outs) == len(ref_outs) and grads.keys() == ref_grads.keys()
    for out, ref in zip(outs, ref_outs):
        torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    for key, grad in grads.items():
        assert grad.abs().sum() > 0, key
        torch.testing.assert_close(grad, ref_grads[key], rtol=1e-10, atol=1e-12, msg=key)


@pytest.mark.parametrize('name', ['mmdet', 'mmseg', 'mmpretrain'])
def test_gradients_reach_the_highway_only(name):
    model = build_petl_backbone(TINY[name], dict(type='E3VA'))
    model.train()
    graph_built = []
    for stage in model.stages:
        for block in stage.blocks:
            block.register_forward_hook(lambda m, args, out: graph_built.append(out.requires_grad))
    x = torch.randn(*IMAGE)
    sum(out.sum() for out in model(x)).backward()
    assert graph_built and not any(graph_built)  # the frozen backbone ran without an autograd graph
    frozen = [(n, p) for n, p in model.named_parameters() if 'e3va_' not in n]
    assert frozen and all(not p.requires_grad and p.grad is None for _, p in frozen)
    assert all(p.requires_grad and p.grad is not None for _, p in e3va_parameters(model))
    # At init only the norms' weights see a non-zero gradient (they gate the highway); off the init, everything does.
    assert all(norm.weight.grad.abs().sum() > 0 for norm in of_type(model, E3VANorm))
    model.zero_grad(set_to_none=True)
    perturb(model)
    sum(out.sum() for out in model(x)).backward()
    assert all(p.grad is None for _, p in frozen)
    assert all(p.grad.abs().sum() > 0 for _, p in e3va_parameters(model))


def saved_bytes(model, x):
    """Bytes the autograd graph saves for backward during ``model(x)`` (each packed tensor counted)."""
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(x)
    return total


@pytest.mark.slow
def test_saved_for_backward_is_at_most_15_percent_of_full_fine_tuning(capsys):
    """Swin-B, 1x3x512x512, training mode: the E3VA graph against the full fine-tuning graph of the plain backbone."""
    x = torch.randn(1, 3, 512, 512)
    full = MODELS.build(SWIN_B)
    full.train()
    assert all(p.requires_grad for p in full.parameters())
    full_bytes = saved_bytes(full, x)
    del full
    model = build_petl_backbone(SWIN_B, dict(type='E3VA'))
    model.train()
    e3va_bytes = saved_bytes(model, x)
    ratio = e3va_bytes / full_bytes
    report = (f'saved for backward, Swin-B 1x3x512x512: full fine-tuning {full_bytes / 2**20:.1f} MiB, '
              f'E3VA {e3va_bytes / 2**20:.1f} MiB, ratio {ratio:.3f}')
    with capsys.disabled():
        print(f'\n{report}')
    assert 0 < ratio <= 0.15, report


@pytest.mark.slow
@pytest.mark.parametrize('swin, expected', [(SWIN_B, 1_184_128), (SWIN_L, 1_775_616)])
def test_trainable_parameters_follow_the_closed_form(swin, expected):
    model = build_petl_backbone(swin, dict(type='E3VA'))
    assert count_parameters(model)['trainable'] == E3VA.num_parameters(swin['embed_dims'], swin['depths']) == expected
    assert all('e3va_' in n for n, p in model.named_parameters() if p.requires_grad)
    assert len(of_type(model, E3VAAdapter)) == 2 * 24 and len(of_type(model, E3VANorm)) == 4


def test_stages_after_the_last_output_get_no_adapter():
    cfg = dict(MMDET_TINY, depths=(2, 2, 2), num_heads=(1, 2, 4), out_indices=(1,))
    upstream, model = build_pair(cfg)
    assert not of_type(model.stages[2], E3VAAdapter)
    assert count_parameters(model)['trainable'] == E3VA.num_parameters(32, (2, 2, 2), out_indices=(1,))
    x = torch.randn(*IMAGE)
    (out,), (ref,) = model(x), upstream(x)
    assert torch.equal(out, ref)
    perturb(model)
    model(x)[0].sum().backward()
    assert all(p.grad.abs().sum() > 0 for _, p in e3va_parameters(model))  # no unused parameter (DDP-safe)


def test_state_dict_round_trip():
    upstream, model = build_pair(MMDET_TINY)
    perturb(model)
    state = model.state_dict()
    assert set(upstream.state_dict()) <= set(state)  # upstream checkpoints keep loading
    assert {k for k in state if k not in upstream.state_dict()} == {n for n, _ in e3va_parameters(model)}
    assert {'e3va_norm0.weight', 'stages.1.blocks.1.e3va_mlp.up.weight'} <= set(state)
    torch.manual_seed(1)
    restored = build_petl_backbone(MMDET_TINY, dict(type='E3VA'))
    restored.load_state_dict(state, strict=True)
    restored.eval()
    x = torch.randn(*IMAGE)
    for out, ref in zip(restored(x), model(x)):
        assert torch.equal(out, ref)


def test_a_deep_copy_runs_its_own_highway():
    """mmengine's EMA hook deep-copies the model: the copy's method must drive the copy's modules."""
    upstream, model = build_pair(MMDET_TINY)
    copy = deepcopy(model)
    perturb(copy)
    x = torch.randn(*IMAGE)
    for out, copied, ref in zip(model(x), copy(x), upstream(x)):
        assert torch.equal(out, ref) and not torch.allclose(copied, ref, atol=1e-3)


def test_initialisation_survives_upstream_init_weights():
    model = build_petl_backbone(MMDET_TINY, dict(type='E3VA'))
    for _, param in e3va_parameters(model):
        torch.nn.init.constant_(param, 7.0)
    model.init_weights()  # mmdet's Swin re-initialises every nn.Linear and nn.LayerNorm below it
    for adapter in of_type(model, E3VAAdapter):
        assert torch.all(adapter.up.weight == 0) and torch.all(adapter.up.bias == 0)
        assert torch.all(adapter.down.bias == 0) and 0.015 < adapter.down.weight.std() < 0.025
    for norm in of_type(model, E3VANorm):
        assert torch.all(norm.weight == 0) and torch.all(norm.bias == 0)
    upstream = MODELS.build(MMDET_TINY)
    upstream.load_state_dict(model.state_dict(), strict=False)
    upstream.eval()
    model.eval()
    x = torch.randn(*IMAGE)
    for out, ref in zip(model(x), upstream(x)):
        assert torch.equal(out, ref)


def test_train_and_eval_modes():
    model = build_petl_backbone(dict(MMDET_TINY, drop_path_rate=0.9), dict(type='E3VA'))
    x = torch.randn(*IMAGE)
    model.train()
    assert all(m.training for m in model.modules())
    # The frozen backbone keeps its stochastic depth in training mode, graph or not.
    assert not torch.equal(model(x)[1], model(x)[1])
    model.eval()
    assert not any(m.training for m in model.modules())
    assert torch.equal(model(x)[1], model(x)[1])


def test_rejects_a_backbone_without_swin_stages():
    vit = dict(type='mmseg.VisionTransformer', img_size=32, patch_size=16, embed_dims=32, num_layers=2, num_heads=2)
    with pytest.raises(ValueError, match="method 'E3VA' does not support the backbone mmseg.VisionTransformer .*"
                                         'Supported backbones: mmdet.SwinTransformer, mmseg.SwinTransformer, '
                                         'mmpretrain.SwinTransformer'):
        build_petl_backbone(vit, dict(type='E3VA'))


def test_highway_needs_the_frozen_forward_of_the_same_call():
    model = build_petl_backbone(MMDET_TINY, dict(type='E3VA'))
    with pytest.raises(RuntimeError, match='E3VA highway: nothing was recorded in this forward'):
        model.petl_method.highway(model, ForwardRecord())


def test_compiled_backbone_computes_the_same_outputs_and_gradients():
    """torch.compile traces the frozen forward, its taps and the highway (dynamo, with the eager backend: no C++
    compiler needed); outputs and gradients equal the uncompiled model's."""
    _, model = build_pair(MMDET_TINY)
    perturb(model)
    x = torch.randn(*IMAGE)
    results = []
    for run in (model, torch.compile(model, backend='eager')):
        outs = run(x)
        sum(out.pow(2).mean() for out in outs).backward()
        results.append(([out.detach() for out in outs], {n: p.grad.clone() for n, p in e3va_parameters(model)}))
        model.zero_grad(set_to_none=True)
    (outs, grads), (compiled_outs, compiled_grads) = results
    for out, compiled in zip(outs, compiled_outs):
        torch.testing.assert_close(compiled, out, rtol=0, atol=1e-6)
    assert grads.keys() == compiled_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(compiled_grads[name], grad, rtol=0, atol=1e-6)
