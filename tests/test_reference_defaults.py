"""The baselines' defaults reproduce the reference code that produced the published numbers; mmpetl's earlier variants
stay available as options.

References (read, not copied): github Leiyi-Hu/mona, ``Swin-Transformer-Object-Detection/mmdet/models/backbones/
swin_transformer_{bitfit,adapter,adaptformer}.py``; github VisionXLab/STAR-MMRotate, ``mmrotate/models/backbones/
swin_{bitfit,adapter,adaptformer,lorand}.py``.

- BitFit: the reference freezes every parameter whose name does not contain ``bias`` (Swin's relative position bias
  tables train): 201,656 on Swin-B, V-PETL Bench's 0.20 M; ``scope='bias_only'``: 138,112.
- Adapter, AdaptFormer: the reference backbone's ``init_weights`` gives every Linear trunc-normal std 0.02 and bias 0,
  the up-projections included: not the identity at init; ``init='identity'``: the identity.
- LoRand: biases uniform in ±1/sqrt(fan_in); ``bias_init='zeros'``.
- Adapter placement: the Mona repository applies the adapter before the block's drop-path (default), STAR-MMRotate
  after it (``placement='after_drop_path'``).
"""
import math

import pytest
import torch
from mmengine.registry import MODELS
from torch import nn

from mmpetl.benchmark.backbones import STANDARD_BACKBONES
from mmpetl.models import build_petl_backbone
from mmpetl.models.blocks import ForwardRecord, PETLBlockMixin, add_to_point, make_petl_block, spec_for
from mmpetl.models.methods import PETLModule
from mmpetl.models.methods.adapter import Bottleneck
from mmpetl.models.methods.lorand import LoRandLinear
from mmpetl.registry import PETL_METHODS
from mmpetl.utils import count_parameters

from test_methods import SMALL_BACKBONES, check_method_on_backbone, input_for

SWIN = SMALL_BACKBONES['mmdet.Swin']


def trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


# ------------------------------------------------------------------------------------------------------------ BitFit


@pytest.mark.slow
def test_bitfit_on_swin_b_trains_what_the_reference_trains():
    """201,656 by default (V-PETL Bench's 0.20 M), 138,112 with ``scope='bias_only'``; the difference is exactly the
    relative position bias tables."""
    default = build_petl_backbone(STANDARD_BACKBONES['Swin-B'], dict(type='BitFit'))
    assert count_parameters(default)['trainable'] == 201_656
    names = {n for n, _ in default.named_parameters()}
    assert trainable(default) == {n for n in names if 'bias' in n}  # the reference's rule, on the upstream names
    del default
    strict = build_petl_backbone(STANDARD_BACKBONES['Swin-B'], dict(type='BitFit', scope='bias_only'))
    assert count_parameters(strict)['trainable'] == 138_112
    assert trainable(strict) == {n for n in names if n.endswith('.bias')}
    tables = {n for n in names if n.endswith('relative_position_bias_table')}
    assert len(tables) == 24 and {n for n in names if 'bias' in n} - trainable(strict) == tables


# -------------------------------------------------------------------------------------------- Adapter, AdaptFormer


@pytest.mark.parametrize('method', ['Adapter', 'AdaptFormer'])
def test_adapters_are_not_the_identity_at_init_by_default(method):
    cls = PETL_METHODS.get(method)
    assert not cls.is_identity_at_init() and not cls.is_identity_at_init(init='trunc_normal')
    assert cls.is_identity_at_init(init='identity')
    for backbone in ('mmdet.Swin', 'mmpretrain.ViT'):  # the generic checks, outputs against upstream included
        check_method_on_backbone(dict(type=method), SMALL_BACKBONES[backbone])
        check_method_on_backbone(dict(type=method, init='identity'), SMALL_BACKBONES[backbone])


def bottlenecks(model):
    return [m for m in model.modules() if isinstance(m, Bottleneck)]


@pytest.mark.parametrize('method', ['Adapter', 'AdaptFormer'])
def test_up_projection_is_trunc_normal_std_002_after_init_weights(method):
    """After the backbone's ``init_weights()`` (upstream first, then each inserted module's), every bottleneck's
    up-projection has the reference's trunc-normal std 0.02 and zero bias; with ``init='identity'``, zeros."""
    model = build_petl_backbone(SWIN, dict(type=method))
    model.init_weights()
    weights = torch.cat([b.up_proj.weight.flatten() for b in bottlenecks(model)])
    assert weights.numel() > 10_000
    assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001
    for b in bottlenecks(model):
        assert not b.up_proj.bias.any() and not b.down_proj.bias.any()
        assert abs(b.down_proj.weight.std().item() - 0.02) < 0.004
    identity = build_petl_backbone(SWIN, dict(type=method, init='identity'))
    identity.init_weights()
    for b in bottlenecks(identity):
        assert not b.up_proj.weight.any() and not b.up_proj.bias.any()


# ------------------------------------------------------------------------------------------------------------ LoRand


def test_lorand_biases_are_uniform_within_the_fan_in_bound():
    model = build_petl_backbone(SWIN, dict(type='LoRand'))
    model.init_weights()
    layers = [m for m in model.modules() if isinstance(m, LoRandLinear)]
    assert len(layers) == 2 * 2 * 4  # down and up, two adapters per block, four blocks
    for layer in layers:
        bound = 1 / math.sqrt(layer.A.shape[1])  # fan-in of the summed weight: in_features
        assert layer.bias.abs().max() <= bound
        assert layer.bias.abs().min() > 0
        assert layer.bias.abs().max() > bound / 2  # spread over the interval, not a small constant
    zeros = build_petl_backbone(SWIN, dict(type='LoRand', bias_init='zeros'))
    zeros.init_weights()
    assert all(not m.bias.any() for m in zeros.modules() if isinstance(m, LoRandLinear))
    check_method_on_backbone(dict(type='LoRand', bias_init='zeros'), SWIN)


def test_bitfit_scope_and_other_variants_pass_the_generic_checks():
    for backbone in ('mmdet.Swin', 'mmseg.ViT'):
        check_method_on_backbone(dict(type='BitFit', scope='bias_only'), SMALL_BACKBONES[backbone])
        check_method_on_backbone(dict(type='Adapter', placement='after_drop_path'), SMALL_BACKBONES[backbone])


# ---------------------------------------------------------------------------------------- placement vs drop-path


class Record(PETLModule):
    """Records the branch output it sees and passes it on."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def init_weights(self):
        pass

    def forward(self, h, x, hw_shape):
        self.seen.append(h.detach().clone())
        return h


def keep_and_double(module: nn.Module) -> None:
    """Stub a drop-path module as DropPath(0.5) keeping every sample: ``2 * x``, deterministic."""
    module.forward = lambda t: 2 * t


@pytest.mark.parametrize('backbone', list(SMALL_BACKBONES))
def test_pre_drop_path_point_sits_right_before_each_branch_drop_path(backbone):
    """On every block family: what the ``*_pre_drop_path`` point returns is what the drop-path receives, and the
    ``*_branch`` point receives the dropped result; with an empty pre-drop-path point no hook is added."""
    model = MODELS.build(SMALL_BACKBONES[backbone])
    block_name, block = next((n, m) for n, m in model.named_modules() if spec_for(m) is not None)
    spec = spec_for(block)
    make_petl_block(model, block, spec)
    for branch in ('attn', 'mlp'):
        assert not spec.drop_path(block, branch)._forward_pre_hooks
        keep_and_double(spec.drop_path(block, branch))
    records = {point: Record() for point in ('attn_pre_drop_path', 'attn_branch', 'mlp_pre_drop_path', 'mlp_branch')}
    for point, record in records.items():
        add_to_point(block, point, f'record_{point}', record)
    assert all(len(spec.drop_path(block, b)._forward_pre_hooks) == 1 for b in ('attn', 'mlp'))
    model.train()
    # A PETL backbone's forward opens the call's record (where a ViT's blocks find their patch grid); this upstream
    # model with one PETL block does not.
    with ForwardRecord():
        model(input_for(SMALL_BACKBONES[backbone], batch=1))
    for branch in ('attn', 'mlp'):
        before, after = records[f'{branch}_pre_drop_path'].seen, records[f'{branch}_branch'].seen
        assert len(before) == len(after) == 1, block_name
        torch.testing.assert_close(after[0], 2 * before[0], rtol=0, atol=0)


def adapter_model(placement, drop_path_rate=0.0, **cfg):
    torch.manual_seed(0)
    return build_petl_backbone(dict(SWIN, drop_path_rate=drop_path_rate, **cfg),
                               dict(type='Adapter', dropout=0.0, placement=placement))


@pytest.mark.parametrize('placement', ['before_drop_path', 'after_drop_path'])
def test_adapter_placement_relative_to_drop_path(placement):
    """With a drop-path that keeps the sample (x2), the block computes the Mona repository's
    ``x + drop_path(h + adapter(h))`` by default and STAR-MMRotate's ``x + adapter(drop_path(h))`` with
    ``placement='after_drop_path'``, for both branches."""
    model = adapter_model(placement, drop_path_rate=0.3)
    block = model.stages[0].blocks[1]  # drop-path > 0 here (the rate grows from 0 at the first block)
    upstream = MODELS.build(dict(SWIN, drop_path_rate=0.3))
    upstream.load_state_dict(model.state_dict(), strict=False)
    upstream.eval()  # drop-path off: the upstream branches give h undropped
    up = upstream.stages[0].blocks[1]
    for module in (block.attn.drop, block.ffn.dropout_layer):
        keep_and_double(module)
    adapter_attn, adapter_mlp = block.adapter_attn.bottleneck, block.adapter_mlp.bottleneck
    hw = (16, 16)
    x = torch.randn(1, 256, 32)

    def reference(before):
        h = up.attn(up.norm1(x), hw)
        x1 = x + 2 * (h + adapter_attn(h)) if before else x + 2 * h + adapter_attn(2 * h)
        g = up.ffn(up.norm2(x1), identity=0)
        return x1 + 2 * (g + adapter_mlp(g)) if before else x1 + 2 * g + adapter_mlp(2 * g)

    model.train()
    with torch.no_grad():
        out = block(x, hw)
        expected, other = reference(True), reference(False)
    if placement == 'after_drop_path':
        expected, other = other, expected
    torch.testing.assert_close(out, expected)
    assert not torch.allclose(out, other, atol=1e-4)


def test_adapter_placements_share_weights_and_differ_only_in_training_with_drop_path():
    before, after = adapter_model('before_drop_path', 0.5), adapter_model('after_drop_path', 0.5)
    after.load_state_dict(before.state_dict(), strict=True)  # the same names: checkpoints move between placements
    x = torch.randn(2, 3, 64, 64)
    before.eval(), after.eval()
    for a, b in zip(before(x), after(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    before.train(), after.train()
    torch.manual_seed(1)
    out_before = before(x)
    torch.manual_seed(1)
    out_after = after(x)  # the same drop-path masks (the adapters draw no random numbers with dropout 0)
    assert any(not torch.allclose(a, b, atol=1e-5) for a, b in zip(out_before, out_after))


def test_pre_drop_path_adapter_trains_under_activation_checkpointing():
    """``with_cp`` recomputes each block in backward: the pre-drop-path hook runs again with the right inputs."""
    plain, checkpointed = adapter_model('before_drop_path'), adapter_model('before_drop_path', with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64)
    grads = []
    for model in (plain, checkpointed):
        model.eval()
        sum(o.pow(2).sum() for o in model(x)).backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, msg=name)
    assert sum(isinstance(m, PETLBlockMixin) for m in checkpointed.modules()) == 4
