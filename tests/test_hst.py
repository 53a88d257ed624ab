"""HST: outputs, what trains, meta tokens, block groups, parameter counts, initialisation and state dicts, and the side
network against an independent re-computation in the reference's order of operations."""
import re

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS

import mmpetl.models.methods.hst  # noqa: F401  (registers HST before methods/__init__.py imports it)
from mmpetl.benchmark import STANDARD_BACKBONES
from mmpetl.models import build_petl_backbone
from mmpetl.models.methods.base import PETLModule
from mmpetl.models.methods.hst import HST, vit_block_groups
from mmpetl.models.methods.hst_side import HSTSideStage
from mmpetl.utils import count_parameters

TINY = dict(embed_dims=32, num_layers=4, num_heads=2)
SMALL_VITS = {  # 64x64 inputs: ViT grids 4x4 (patch 16) and 8x8 (patch 8)
    'mmseg.ViT': dict(type='mmseg.VisionTransformer', img_size=(64, 64), patch_size=16, mlp_ratio=2, **TINY),
    'mmseg.ViT-nocls': dict(type='mmseg.VisionTransformer', img_size=(64, 64), patch_size=16, mlp_ratio=2,
                            with_cls_token=False, **TINY),
    'mmpretrain.ViT': dict(type='mmpretrain.VisionTransformer', img_size=64, patch_size=8,
                           arch=dict(feedforward_channels=64, **TINY)),
    'mmpretrain.ViT-nocls': dict(type='mmpretrain.VisionTransformer', img_size=64, patch_size=8, out_type='featmap',
                                 with_cls_token=False, arch=dict(feedforward_channels=64, **TINY)),
}
VIT_B = STANDARD_BACKBONES['ViT-B']
VIT_L = STANDARD_BACKBONES['ViT-L']
WIDTHS = [32, 48, 64, 72]
BLOCK_NORM = re.compile(r'layers\.\d+\.(ln1|ln2)\.(weight|bias)')  # both ViTs name their in-block norms ln1 / ln2


def build_pair(backbone, seed=0, **method):
    """The upstream ViT and the HST one with the same upstream weights, both in eval mode."""
    cfg = SMALL_VITS[backbone]
    torch.manual_seed(seed)
    upstream = MODELS.build(cfg)
    model = build_petl_backbone(cfg, dict(type='HST', **method))
    _, unexpected = model.load_state_dict(upstream.state_dict(), strict=False)
    assert not unexpected
    upstream.eval()  # mmseg's ViT.train() returns None: no chaining
    model.eval()
    return upstream, model


def expected_trainable(model):
    """Side network, bridges, meta tokens (all named hst_*) and the LayerNorms inside the ViT blocks."""
    return {n for n, _ in model.named_parameters() if 'hst_' in n or BLOCK_NORM.fullmatch(n)}


@pytest.mark.parametrize('backbone', list(SMALL_VITS))
def test_featmap_outputs_are_four_maps_at_strides_4_to_32(backbone):
    _, model = build_pair(backbone)
    outs = model(torch.randn(2, 3, 64, 64))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(2, c, 64 // s, 64 // s) for c, s in zip(WIDTHS, (4, 8, 16, 32))]


@pytest.mark.parametrize('backbone', ['mmseg.ViT', 'mmpretrain.ViT-nocls'])
def test_pooled_output_is_the_batch_normalised_mean_of_the_last_stage(backbone):
    _, featmap = build_pair(backbone)
    _, pooled = build_pair(backbone, out_type='pooled')
    pooled.load_state_dict(featmap.state_dict(), strict=False)  # only the pooled BatchNorm1d's buffers are new
    x = torch.randn(2, 3, 64, 64)
    out = pooled(x)
    assert isinstance(out, tuple) and len(out) == 1 and out[0].shape == (2, 72)
    # eval mode, fresh running statistics (mean 0, var 1): the BatchNorm1d divides by sqrt(1 + eps)
    expected = featmap(x)[-1].mean(dim=(2, 3)) / (1 + 1e-6) ** 0.5
    torch.testing.assert_close(out[0], expected)


@pytest.mark.parametrize('out_type', ['featmap', 'pooled'])
@pytest.mark.parametrize('backbone', list(SMALL_VITS))
def test_exactly_the_intended_parameters_train_and_receive_gradients(backbone, out_type):
    _, model = build_pair(backbone, out_type=out_type)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == expected_trainable(model)
    assert any('.hst_meta.token' in n for n in trainable) and any(n.startswith('hst_side.') for n in trainable)
    assert len([n for n in trainable if BLOCK_NORM.fullmatch(n)]) == 4 * 4  # 4 blocks x 2 norms x (weight, bias)

    model.train()
    loss = sum(o.pow(2).mean() for o in model(torch.randn(2, 3, 64, 64)))
    loss.backward()
    # the norms of the first ViT block get a gradient only through the frozen blocks after it: no detach
    assert {n for n, p in model.named_parameters() if p.grad is not None} == trainable


@pytest.mark.parametrize('backbone', list(SMALL_VITS))
def test_each_block_sees_one_meta_token_and_computes_what_the_upstream_block_computes(backbone):
    upstream, model = build_pair(backbone)
    num_prefix = 0 if 'nocls' in backbone else 1
    grid = (4, 4) if 'mmseg' in backbone else (8, 8)
    num_tokens = num_prefix + grid[0] * grid[1]
    block = model.layers[1]
    seen = {}

    def record(key, value):  # hooks must return None: a returned value would replace the inputs / output
        seen[key] = value

    block.register_forward_pre_hook(lambda m, args: record('block_in', args[0]))
    block.attn.register_forward_pre_hook(lambda m, args: record('attn_in', args[0].shape))
    block.register_forward_hook(lambda m, args, out: record('block_out', out))
    model.hst_side.register_forward_pre_hook(lambda m, args: record('kept', args[1][1]))  # (images, kept per block)
    model(torch.randn(2, 3, 64, 64))
    assert seen['block_in'].shape == (2, num_tokens, 32)  # what the previous block handed on: no meta token
    assert seen['attn_in'] == (2, 1 + num_tokens, 32)  # inside the block: one extra token
    assert seen['block_out'].shape == (2, num_tokens, 32)

    # apart from the meta token, the block is the upstream block run on [meta; x]
    x = seen['block_in']
    with_meta = upstream.layers[1](torch.cat([block.hst_meta.token.expand(2, -1, -1), x], dim=1))
    torch.testing.assert_close(seen['block_out'], with_meta[:, 1:], rtol=0, atol=1e-6)
    # ... and the side network received that block's output meta token and patch tokens
    meta, patches, hw = seen['kept']
    torch.testing.assert_close(meta, with_meta[:, :1], rtol=0, atol=1e-6)
    torch.testing.assert_close(patches, with_meta[:, 1 + num_prefix:], rtol=0, atol=1e-6)
    assert hw == grid


def test_activation_checkpointing_gives_the_same_gradients():
    _, model = build_pair('mmseg.ViT')
    checkpointed = build_petl_backbone(dict(SMALL_VITS['mmseg.ViT'], with_cp=True), dict(type='HST'))
    checkpointed.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    grads = []
    for m in (model, checkpointed):
        m.train()
        sum(o.pow(2).mean() for o in m(x)).backward()
        grads.append({n: p.grad for n, p in m.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=0, atol=1e-6)


def test_block_groups_for_vit_b_and_vit_l():
    assert vit_block_groups(12, (3, 3, 3, 3)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert vit_block_groups(24, (3, 3, 3, 3)) == [[1, 3, 5], [7, 9, 11], [13, 15, 17], [19, 21, 23]]
    assert vit_block_groups(4, (3, 3, 3, 3)) == [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]]
    assert vit_block_groups(6, (2, 2, 2, 2)) == [[0, 0], [1, 2], [3, 3], [4, 5]]  # unequal groups: floor(s*L/4)
    with pytest.raises(ValueError, match='at least one ViT block per side stage'):
        vit_block_groups(3, (3, 3, 3, 3))


def test_block_groups_of_a_built_twelve_block_vit():
    cfg = dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=16,
               arch=dict(embed_dims=32, num_layers=12, num_heads=2, feedforward_channels=64))
    model = build_petl_backbone(cfg, dict(type='HST'))
    assert [stage.vit_blocks for stage in model.hst_side.stages] == vit_block_groups(12, (3, 3, 3, 3))
    assert all(layer.hst_tap.keep for layer in model.layers)
    assert count_parameters(model)['trainable'] == HST.num_parameters(32, 12)


def test_bridging_before_resizing_equals_the_reference_order():
    stage = HSTSideStage(torch.nn.Identity(), 16, 40, [0], 2, 4., [0.], dict(type='LN'))
    patches = torch.randn(2, 5 * 7, 40)
    grid = patches.transpose(1, 2).reshape(2, 40, 5, 7)
    for hw in [(20, 28), (10, 14), (5, 7), (3, 4)]:
        reference = stage.bridge(F.interpolate(grid, size=hw, mode='bilinear', align_corners=False)
                                 .flatten(2).transpose(1, 2))
        torch.testing.assert_close(stage.bridged_map(patches, (5, 7), hw), reference, rtol=1e-5, atol=1e-5)


def side_network_as_the_reference(model, upstream, images):
    """The HST forward recomputed in the reference's order with the model's weights: upstream ViT blocks run on
    [meta; x], the ViT map resized then bridged, the cross-attention written out from q/k/v projections."""
    tokens = {}
    handles = [upstream.layers[0].register_forward_pre_hook(lambda m, args: tokens.update(x=args[0])),
               upstream.patch_embed.register_forward_hook(lambda m, args, out: tokens.update(grid=out[1]))]
    upstream(images)
    for handle in handles:
        handle.remove()
    x, (H, W), B = tokens['x'], tokens['grid'], images.shape[0]
    metas, maps = [], []
    for layer, petl_layer in zip(upstream.layers, model.layers):
        x = layer(torch.cat([petl_layer.hst_meta.token.expand(B, -1, -1), x], dim=1))
        metas.append(x[:, :1])
        maps.append(x[:, x.shape[1] - H * W:].transpose(1, 2).reshape(B, -1, H, W))
        x = x[:, 1:]
    side, x_m = model.hst_side, images
    for stage in side.stages:
        x_m, (h, w) = stage.embed(x_m)
        for block, meta_norm, index in zip(stage.blocks, stage.meta_norms, stage.vit_blocks):
            vit = stage.bridge(F.interpolate(maps[index], size=(h, w), mode='bilinear', align_corners=False)
                               .flatten(2).transpose(1, 2))
            kv = torch.cat([meta_norm(stage.bridge(metas[index])), vit.mean(dim=1, keepdim=True)], dim=1)
            mha, heads = block.attn.attn, block.attn.num_heads
            q, k, v = (F.linear(t, w_, b_) for t, w_, b_ in zip(
                (block.norm1(x_m), kv, kv), mha.in_proj_weight.chunk(3), mha.in_proj_bias.chunk(3)))
            q, k, v = (t.reshape(B, t.shape[1], heads, -1).transpose(1, 2) for t in (q, k, v))
            attn = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1)
            x_m = x_m + mha.out_proj((attn @ v).transpose(1, 2).reshape(B, -1, x_m.shape[-1]))
            x_m = x_m + vit
            fc1, fc2 = block.ffn.layers[0][0], block.ffn.layers[1]
            x_m = x_m + fc2(F.gelu(fc1(block.norm2(x_m))))
        x_m = stage.norm(x_m)
        last = x_m
        x_m = x_m.transpose(1, 2).reshape(B, -1, h, w)
    return side.pool_norm(last.mean(dim=1))


@pytest.mark.parametrize('backbone', ['mmpretrain.ViT', 'mmseg.ViT-nocls'])
def test_pooled_output_matches_the_reference_computation(backbone):
    upstream, model = build_pair(backbone, out_type='pooled')
    for p in model.parameters():  # away from the initialisation, so that every term counts
        if p.requires_grad:
            p.data.add_(0.05 * torch.randn_like(p))
    upstream.load_state_dict({k: v for k, v in model.state_dict().items() if 'hst_' not in k})
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(images)[0], side_network_as_the_reference(model, upstream, images),
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize('out_type', ['pooled', 'featmap'])
def test_vit_b_trainable_parameters_equal_the_formula(out_type):
    model = build_petl_backbone(VIT_B, dict(type='HST', out_type=out_type))
    assert count_parameters(model)['trainable'] == HST.num_parameters(768, 12) == 764_840
    assert HST.parameter_counts(768, 12) == dict(meta_tokens=9216, vit_block_norms=36864, bridges=167400, stem=5120,
                                                 patch_embeds=83496, side_blocks=462312, stage_norms=432)


@pytest.mark.slow
def test_vit_l_builds_runs_and_counts():
    model = build_petl_backbone(VIT_L, dict(type='HST', out_type='pooled'))
    model.eval()
    groups = vit_block_groups(24, (3, 3, 3, 3))
    assert [stage.vit_blocks for stage in model.hst_side.stages] == groups
    assert [layer.hst_tap.keep for layer in model.layers] == [i % 2 == 1 for i in range(24)]
    assert count_parameters(model)['trainable'] == HST.num_parameters(1024, 24) == 896_936
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32))
    assert out[0].shape == (1, 72)


@pytest.mark.parametrize('backbone', ['mmseg.ViT', 'mmpretrain.ViT'])
def test_initialisation_survives_upstream_init_weights_and_state_dict_round_trip(backbone):
    _, model = build_pair(backbone)
    for module in model.modules():
        if isinstance(module, PETLModule):
            for p in module.parameters():
                torch.nn.init.constant_(p, 0.5)
    model.init_weights()  # the upstream init (mmseg: trunc-normal on every Linear below the ViT) then ours
    for name, param in model.named_parameters():
        if 'hst_' not in name:
            continue
        assert not torch.all(param == 0.5), name
        if re.search(r'(norm\d?|meta_norms\.\d+|\.bn)\.weight$', name):
            assert torch.all(param == 1), name
        elif name.endswith('bias'):  # the upstream init leaves N(0, 1e-6) biases on every "ffn" Linear
            assert torch.all(param == 0), name

    model.train()
    for p in model.parameters():  # a trained state: perturbed weights and running statistics
        if p.requires_grad:
            p.data.add_(0.01 * torch.randn_like(p))
    model(torch.randn(2, 3, 64, 64))
    model.eval()
    _, fresh = build_pair(backbone, seed=1)
    fresh.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    for o, r in zip(fresh(x), model(x)):
        assert torch.equal(o, r)


def test_refuses_a_backbone_that_is_not_a_plain_vit():
    swin = dict(type='mmdet.SwinTransformer', embed_dims=32, depths=(2, 2), num_heads=(1, 2), out_indices=(0, 1))
    with pytest.raises(ValueError, match="method 'HST' does not support the backbone mmdet.SwinTransformer .*"
                                         'Supported backbones: mmseg.VisionTransformer, mmpretrain.VisionTransformer'):
        build_petl_backbone(swin, dict(type='HST'))


def test_refuses_bad_settings():
    with pytest.raises(ValueError, match="out_type must be one of"):
        build_petl_backbone(SMALL_VITS['mmseg.ViT'], dict(type='HST', out_type='cls_token'))
    with pytest.raises(ValueError, match='one entry per side stage'):
        build_petl_backbone(SMALL_VITS['mmseg.ViT'], dict(type='HST', depths=(3, 3, 3)))
    cfg = dict(SMALL_VITS['mmseg.ViT'], num_layers=3)
    with pytest.raises(ValueError, match='at least one ViT block per side stage'):
        build_petl_backbone(cfg, dict(type='HST'))
