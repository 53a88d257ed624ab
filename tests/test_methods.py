"""Every registered method on every upstream backbone where it makes sense: shapes, what trains, gradients, the
documented trainable count, initialisation, state-dict round trip, a re-entrant forward, replicas; the refusal of every
backbone it does not support; and the trainable-count formula on Swin-B/L and ViT-B/L.

No method is named here: the cases come from :func:`mmpetl.models.available_methods`, and what differs between methods
is read from the method class (``is_identity_at_init``, ``replaces_outputs``, ``supported_backbones``,
``expected_trainable``), so a new registered method is tested without editing this file. The per-case checks are plain
functions (``check_*``), also called by ``tests/test_new_method.py`` on a throwaway method.
"""
import copy

import pytest
import torch
from mmengine.registry import MODELS
from torch import nn

from mmpetl.models import available_methods, build_petl_backbone
from mmpetl.models.blocks import spec_for, supported_blocks
from mmpetl.models.methods import REPORTED_COLUMNS, BasePETLMethod, LoRA, PETLModule, Reported
from mmpetl.models.methods.base import block_widths
from mmpetl.registry import PETL_METHODS
from mmpetl.utils import count_parameters

from mmpetl.benchmark.backbones import STANDARD_BACKBONES

# The ViTs have 4 blocks: HST needs one per side stage with its defaults.
SMALL_BACKBONES = {
    'mmdet.Swin': dict(type='mmdet.SwinTransformer', embed_dims=32, depths=(2, 2), num_heads=(1, 2),
                       out_indices=(0, 1)),
    'mmseg.Swin': dict(type='mmseg.SwinTransformer', embed_dims=32, depths=(2, 2), num_heads=(1, 2),
                       out_indices=(0, 1)),
    'mmpretrain.Swin': dict(type='mmpretrain.SwinTransformer', arch=dict(embed_dims=32, depths=(2, 2),
                                                                         num_heads=(1, 2)), out_indices=(0, 1)),
    'mmseg.ViT': dict(type='mmseg.VisionTransformer', img_size=(32, 32), patch_size=8, embed_dims=32, num_layers=4,
                      num_heads=2, out_indices=(3, )),
    'mmpretrain.ViT': dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=8, out_type='featmap',
                           arch=dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)),
    'mmpretrain.ViT-nocls': dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=8, out_type='featmap',
                                 with_cls_token=False,
                                 arch=dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)),
}
#: The block widths of the standard backbones, written out: the formulas read them from the built blocks.
STANDARD_WIDTHS = {
    'Swin-B': [128] * 2 + [256] * 2 + [512] * 18 + [1024] * 2,
    'Swin-L': [192] * 2 + [384] * 2 + [768] * 18 + [1536] * 2,
    'ViT-B': [768] * 12,
    'ViT-L': [1024] * 24,
}


def method_class(method: dict) -> type:
    return PETL_METHODS.get(method['type'])


def options_of(method: dict) -> dict:
    return {k: v for k, v in method.items() if k != 'type'}


def supports(method: dict, backbone_cfg: dict) -> bool:
    """Whether the method says it attaches to this upstream backbone (``supported_backbones``)."""
    supported = method_class(method).supported_backbones
    return supported is None or backbone_cfg['type'] in supported


def method_cases(backbones: dict):
    """(method, backbone) for every registered method and every backbone of ``backbones``, read when called."""
    return [(m, b) for m in available_methods() for b in backbones]


def build_pair(method: dict, backbone_cfg: dict, seed=0):
    """The upstream backbone and the PETL one with the same upstream weights, both in eval mode."""
    torch.manual_seed(seed)
    upstream = MODELS.build(backbone_cfg)
    model = build_petl_backbone(backbone_cfg, method)
    missing, unexpected = model.load_state_dict(upstream.state_dict(), strict=False)
    assert not unexpected
    upstream.eval()
    model.eval()
    return upstream, model


def input_for(backbone_cfg: dict, batch=2):
    return torch.randn(batch, 3, 64, 64) if 'Swin' in backbone_cfg['type'] else torch.randn(batch, 3, 32, 32)


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]


def inserted_ids(model: nn.Module):
    """The parameters of the modules the method inserted (every PETLModule in the model), by identity."""
    return {id(p) for m in model.modules() if isinstance(m, PETLModule) for p in m.parameters()}


def check_refused(method: dict, backbone_cfg: dict) -> None:
    """A backbone outside ``supported_backbones`` is refused at build time by the core, with one message that names
    the method, the upstream backbone and the supported ones (the known blocks, where the method lists none)."""
    with pytest.raises(ValueError) as info:
        build_petl_backbone(backbone_cfg, method)
    message = str(info.value)
    supported = method_class(method).supported_backbones
    choices = ', '.join(supported) if supported is not None else ', '.join(supported_blocks())
    assert message.startswith(f"PETLBackbone: method {method['type']!r} does not support the backbone "
                              f"{backbone_cfg['type']} ("), message
    assert message.endswith(f'Supported backbones: {choices}') or \
        message.endswith(f'Supported backbones: those built of these blocks: {choices}'), message


def check_outputs(method: dict, upstream: nn.Module, model: nn.Module, x: torch.Tensor) -> None:
    """Upstream container length and shapes (or the method's own outputs); exactly the upstream function at init iff
    the method says so for these options (``is_identity_at_init``)."""
    cls = method_class(method)
    identity_at_init = cls.is_identity_at_init(**options_of(method))
    ref = as_list(upstream(x))
    out = as_list(model(x))
    assert out and all(isinstance(o, torch.Tensor) and o.shape[0] == x.shape[0] for o in out)
    if cls.replaces_outputs:
        assert not identity_at_init, 'a method that replaces the outputs cannot be the identity at init'
        return
    assert [o.shape for o in out] == [r.shape for r in ref]
    if identity_at_init:
        for o, r in zip(out, ref):
            torch.testing.assert_close(o, r, rtol=0, atol=1e-6)
    else:
        assert any(not torch.equal(o, r) for o, r in zip(out, ref)), \
            f'{method["type"]} computes the upstream function at init: is_identity_at_init should say so'


def check_what_trains(model: nn.Module):
    """Exactly the inserted modules' parameters and the upstream ones ``trains_upstream`` selects train; the inserted
    modules are those the method recorded, named after the method (``<name>_<where>``, or ``<name>``). Returns the
    trainable names."""
    method = model.petl_method
    inserted = inserted_ids(model)
    assert inserted == {id(p) for _, module in method.inserted for p in module.parameters()}
    params = dict(model.named_parameters())
    expected = {n for n, p in params.items() if id(p) in inserted or method.trains_upstream(n, p)}
    trainable = {n for n, p in params.items() if p.requires_grad}
    assert trainable == expected
    for name, param in params.items():
        if id(param) in inserted:
            assert any(part == method.name or part.startswith(f'{method.name}_') for part in name.split('.')), name
    return trainable


def check_trainable_count(method: dict, model: nn.Module):
    """The trainable count is the method's documented one (:meth:`~BasePETLMethod.expected_trainable`), where it
    documents one. Returns that count (or None)."""
    expected = method_class(method).expected_trainable(model, **options_of(method))
    if expected is not None:
        trainable = count_parameters(model)['trainable']
        assert trainable == expected, f'{method["type"]}: {trainable:,} trainable parameters, documented {expected:,}'
    return expected


def check_gradients(model: nn.Module, x: torch.Tensor, trainable) -> None:
    """In training mode, a loss on the outputs reaches every trainable parameter and nothing else."""
    model.train()
    loss = sum(o.float().pow(2).mean() for o in as_list(model(x)))
    if not trainable:  # nothing in the graph
        assert not loss.requires_grad
    else:
        loss.backward()
        with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
        assert with_grad == trainable
    model.zero_grad(set_to_none=True)
    model.eval()


def check_init_survives_init_weights(model: nn.Module) -> None:
    """The upstream ``init_weights()`` (which re-initialises every nn.Linear below an mmdet Swin) leaves the inserted
    modules with their own initialisation."""
    inserted = inserted_ids(model)
    names = [n for n, p in model.named_parameters() if id(p) in inserted]
    before = {n: p.detach().clone() for n, p in model.named_parameters() if id(p) in inserted}
    for module in model.modules():
        if isinstance(module, PETLModule):
            for p in module.parameters():
                nn.init.constant_(p, 0.5)
    model.init_weights()
    params = dict(model.named_parameters())
    for name in names:
        param = params[name]
        assert not torch.all(param == 0.5), name
        if torch.all(before[name] == before[name].flatten()[0]):  # constant inits (zeros, ones, 1e-6) come back
            assert torch.equal(param, before[name]), name


def check_state_dict_round_trip(method: dict, backbone_cfg: dict, model: nn.Module, x: torch.Tensor) -> None:
    """A trained state (perturbed) survives save -> fresh build -> strict load: the same outputs."""
    for p in model.parameters():
        if p.requires_grad:
            p.data.add_(0.01 * torch.randn_like(p))
    state = model.state_dict()
    _, fresh = build_pair(method, backbone_cfg, seed=1)
    fresh.load_state_dict(state, strict=True)
    outs, refs = as_list(fresh(x)), as_list(model(x))
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        assert torch.equal(o, r)


def tensors_left_on_modules(model: nn.Module):
    """``module.attribute`` names of plain attributes (not parameters, buffers, children) holding tensors."""
    def holds_tensor(value):
        return isinstance(value, torch.Tensor) or \
            isinstance(value, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in value)
    return [f'{name}.{attr}' for name, module in model.named_modules() for attr, value in vars(module).items()
            if holds_tensor(value)]


def check_reentrant(model: nn.Module, x: torch.Tensor) -> None:
    """Another forward of the same model, run from a hook on its first or its last block (inside the upstream forward;
    after the last block, between it and what a method computes after it: E3VA's highway, HST's side network), leaves
    both results exactly as when each runs alone, and no call leaves a tensor on a module."""
    model.eval()
    y = torch.randn_like(x)
    alone_x, alone_y = as_list(model(x)), as_list(model(y))
    blocks = [module for module in model.modules() if spec_for(module) is not None]
    for block in (blocks[0], blocks[-1]):
        inner = []

        def run_inner(module, args, output):
            if not inner:  # the nested forward runs this hook too
                inner.append(None)
                inner[0] = as_list(model(y))

        handle = block.register_forward_hook(run_inner)
        try:
            outer = as_list(model(x))
        finally:
            handle.remove()
        assert all(torch.equal(o, a) for o, a in zip(outer, alone_x)) and len(outer) == len(alone_x)
        assert all(torch.equal(i, a) for i, a in zip(inner[0], alone_y)) and len(inner[0]) == len(alone_y)
    assert not tensors_left_on_modules(model)


def check_replica(model: nn.Module, x: torch.Tensor) -> None:
    """A replica that shares the model's attributes, its method object included, but has modules of its own (as
    ``nn.DataParallel``'s replicas do: they copy each module's attributes shallowly) computes with its own modules."""
    model.eval()
    alone = as_list(model(x))
    replica = copy.deepcopy(model, memo={id(model.petl_method): model.petl_method})
    assert replica.petl_method is model.petl_method
    assert all(torch.equal(r, a) for r, a in zip(as_list(replica(x)), alone))
    with torch.no_grad():
        for param in replica.parameters():
            param.add_(0.1 * torch.randn_like(param))
    assert all(torch.equal(o, a) for o, a in zip(as_list(model(x)), alone))
    assert any(not torch.allclose(r, a, atol=1e-4) for r, a in zip(as_list(replica(x)), alone))


def check_method_on_backbone(method: dict, backbone_cfg: dict) -> None:
    """Every per-case check, in order (or the refusal, for a backbone the method does not support)."""
    if not supports(method, backbone_cfg):
        check_refused(method, backbone_cfg)
        return
    upstream, model = build_pair(method, backbone_cfg)
    x = input_for(backbone_cfg)
    check_outputs(method, upstream, model, x)
    trainable = check_what_trains(model)
    check_trainable_count(method, model)
    check_gradients(model, x, trainable)
    check_init_survives_init_weights(model)
    check_state_dict_round_trip(method, backbone_cfg, model, input_for(backbone_cfg, batch=1))
    check_reentrant(model, input_for(backbone_cfg, batch=1))
    check_replica(model, input_for(backbone_cfg, batch=1))


def check_formula_on_standard_backbone(method: dict, backbone: str) -> None:
    """On a standard backbone, the trainable count is the documented one, on block widths checked independently."""
    model = build_petl_backbone(STANDARD_BACKBONES[backbone], method)
    assert block_widths(model) == STANDARD_WIDTHS[backbone]
    expected = method_class(method).expected_trainable(model, **options_of(method))
    assert expected is not None, f'{method["type"]} documents no trainable count on {backbone}'
    assert count_parameters(model)['trainable'] == expected


def check_method_facts(method: str) -> None:
    """A documented trainable count on a backbone it supports, a description, paper figures by known column."""
    cls = PETL_METHODS.get(method)
    assert issubclass(cls, BasePETLMethod)
    assert cls.expected_trainable.__func__ is not BasePETLMethod.expected_trainable.__func__, \
        f'{method} does not document its trainable count (override expected_trainable)'
    backbone = next(cfg for cfg in SMALL_BACKBONES.values() if supports(dict(type=method), cfg))
    assert cls.expected_trainable(build_petl_backbone(backbone, dict(type=method))) is not None
    assert cls.description() and '\n' not in cls.description()
    assert set(cls.reported) <= set(REPORTED_COLUMNS)
    assert all(isinstance(r, Reported) and r.value and r.source for r in cls.reported.values())


@pytest.mark.parametrize('method, backbone', method_cases(SMALL_BACKBONES))
def test_method_on_backbone(method, backbone):
    check_method_on_backbone(dict(type=method), SMALL_BACKBONES[backbone])


@pytest.mark.parametrize('method', available_methods())
def test_method_carries_its_facts(method):
    check_method_facts(method)


#: A backbone without a transformer block the core knows: no method supports it.
RESNET = dict(type='mmdet.ResNet', depth=18)


@pytest.mark.parametrize('method', available_methods())
def test_a_backbone_without_known_blocks_is_refused(method):
    check_refused(dict(type=method), RESNET)


def test_lora_refuses_a_block_without_a_fused_qkv_projection():
    """Beyond its supported backbones, LoRA checks each block for the fused qkv Linear it adapts (mmseg's ViT, which
    it does not support, has none: its attention is torch's nn.MultiheadAttention)."""
    with pytest.raises(ValueError, match='fused qkv nn.Linear.*mmpretrain.VisionTransformer'):
        LoRA().attach(MODELS.build(SMALL_BACKBONES['mmseg.ViT']))


def test_mona_on_vit_keeps_the_cls_token_out_of_the_convolutions():
    _, model = build_pair(dict(type='Mona'), SMALL_BACKBONES['mmpretrain.ViT'])
    seen = []
    adapter = model.layers[0].mona_attn
    adapter.conv.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    model(torch.randn(1, 3, 32, 32))
    assert seen == [torch.Size([1, 64, 4, 4])]  # 16 patch tokens on their 4x4 grid, no cls token


@pytest.mark.slow
@pytest.mark.parametrize('method, backbone', [
    (m, b) for m, b in method_cases(STANDARD_BACKBONES) if supports(dict(type=m), STANDARD_BACKBONES[b])])
def test_trainable_parameters_equal_the_formula(method, backbone):
    check_formula_on_standard_backbone(dict(type=method), backbone)


def upstream_names_by_definition(method: str, model: nn.Module) -> set:
    """The upstream parameter names a selecting baseline trains, by its published definition, derived from the model
    independently of the method's code (``trains_upstream`` and ``expected_trainable``)."""
    from torch.nn.modules.batchnorm import _BatchNorm

    names = [n for n, _ in model.named_parameters()]
    if method == 'Full':
        return set(names)
    if method == 'BitFit':  # the reference's rule: every name containing 'bias' (Swin's position bias tables too)
        return {n for n in names if 'bias' in n}
    if method == 'LNTune':
        return {f'{m}.{p}' if m else p for m, mod in model.named_modules()
                if isinstance(mod, (nn.LayerNorm, _BatchNorm, nn.GroupNorm)) for p, _ in mod.named_parameters()}
    if method == 'Partial1':
        last = [m for m, mod in model.named_modules() if spec_for(mod) is not None][-1]
        return {n for n in names if n.startswith(last + '.')}
    raise KeyError(method)


@pytest.mark.parametrize('backbone', list(SMALL_BACKBONES))
@pytest.mark.parametrize('method', ['Full', 'BitFit', 'LNTune', 'Partial1'])
def test_selecting_baselines_train_the_parameters_their_definition_names(method, backbone):
    _, model = build_pair(dict(type=method), SMALL_BACKBONES[backbone])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == upstream_names_by_definition(method, model)
