"""Lean frozen blocks (``mmpetl/models/lean.py``): on every block family and every method, the same outputs and
gradients as the upstream blocks (``lean=[]``), in training mode with drop-path and under autocast; less kept for
backward; the parts that cannot apply refused by name."""
import pytest
import torch

from mmpetl.benchmark.measure import saved_for_backward
from mmpetl.models import available_methods, build_petl_backbone
from mmpetl.models.lean import LeanMLP, WindowAttention, WindowQKVAttention
from mmpetl.models.methods import PETLConfigError
from mmpetl.models.methods.adapter import Bottleneck
from mmpetl.models.methods.lorand import LoRandAdapter

from test_methods import SMALL_BACKBONES, supports


def with_drop_path(cfg):
    """The backbone config with stochastic depth on, as the recipes train (the draws must match)."""
    return dict(cfg, drop_path_rate=0.2)


def build_twins(method, backbone_cfg):
    """The PETL backbone with every lean part (lean=None) and with the upstream blocks (the default), sharing their
    weights."""
    torch.manual_seed(0)
    lean = build_petl_backbone(backbone_cfg, method, lean=None)
    plain = build_petl_backbone(backbone_cfg, method)
    plain.load_state_dict(lean.state_dict())
    with torch.no_grad():  # trained-like weights: zero-initialised updates (LoRA's B, ...) would hide paths
        for (name, p), q in zip(lean.named_parameters(), plain.parameters()):
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.02)
                q.copy_(p)
    return lean, plain


def run(model, x, seed=1):
    """Outputs and gradients (input and trained parameters) of a weighted sum of the outputs, in training mode."""
    model.train()
    x = x.clone().requires_grad_()
    torch.manual_seed(seed)  # the same drop-path draws for both
    outs = model(x)
    outs = [outs] if isinstance(outs, torch.Tensor) else list(outs)
    loss = sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in outs)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    return [o.detach() for o in outs], x.grad, grads


def image(backbone_cfg, batch=2):
    size = 64 if 'Swin' in backbone_cfg['type'] else 32
    return torch.randn(batch, 3, size, size)


CASES = [(m, b) for m in available_methods() for b in SMALL_BACKBONES]


@pytest.mark.parametrize('method, backbone', CASES)
def test_lean_blocks_compute_the_upstream_outputs_and_gradients(method, backbone):
    cfg = with_drop_path(SMALL_BACKBONES[backbone])
    if not supports(dict(type=method), cfg):
        pytest.skip(f'{method} does not support {cfg["type"]}')
    try:
        lean, plain = build_twins(dict(type=method), cfg)
    except ValueError as err:  # a method that does not attach to this small backbone (HST needs blocks per stage)
        pytest.skip(str(err))
    x = image(cfg)
    outs, grad_x, grads = run(lean, x)
    ref_outs, ref_grad_x, ref_grads = run(plain, x)
    for out, ref in zip(outs, ref_outs):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    if ref_grad_x is not None:
        torch.testing.assert_close(grad_x, ref_grad_x, rtol=1e-4, atol=1e-6)
    assert grads.keys() == ref_grads.keys()
    for name in ref_grads:
        if ref_grads[name] is None:
            assert grads[name] is None, name
            continue
        scale = ref_grads[name].abs().max().clamp_min(1e-12)
        assert ((grads[name] - ref_grads[name]).abs().max() / scale) < 1e-4, name


def lean_parts(model):
    return sorted({part for m in model.modules() for part in getattr(m, 'petl_lean', ())})


def test_every_part_applies_where_the_family_supports_it():
    swin = build_petl_backbone(SMALL_BACKBONES['mmdet.Swin'], dict(type='Mona'), lean=None)
    assert lean_parts(swin) == ['attention', 'mlp', 'qkv']
    vit = build_petl_backbone(SMALL_BACKBONES['mmseg.ViT'], dict(type='Mona'), lean=None)
    assert lean_parts(vit) == ['attention', 'mlp']
    assert lean_parts(build_petl_backbone(SMALL_BACKBONES['mmpretrain.ViT'], dict(type='Mona'), lean=None)) == ['mlp']
    # LN-tune and Partial-1 insert nothing: their blocks become PETL blocks for it
    assert lean_parts(build_petl_backbone(SMALL_BACKBONES['mmdet.Swin'], dict(type='LNTune'), lean=None)) == \
        ['attention', 'mlp', 'qkv']
    assert lean_parts(build_petl_backbone(SMALL_BACKBONES['mmdet.Swin'], dict(type='Mona'))) == []  # the default
    adapter = build_petl_backbone(SMALL_BACKBONES['mmdet.Swin'], dict(type='Adapter'), lean=None)
    assert lean_parts(adapter) == ['attention', 'bottleneck', 'mlp', 'qkv']
    assert all(m.lean_bottleneck for m in adapter.modules() if hasattr(m, 'lean_bottleneck'))
    assert lean_parts(build_petl_backbone(SMALL_BACKBONES['mmdet.Swin'], dict(type='Mona'), lean=['mlp'])) == ['mlp']


def kept_bytes(model, x):
    model.train()
    _, saved = saved_for_backward(lambda: model(x), exclude=[*model.parameters(), *model.buffers(), x])
    return saved['saved_bytes']


@pytest.mark.parametrize('method, backbone', [
    ('Mona', 'mmdet.Swin'), ('Adapter', 'mmdet.Swin'), ('LoRA', 'mmdet.Swin'), ('CoLin', 'mmdet.Swin'),
    ('LNTune', 'mmdet.Swin'), ('Mona', 'mmseg.ViT'), ('BitFit', 'mmseg.ViT')])
def test_lean_blocks_keep_less_for_backward(method, backbone):
    cfg = SMALL_BACKBONES[backbone]
    if 'ViT' in backbone:  # 64 tokens: enough for the attention probabilities to outweigh what replaces them
        cfg = dict(cfg, img_size=(64, 64))
    lean, plain = build_twins(dict(type=method), cfg)
    x = image(cfg) if 'Swin' in backbone else torch.randn(2, 3, 64, 64)
    mlp_only = build_petl_backbone(cfg, dict(type=method), lean=['mlp'])
    lean_bytes, mlp_bytes, plain_bytes = kept_bytes(lean, x), kept_bytes(mlp_only, x), kept_bytes(plain, x)
    assert lean_bytes < mlp_bytes < plain_bytes, (lean_bytes, mlp_bytes, plain_bytes)
    if 'Swin' in backbone:  # q, k and v recomputed from the attention's input: 2C floats per token less
        without_qkv = build_petl_backbone(cfg, dict(type=method), lean=['mlp', 'attention'])
        without_qkv.load_state_dict(lean.state_dict())
        assert lean_bytes < kept_bytes(without_qkv, x) < mlp_bytes


def test_the_functions_match_autograd_under_autocast():
    torch.manual_seed(0)
    x = torch.randn(2, 10, 16, requires_grad=True)
    norm_w, norm_b = torch.randn(16, requires_grad=True), torch.randn(16, requires_grad=True)
    w1, b1 = torch.randn(32, 16) * 0.2, torch.randn(32, requires_grad=True)
    w2, b2 = torch.randn(16, 32) * 0.2, torch.randn(16, requires_grad=True)
    q, k, v = (torch.randn(4, 2, 9, 8, requires_grad=True) for _ in range(3))
    bias, mask = torch.randn(2, 9, 9, requires_grad=True), torch.zeros(2, 9, 9).masked_fill(torch.rand(2, 9, 9) > .7,
                                                                                           -100.)

    def mlp_ref():
        h = torch.nn.functional.layer_norm(x, (16, ), norm_w, norm_b, 1e-5)
        return torch.nn.functional.linear(torch.nn.functional.gelu(torch.nn.functional.linear(h, w1, b1)), w2, b2)

    def attn_ref(q=q, k=k, v=v):
        a = (q * 0.3) @ k.transpose(-2, -1) + bias.unsqueeze(0)
        a = (a.view(2, 2, 2, 9, 9) + mask.unsqueeze(1).unsqueeze(0)).view(4, 2, 9, 9)
        return a.softmax(-1) @ v

    # the attention from its input: a frozen qkv projection with a trained bias, and LoRA's updates of q and v
    tokens = torch.randn(4, 9, 16, requires_grad=True)
    w_qkv, b_qkv = torch.randn(48, 16) * 0.2, torch.randn(48, requires_grad=True)
    lora = [torch.randn(shape, requires_grad=True) for shape in ((3, 16), (16, 3), (3, 16), (16, 3))]

    def qkv_ref(with_lora, tokens=tokens):
        qkv = torch.nn.functional.linear(tokens, w_qkv, b_qkv)
        if with_lora:  # LoRAQV.forward's operations
            q_, k_, v_ = qkv.chunk(3, dim=-1)
            q_ = q_ + 0.5 * (tokens @ lora[0].t()) @ lora[1].t()
            v_ = v_ + 0.5 * (tokens @ lora[2].t()) @ lora[3].t()
            qkv = torch.cat((q_, k_, v_), dim=-1)
        return attn_ref(*qkv.reshape(4, 9, 3, 2, 8).permute(2, 0, 3, 1, 4))

    # ... and from the block's input through its norm: two images of 3 x 6 tokens, two 3 x 3 windows each
    block_in = torch.randn(2, 18, 16, requires_grad=True)
    index = torch.arange(18).view(3, 2, 3).permute(1, 0, 2).reshape(2, 9)  # each window's positions in the map

    def windows():
        normed = torch.nn.functional.layer_norm(block_in, (16, ), norm_w, norm_b, 1e-5)
        return normed.view(2, 3, 2, 3, 16).permute(0, 2, 1, 3, 4).reshape(4, 9, 16)

    def from_block_input():
        with torch.no_grad():
            normed, mean, rstd = torch.native_layer_norm(block_in, (16, ), norm_w, norm_b, 1e-5)
        tokens_ = normed.view(2, 3, 2, 3, 16).permute(0, 2, 1, 3, 4).reshape(4, 9, 16)
        return WindowQKVAttention.apply(tokens_, w_qkv, b_qkv, bias, mask, *lora, 0.3, 2, 0.5, block_in, norm_w,
                                        norm_b, 1e-5, mean, rstd, index)

    def no_source(with_lora):
        factors = lora if with_lora else [None] * 4
        return lambda: WindowQKVAttention.apply(tokens, w_qkv, b_qkv, bias, mask, *factors, 0.3, 2, 0.5,
                                                *[None] * 7)

    cases = [(lambda: LeanMLP.apply(x, norm_w, norm_b, 1e-5, w1, b1, w2, b2), mlp_ref, [x, norm_w, norm_b, b1, b2]),
             (lambda: WindowAttention.apply(q, k, v, bias, mask, 0.3), attn_ref, [q, k, v, bias]),
             (no_source(True), lambda: qkv_ref(True), [tokens, b_qkv, bias, *lora]),
             (no_source(False), lambda: qkv_ref(False), [tokens, b_qkv, bias]),
             (from_block_input, lambda: qkv_ref(True, windows()), [block_in, norm_w, norm_b, b_qkv, bias, *lora])]
    for dtype, tol in ((None, 1e-5), (torch.bfloat16, 3e-2)):
        for ours, ref, inputs in cases:
            results = []
            for fn in (ours, ref):
                with torch.autocast('cpu', dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                    out = fn()
                grads = torch.autograd.grad(out.float().square().sum(), inputs)
                results.append((out.float(), grads))
            (out, grads), (ref_out, ref_grads) = results
            assert out.dtype == ref_out.dtype
            torch.testing.assert_close(out, ref_out, rtol=tol, atol=tol)
            for g, r in zip(grads, ref_grads):
                assert (g.float() - r.float()).abs().max() <= tol * r.float().abs().max() * 4 + tol


@pytest.mark.parametrize('lean, message', [
    ('mlp', "lean must be None (every part that applies to the backbone) or a list of 'mlp', 'attention', 'qkv', "
            "'bottleneck'"),
    (['mlp', 'softmax'], "got ['mlp', 'softmax']"),
    ([True], 'got [True]'),
])
def test_bad_lean_values_are_refused(lean, message):
    with pytest.raises(PETLConfigError, match=message.replace('[', r'\[').replace(']', r'\]').replace('(', r'\(')
                       .replace(')', r'\)')):
        build_petl_backbone(SMALL_BACKBONES['mmdet.Swin'], dict(type='Mona'), lean=lean)


def test_a_part_the_family_cannot_run_lean_is_refused_by_name():
    reason = 'already runs torch.nn.functional.scaled_dot_product_attention'
    with pytest.raises(PETLConfigError) as error:
        build_petl_backbone(SMALL_BACKBONES['mmpretrain.ViT'], dict(type='Mona'), lean=['mlp', 'attention'])
    message = str(error.value)
    assert "lean part 'attention' does not apply to block 'layers.0'" in message, message
    assert reason in message and "Parts it supports: ['mlp']" in message, message


def test_qkv_is_refused_on_a_vit():
    with pytest.raises(PETLConfigError) as error:
        build_petl_backbone(SMALL_BACKBONES['mmseg.ViT'], dict(type='Mona'), lean=['qkv'])
    message = str(error.value)
    assert "lean part 'qkv' does not apply" in message and 'which keeps q, k and v' in message, message
    assert "Parts it supports: ['mlp', 'attention']" in message, message


@pytest.mark.parametrize('kind', ['Adapter', 'LoRand'])
def test_the_bottlenecks_compute_the_reference_and_keep_less(kind):
    """The Houlsby adapter's / AdaptFormer's bottleneck (with its dropout) and LoRand's through LeanBottleneck: the
    output of the upstream operations bit for bit (the same dropout draws), their gradients, less kept."""
    torch.manual_seed(0)
    F = torch.nn.functional
    if kind == 'Adapter':
        module = Bottleneck(16, 8, dropout=0.3)
        ours, reference = module, lambda x: module.up_proj(module.dropout(F.gelu(module.down_proj(x))))
    else:
        module = LoRandAdapter(16, subspaces=2, rank=4)
        ours = lambda h: module(h, h, None)  # noqa: E731
        reference = lambda h: h + module.up_proj(F.gelu(module.down_proj(h)))  # noqa: E731
    module.train()
    module.lean_bottleneck = True  # what PETLBackbone(lean=['bottleneck']) sets
    x = torch.randn(2, 10, 16, requires_grad=True)
    inputs = [x, *module.parameters()]
    for dtype, tol in ((None, 1e-5), (torch.bfloat16, 3e-2)):
        results = []
        for fn in (ours, reference):
            torch.manual_seed(1)
            with torch.autocast('cpu', dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                out, saved = saved_for_backward(lambda: fn(x), exclude=inputs)
            grads = torch.autograd.grad(out.float().square().sum(), inputs)
            results.append((out, grads, saved['saved_bytes']))
        (out, grads, kept), (ref_out, ref_grads, ref_kept) = results
        assert out.dtype == ref_out.dtype and torch.equal(out, ref_out)
        for g, r in zip(grads, ref_grads):
            assert (g.float() - r.float()).abs().max() <= tol * r.float().abs().max() * 4 + tol
        assert kept < ref_kept, (kept, ref_kept)
    module.eval()
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_bottleneck_is_refused_for_a_method_without_one():
    with pytest.raises(PETLConfigError) as error:
        build_petl_backbone(SMALL_BACKBONES['mmdet.Swin'], dict(type='Mona'), lean=['mlp', 'bottleneck'])
    message = str(error.value)
    assert "lean part 'bottleneck' does not apply" in message and 'holds no method bottleneck' in message, message
