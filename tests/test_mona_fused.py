"""Mona's fused computation: the re-parameterised convolution and the memory-lean scaled norm equal the reference
formulation (forward and gradients, 1e-5 relative), with the same parameters, names and checkpoints."""
import copy

import pytest
import torch

from mmpetl.models import build_petl_backbone
from mmpetl.models.methods import MonaAdapter, MonaConv
from mmpetl.models.methods.mona import FusedMona
from mmpetl.utils import count_parameters
from mmpetl.benchmark import mona_conv_micro_benchmark, saved_for_backward

from conftest import TINY_SWIN

RTOL = 1e-5


def rel_diff(a, b):
    """max |a - b| / max |b|: relative to the tensor's scale (elementwise ratios are meaningless near zero)."""
    return float((a - b).abs().max() / b.abs().max())


def perturbed(module):
    """Move every parameter off its initialisation (gamma starts at 1e-6, biases at 0)."""
    with torch.no_grad():
        for param in module.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return module


def outputs_and_grads(module, x, *args):
    """The output and the gradients of the input and of every parameter, for a fixed random upstream gradient."""
    x = x.detach().requires_grad_()
    out = module(x, *args)
    params = [p for _, p in module.named_parameters()]
    grads = torch.autograd.grad(out, [x, *params], torch.randn_like(out, generator=torch.Generator().manual_seed(1)))
    names = ['input'] + [n for n, _ in module.named_parameters()]
    return out, dict(zip(names, grads))


def assert_equal_to_reference(fused, reference, x, *args):
    out, grads = outputs_and_grads(fused, x, *args)
    ref_out, ref_grads = outputs_and_grads(reference, x, *args)
    assert rel_diff(out, ref_out) < RTOL
    assert grads.keys() == ref_grads.keys()
    for name in grads:
        assert rel_diff(grads[name], ref_grads[name]) < RTOL, name


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('hw', [(16, 16), (7, 9)])
def test_fused_convolution_equals_three_convolutions(hw, channels_last):
    conv = perturbed(MonaConv(16))
    reference = copy.deepcopy(conv)
    reference.fused = False
    x = torch.randn(2, 16, *hw)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    assert_equal_to_reference(conv, reference, x)
    out = conv(x)
    assert out.is_contiguous(memory_format=torch.channels_last) == channels_last  # the layout goes through


def test_merged_kernels_are_the_documented_sum():
    conv = perturbed(MonaConv(8))
    depthwise, depthwise_bias, projector, projector_bias = conv.merged_kernels()
    expected = conv.dw7.weight.detach().clone() / 3
    expected[:, :, 1:6, 1:6] += conv.dw5.weight.detach() / 3
    expected[:, :, 2:5, 2:5] += conv.dw3.weight.detach() / 3
    expected[:, :, 3, 3] += 1
    assert torch.allclose(depthwise, expected, atol=1e-7)
    assert torch.allclose(depthwise_bias, (conv.dw3.bias + conv.dw5.bias + conv.dw7.bias) / 3)
    assert torch.allclose(projector, conv.projector.weight + torch.eye(8).view(8, 8, 1, 1))
    assert projector_bias is conv.projector.bias


@pytest.mark.parametrize('num_prefix', [0, 1])
def test_fused_adapter_equals_the_reference_formulation(num_prefix):
    adapter = perturbed(MonaAdapter(48, dropout=0.0))
    reference = copy.deepcopy(adapter)
    reference.fused = reference.conv.fused = False
    x = torch.randn(2, num_prefix + 6 * 5, 48) * 2 + 0.5
    assert_equal_to_reference(adapter, reference, x, (6, 5))


def test_fused_mona_gradcheck_with_a_dropout_mask():
    """Every gradient of FusedMona, with its tail recomputed from z and its input recovered from its output, against
    finite differences (double precision); the tail reuses the forward's dropout mask."""
    generator = torch.Generator().manual_seed(0)

    def tensor(*shape):
        return torch.randn(*shape, dtype=torch.double, generator=generator).requires_grad_()

    keep = torch.rand(2, 5, 4, generator=generator) >= 0.3
    up = tensor(8, 4)

    def tail(z):
        return torch.nn.functional.gelu(z) * keep / 0.7 @ up.t()

    inputs = (tensor(2, 5, 8), tensor(8), tensor(8), tensor(8), tensor(8), tensor(4, 8), tensor(4), up)
    assert torch.autograd.gradcheck(
        lambda x, *args: FusedMona.apply(tail, x, (keep,), *args[:6], 1e-5, args[6]), inputs)


def test_fused_adapter_under_autocast():
    adapter = perturbed(MonaAdapter(32, dropout=0.0))
    x = torch.randn(2, 16, 32, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = adapter(x, (4, 4))
    out.float().sum().backward()
    assert x.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()
    assert all(p.grad is not None and p.grad.dtype == p.dtype for p in adapter.parameters())
    reference = copy.deepcopy(adapter)
    reference.fused = reference.conv.fused = False
    x_ref = x.detach().requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        reference(x_ref, (4, 4)).float().sum().backward()
    assert rel_diff(x.grad, x_ref.grad) < 1e-2  # bfloat16 matmuls in both, in different orders


def test_fused_adapter_keeps_less_for_backward():
    """In a block, the adapter's output goes to a LayerNorm, which keeps it. The fused adapter adds to that only the
    norm's statistics, the down-projection's output z and the dropout mask (one byte per element): not its input
    (recovered from the output), nor LayerNorm(x) and x' (recomputed), nor the tail's intermediates (recomputed from
    z). The reference keeps all of them."""
    adapter = MonaAdapter(128)  # training mode, dropout 0.1
    reference = copy.deepcopy(adapter)
    reference.fused = reference.conv.fused = False
    norm = torch.nn.LayerNorm(128)
    leaf = torch.randn(2, 16 * 16, 128, requires_grad=True)
    exclude = [leaf, *adapter.parameters(), *reference.parameters(), *norm.parameters()]
    _, fused = saved_for_backward(lambda: norm(adapter(leaf * 2, (16, 16))), exclude)
    _, plain = saved_for_backward(lambda: norm(reference(leaf * 2, (16, 16))), exclude)
    tokens = 2 * 16 * 16
    statistics = 4 * 2 * tokens  # mean and rstd of one LayerNorm
    output = 4 * tokens * 128  # the adapter's output, which the LayerNorm keeps
    assert fused['saved_bytes'] == output + 2 * statistics + 4 * tokens * 64 + tokens * 64  # ... z; mask
    # the reference: the input, LayerNorm(x) and x' (3 x C), then 5 bottleneck-wide tensors (z, the convolution's
    # output, GELU's input, the dropout mask (a float on the CPU), the up-projection's input) besides the statistics
    assert plain['saved_bytes'] >= output + 2 * statistics + 4 * tokens * (3 * 128 + 5 * 64)


def test_fused_adapter_dropout_is_a_dropout():
    adapter = MonaAdapter(16, dropout=0.5)
    x = torch.randn(4, 64, 16)
    with torch.no_grad():
        adapter.up_proj.weight.copy_(torch.eye(16, 64))  # the first 16 bottleneck channels straight through
        adapter.up_proj.bias.zero_()
        train = adapter(x, (8, 8)) - x
        adapter.eval()
        evaluated = adapter(x, (8, 8)) - x
    dropped = (train == 0) & (evaluated != 0)
    assert 0.4 < dropped.float().mean() < 0.6
    kept = ~dropped & (evaluated != 0)
    assert torch.allclose(train[kept], 2 * evaluated[kept], rtol=1e-5, atol=1e-6)


def test_convolution_sees_a_channels_last_view_of_the_tokens():
    adapter = MonaAdapter(32)
    seen = []
    adapter.conv.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    adapter(torch.randn(2, 4 * 6, 32), (4, 6))
    assert seen[0].shape == (2, 64, 4, 6) and seen[0].is_contiguous(memory_format=torch.channels_last)


def test_parameters_names_and_checkpoints_are_those_of_the_reference():
    fused = build_petl_backbone(dict(TINY_SWIN, type='mmdet.SwinTransformer'), dict(type='Mona'))
    reference = build_petl_backbone(dict(TINY_SWIN, type='mmdet.SwinTransformer'), dict(type='Mona', fused=False))
    assert all(m.fused and m.conv.fused for m in fused.modules() if isinstance(m, MonaAdapter))
    assert not any(m.fused or m.conv.fused for m in reference.modules() if isinstance(m, MonaAdapter))
    assert fused.state_dict().keys() == reference.state_dict().keys()
    assert {'stages.0.blocks.0.mona_attn.conv.dw3.weight', 'stages.0.blocks.0.mona_attn.conv.projector.bias'} <= \
        set(fused.state_dict())
    assert count_parameters(fused) == count_parameters(reference)
    assert count_parameters(MonaAdapter(96))['total'] == 133 * 96 + 9728
    perturbed(fused)
    reference.load_state_dict(fused.state_dict())
    fused.eval()
    reference.eval()
    x = torch.randn(1, 3, 64, 64)
    for out, ref in zip(fused(x), reference(x)):
        assert rel_diff(out, ref) < RTOL


def test_micro_benchmark_reports_both_formulations():
    micro = mona_conv_micro_benchmark(batch=1, channels=8, size=16, steps=1, warmup=0)
    assert set(micro['times']) == {'reference/contiguous', 'reference/channels_last', 'fused/contiguous',
                                   'fused/channels_last'}
    assert all(t > 0 for t in micro['times'].values()) and micro['speedup'] > 0
    assert max(micro['max_rel_diff'].values()) < RTOL


def assert_backbone_gradients_equal_the_reference(with_cp, device='cpu'):
    """A whole Swin (training mode) with the fused Mona, inside the upstream checkpointing or not, and with the
    reference formulation: the same gradients of every trainable parameter."""
    fused = build_petl_backbone(dict(TINY_SWIN, type='mmdet.SwinTransformer', with_cp=with_cp),
                                dict(type='Mona', dropout=0.))
    reference = build_petl_backbone(dict(TINY_SWIN, type='mmdet.SwinTransformer'),
                                    dict(type='Mona', fused=False, dropout=0.))
    perturbed(fused)
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 64, 64, device=device)
    grads = []
    for model in (fused.to(device), reference.to(device)):
        model.train()  # (mmdet's Swin returns None from train())
        torch.manual_seed(1)  # the same drop-path draws
        outs = model(x)
        sum((out * torch.linspace(-1, 1, out.numel(), device=device).view_as(out)).sum() for out in outs).backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys() and any('mona' in name for name in grads[0])
    for name in grads[0]:
        assert rel_diff(grads[0][name], grads[1][name]) < RTOL, name


@pytest.mark.parametrize('with_cp', [False, True])
def test_backbone_gradients_equal_the_reference_formulation(with_cp):
    """Each adapter recovering its input from its output and recomputing its tail gives the reference's gradients."""
    assert_backbone_gradients_equal_the_reference(with_cp)
