"""Every method on every upstream backbone where it makes sense: shapes, what trains, gradients, initialisation,
state-dict round trip, and the trainable-parameter formula on Swin-B/L and ViT-B/L."""
import pytest
import torch
from mmengine.registry import MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmpetl.models import PETLBackbone
from mmpetl.models.blocks import spec_for
from mmpetl.models.methods import Bottleneck, LoRandAdapter, LoRAQV, MonaAdapter, PETLModule
from mmpetl.utils import count_parameters

SMALL_BACKBONES = {
    'mmdet.Swin': dict(type='mmdet.SwinTransformer', embed_dims=32, depths=(2, 2), num_heads=(1, 2),
                       out_indices=(0, 1)),
    'mmseg.Swin': dict(type='mmseg.SwinTransformer', embed_dims=32, depths=(2, 2), num_heads=(1, 2),
                       out_indices=(0, 1)),
    'mmpretrain.Swin': dict(type='mmpretrain.SwinTransformer', arch=dict(embed_dims=32, depths=(2, 2),
                                                                         num_heads=(1, 2)), out_indices=(0, 1)),
    'mmseg.ViT': dict(type='mmseg.VisionTransformer', img_size=(32, 32), patch_size=8, embed_dims=32, num_layers=2,
                      num_heads=2, out_indices=(1, )),
    'mmpretrain.ViT': dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=8, out_type='featmap',
                           arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)),
    'mmpretrain.ViT-nocls': dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=8, out_type='featmap',
                                 with_cls_token=False,
                                 arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)),
}
INSERTING = {  # method -> the marker in the names of its parameters
    'Mona': '.mona_', 'Adapter': '.adapter_', 'AdaptFormer': '.adaptformer_', 'LoRand': '.lorand_',
    'LoRA': '.qkv.lora.'
}
SELECTING = ['Full', 'Fixed', 'BitFit', 'LNTune', 'Partial1']
IDENTITY_AT_INIT = ['Adapter', 'AdaptFormer', 'LoRA', 'Fixed', 'Full', 'BitFit', 'LNTune', 'Partial1']
UNSUPPORTED = {('LoRA', 'mmseg.ViT')}  # torch's nn.MultiheadAttention has no fused qkv Linear to hook

CASES = [(m, b) for m in [*INSERTING, *SELECTING] for b in SMALL_BACKBONES if (m, b) not in UNSUPPORTED]


def build_pair(method, backbone, seed=0):
    """The upstream backbone and the PETL one with the same upstream weights, both in eval mode."""
    cfg = SMALL_BACKBONES[backbone]
    torch.manual_seed(seed)
    upstream = MODELS.build(cfg)
    model = PETLBackbone(cfg, dict(type=method))
    missing, unexpected = model.load_state_dict(upstream.state_dict(), strict=False)
    assert not unexpected
    upstream.eval()
    model.eval()
    return upstream, model


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]


def expected_trainable(method, model):
    """The names that ``method`` must train, derived from the model independently of the method's code."""
    names = [n for n, _ in model.named_parameters()]
    if method in INSERTING:
        return {n for n in names if INSERTING[method] in n}
    if method == 'Full':
        return set(names)
    if method == 'Fixed':
        return set()
    if method == 'BitFit':
        return {n for n in names if n.endswith('.bias')}
    if method == 'LNTune':
        return {f'{m}.{p}' if m else p for m, mod in model.named_modules()
                if isinstance(mod, (nn.LayerNorm, _BatchNorm, nn.GroupNorm)) for p, _ in mod.named_parameters()}
    if method == 'Partial1':
        last = [m for m, mod in model.named_modules() if spec_for(mod) is not None][-1]
        return {n for n in names if n.startswith(last + '.')}
    raise KeyError(method)


@pytest.mark.parametrize('method, backbone', CASES)
def test_method_on_backbone(method, backbone):
    upstream, model = build_pair(method, backbone)
    x = torch.randn(2, 3, 64, 64) if 'Swin' in backbone else torch.randn(2, 3, 32, 32)
    ref = as_list(upstream(x))
    out = as_list(model(x))
    assert [o.shape for o in out] == [r.shape for r in ref]
    if method in IDENTITY_AT_INIT:
        for o, r in zip(out, ref):
            torch.testing.assert_close(o, r, rtol=0, atol=1e-6)

    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == expected_trainable(method, model)

    model.train()
    loss = sum(o.float().pow(2).mean() for o in as_list(model(x)))
    if not trainable:  # Fixed: nothing in the graph
        assert not loss.requires_grad
        return
    loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == trainable


@pytest.mark.parametrize('method', list(INSERTING))
@pytest.mark.parametrize('backbone', ['mmdet.Swin', 'mmseg.ViT', 'mmpretrain.ViT'])
def test_initialisation_survives_upstream_init_weights_and_state_dict_round_trip(method, backbone):
    if (method, backbone) in UNSUPPORTED:
        pytest.skip('unsupported pair')
    upstream, model = build_pair(method, backbone)
    x = torch.randn(1, 3, 64, 64) if 'Swin' in backbone else torch.randn(1, 3, 32, 32)
    inserted = [m for m in model.modules() if isinstance(m, PETLModule)]
    before = {n: p.detach().clone() for n, p in model.named_parameters() if INSERTING[method] in n}
    for module in inserted:
        for p in module.parameters():
            nn.init.constant_(p, 0.5)
    model.init_weights()
    for name, param in model.named_parameters():
        if INSERTING[method] not in name:
            continue
        assert not torch.all(param == 0.5), name
        if torch.all(before[name] == before[name].flatten()[0]):  # constant inits (zeros, ones, 1e-6) come back
            assert torch.equal(param, before[name]), name

    # a trained state (perturbed) survives save -> fresh build -> load
    for p in model.parameters():
        if p.requires_grad:
            p.data.add_(0.01 * torch.randn_like(p))
    state = model.state_dict()
    _, fresh = build_pair(method, backbone, seed=1)
    fresh.load_state_dict(state, strict=True)
    for o, r in zip(as_list(fresh(x)), as_list(model(x))):
        assert torch.equal(o, r)


def test_lora_on_mmseg_vit_is_refused_with_the_reason():
    with pytest.raises(ValueError, match='fused qkv nn.Linear.*mmpretrain.VisionTransformer'):
        PETLBackbone(SMALL_BACKBONES['mmseg.ViT'], dict(type='LoRA'))


def test_mona_on_vit_keeps_the_cls_token_out_of_the_convolutions():
    _, model = build_pair('Mona', 'mmpretrain.ViT')
    seen = []
    adapter = model.layers[0].mona_attn
    adapter.conv.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    model(torch.randn(1, 3, 32, 32))
    assert seen == [torch.Size([1, 64, 4, 4])]  # 16 patch tokens on their 4x4 grid, no cls token


# The trainable-parameter formula of each inserting method, from the block widths C of the backbone.
def per_block(method, C):
    return {
        'Mona': 2 * MonaAdapter.num_parameters(C),
        'Adapter': 2 * Bottleneck.num_parameters(C),
        'AdaptFormer': Bottleneck.num_parameters(C),
        'LoRand': 2 * LoRandAdapter.num_parameters(C),
        'LoRA': LoRAQV.num_parameters(C),
    }[method]


SWIN_WIDTHS = {'Swin-B': [128] * 2 + [256] * 2 + [512] * 18 + [1024] * 2,
               'Swin-L': [192] * 2 + [384] * 2 + [768] * 18 + [1536] * 2}
LARGE_BACKBONES = {
    'Swin-B': dict(type='mmdet.SwinTransformer', embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    'Swin-L': dict(type='mmdet.SwinTransformer', embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
    'ViT-B': dict(type='mmpretrain.VisionTransformer', arch='base', img_size=224, patch_size=16),
    'ViT-L': dict(type='mmpretrain.VisionTransformer', arch='large', img_size=224, patch_size=16),
}
WIDTHS = dict(SWIN_WIDTHS, **{'ViT-B': [768] * 12, 'ViT-L': [1024] * 24})


@pytest.mark.parametrize('backbone', list(LARGE_BACKBONES))
@pytest.mark.parametrize('method', list(INSERTING))
def test_trainable_parameters_equal_the_formula(method, backbone):
    model = PETLBackbone(LARGE_BACKBONES[backbone], dict(type=method))
    expected = sum(per_block(method, C) for C in WIDTHS[backbone])
    assert count_parameters(model)['trainable'] == expected
