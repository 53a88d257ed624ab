"""The PETL core: names kept, requires_grad settled at construction, clear errors for bad input."""
import re

import pytest
import torch
from mmengine.registry import MODELS

from mmpetl.models import available_methods, build_petl_backbone
from mmpetl.models.blocks import PETLBlockMixin, make_petl_block, spec_for
from mmpetl.models.methods import BasePETLMethod
from mmpetl.registry import PETL_METHODS

from conftest import TINY_SWIN

SWIN = dict(TINY_SWIN, type='mmdet.SwinTransformer')


def test_upstream_parameter_names_are_kept():
    upstream = MODELS.build(SWIN)
    model = build_petl_backbone(SWIN, dict(type='Mona'))
    upstream_keys = set(upstream.state_dict())
    keys = set(model.state_dict())
    assert upstream_keys <= keys
    assert all('.mona_' in key for key in keys - upstream_keys)
    assert isinstance(model, type(upstream))  # still an mmdet SwinTransformer


def test_requires_grad_is_settled_at_construction():
    model = build_petl_backbone(SWIN, dict(type='Mona'))
    for name, param in model.named_parameters():
        assert param.requires_grad == ('.mona_' in name), name


@pytest.mark.parametrize('swin', ['mmdet.SwinTransformer', 'mmseg.SwinTransformer'])
def test_petl_block_without_modules_computes_the_upstream_block(swin):
    """The re-expression of each upstream block as two residual branches is exact."""
    upstream = MODELS.build(dict(TINY_SWIN, type=swin))
    upstream.eval()  # (mmdet's Swin.train() returns None)
    x = torch.randn(2, 3, 64, 64)
    expected = upstream(x)
    for module in upstream.modules():
        spec = spec_for(module)
        if spec is not None:
            make_petl_block(upstream, module, spec)
    assert sum(isinstance(m, PETLBlockMixin) for m in upstream.modules()) == 4
    for out, ref in zip(upstream(x), expected):
        assert torch.equal(out, ref)


def test_a_vit_patch_grid_belongs_to_its_call():
    """A ViT's blocks read the patch grid of their own call: a forward of another input size, run from a hook between
    two blocks, leaves the rest of the outer forward on its grid (Mona's convolutions need it)."""
    vit = dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=8, out_type='featmap',
               arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64))
    model = build_petl_backbone(vit, dict(type='Mona'))
    model.eval()
    x, y = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 48, 48)  # grids 4x4 and 6x6
    alone_x, alone_y = model(x), model(y)
    inner = []

    def run_inner(module, args, output):
        if not inner:  # the nested forward runs this hook too
            inner.append(None)
            inner[0] = model(y)

    model.layers[0].register_forward_hook(run_inner)
    outer = model(x)
    assert torch.equal(outer[0], alone_x[0]) and torch.equal(inner[0][0], alone_y[0])


def test_with_cp_backbone_trains():
    model = build_petl_backbone(dict(SWIN, with_cp=True), dict(type='Mona'))
    sum(o.sum() for o in model(torch.randn(1, 3, 64, 64))).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_unknown_method_lists_the_valid_choices():
    with pytest.raises(ValueError, match=r"unknown PETL method 'Monaa'.*Valid choices: .*Mona"):
        build_petl_backbone(SWIN, dict(type='Monaa'))
    assert 'Mona' in available_methods() and 'Fixed' in available_methods()


def test_unknown_method_option_lists_the_valid_options():
    with pytest.raises(TypeError, match=r"unknown option\(s\) 'bottlenek' for PETL method 'Mona'\. "
                                        r"Valid options: bottleneck, dropout, fused"):
        build_petl_backbone(SWIN, dict(type='Mona', bottlenek=32))
    with pytest.raises(TypeError, match=r"'rank' for PETL method 'Full'\. Valid options: none"):
        build_petl_backbone(SWIN, dict(type='Full', rank=4))


def test_method_must_be_a_config_dict():
    with pytest.raises(TypeError, match='must be a dict with a `type`'):
        build_petl_backbone(SWIN, 'Mona')


def test_backbone_the_method_cannot_attach_to():
    with pytest.raises(ValueError, match=r"method 'Mona' does not support the backbone mmdet.ResNet "
                                         r"\(mmdet.models.backbones.resnet.ResNet\): it has no transformer block.*"
                                         r"Supported backbones: those built of these blocks: .*SwinBlock"):
        build_petl_backbone(dict(type='mmdet.ResNet', depth=18), dict(type='Mona'))


def test_configs_name_the_builder_function():
    """``type='mmpetl.PETLBackbone'`` in a config is :func:`build_petl_backbone`, a function that returns the upstream
    backbone (of its PETL class), not a class of its own."""
    assert MODELS.get('mmpetl.PETLBackbone') is build_petl_backbone
    model = MODELS.build(dict(type='mmpetl.PETLBackbone', backbone=SWIN, method=dict(type='Mona')))
    assert isinstance(model, type(MODELS.build(SWIN)))


def test_upstream_type_without_scope_is_explained():
    with pytest.raises(KeyError, match='with its library'):
        build_petl_backbone(dict(SWIN, type='SwinTransformerr'), dict(type='Mona'))


def test_upstream_frozen_stages_is_rejected():
    with pytest.raises(ValueError, match='frozen_stages=1'):
        build_petl_backbone(dict(SWIN, frozen_stages=1), dict(type='Mona'))


@pytest.mark.parametrize('method', ['Full', 'BitFit', 'Mona'])
def test_frozen_modules_stay_frozen_whatever_the_method_trains(method):
    """A reference's ``frozen_stages`` as ``frozen_modules``: settled once at construction, also after ``train()``."""
    model = build_petl_backbone(SWIN, dict(type=method), frozen_modules=['patch_embed'])
    model.train()
    assert not any(p.requires_grad for p in model.patch_embed.parameters())
    reference = build_petl_backbone(SWIN, dict(type=method))
    others = {n for n, p in model.named_parameters() if p.requires_grad}
    assert others == {n for n, p in reference.named_parameters() if p.requires_grad and not n.startswith('patch_embed.')}
    assert others


@pytest.mark.parametrize('names, message', [
    (['patch_embeds'], "frozen_modules names 'patch_embeds', which is not a submodule with parameters of "
                       "mmdet.SwinTransformer; its top-level ones: patch_embed, stages"),
    ('patch_embed', 'frozen_modules must be a list of submodule names'),
])
def test_frozen_modules_that_name_nothing_are_refused(names, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_petl_backbone(SWIN, dict(type='Full'), frozen_modules=names)


class _InsertsNothing(BasePETLMethod):
    """A method whose configuration matches no block: the core must refuse it."""

    def __init__(self):
        super().__init__(name='nothing')


def test_configuration_that_leaves_nothing_trainable_fails():
    PETL_METHODS.register_module(name='_InsertsNothing', module=_InsertsNothing, force=True)
    try:
        with pytest.raises(ValueError, match='leaves no backbone parameter trainable'):
            build_petl_backbone(SWIN, dict(type='_InsertsNothing'))
    finally:
        PETL_METHODS.module_dict.pop('_InsertsNothing')


def test_fixed_freezes_the_whole_backbone():
    model = build_petl_backbone(SWIN, dict(type='Fixed'))
    assert not any(p.requires_grad for p in model.parameters())
