"""The PETL core: names kept, requires_grad settled at construction, clear errors for bad input."""
import pytest
import torch
from mmengine.registry import MODELS

from mmpetl.models import PETLBackbone, available_methods
from mmpetl.models.blocks import PETLBlockMixin, make_petl_block, spec_for
from mmpetl.models.methods import BasePETLMethod
from mmpetl.registry import PETL_METHODS

from conftest import TINY_SWIN

SWIN = dict(TINY_SWIN, type='mmdet.SwinTransformer')


def test_upstream_parameter_names_are_kept():
    upstream = MODELS.build(SWIN)
    model = PETLBackbone(SWIN, dict(type='Mona'))
    upstream_keys = set(upstream.state_dict())
    keys = set(model.state_dict())
    assert upstream_keys <= keys
    assert all('.mona_' in key for key in keys - upstream_keys)
    assert isinstance(model, type(upstream))  # still an mmdet SwinTransformer


def test_requires_grad_is_settled_at_construction():
    model = PETLBackbone(SWIN, dict(type='Mona'))
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


def test_with_cp_backbone_trains():
    model = PETLBackbone(dict(SWIN, with_cp=True), dict(type='Mona'))
    sum(o.sum() for o in model(torch.randn(1, 3, 64, 64))).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_unknown_method_lists_the_valid_choices():
    with pytest.raises(ValueError, match=r"unknown PETL method 'Monaa'.*Valid choices: .*Mona"):
        PETLBackbone(SWIN, dict(type='Monaa'))
    assert 'Mona' in available_methods() and 'Fixed' in available_methods()


def test_unknown_method_option_lists_the_valid_options():
    with pytest.raises(TypeError, match=r"unknown option\(s\) 'bottlenek' for PETL method 'Mona'\. "
                                        r"Valid options: bottleneck, dropout, fused"):
        PETLBackbone(SWIN, dict(type='Mona', bottlenek=32))
    with pytest.raises(TypeError, match=r"'rank' for PETL method 'Full'\. Valid options: none"):
        PETLBackbone(SWIN, dict(type='Full', rank=4))


def test_method_must_be_a_config_dict():
    with pytest.raises(TypeError, match='must be a dict with a `type`'):
        PETLBackbone(SWIN, 'Mona')


def test_backbone_the_method_cannot_attach_to():
    with pytest.raises(ValueError, match=r"cannot attach to mmdet.ResNet.*Supported blocks: .*SwinBlock"):
        PETLBackbone(dict(type='mmdet.ResNet', depth=18), dict(type='Mona'))


def test_upstream_type_without_scope_is_explained():
    with pytest.raises(KeyError, match='with its library'):
        PETLBackbone(dict(SWIN, type='SwinTransformerr'), dict(type='Mona'))


def test_upstream_frozen_stages_is_rejected():
    with pytest.raises(ValueError, match='frozen_stages=1'):
        PETLBackbone(dict(SWIN, frozen_stages=1), dict(type='Mona'))


class _InsertsNothing(BasePETLMethod):
    """A method whose configuration matches no block: the core must refuse it."""

    def __init__(self):
        super().__init__(name='nothing')


def test_configuration_that_leaves_nothing_trainable_fails():
    PETL_METHODS.register_module(name='_InsertsNothing', module=_InsertsNothing, force=True)
    try:
        with pytest.raises(ValueError, match='leaves no backbone parameter trainable'):
            PETLBackbone(SWIN, dict(type='_InsertsNothing'))
    finally:
        PETL_METHODS.module_dict.pop('_InsertsNothing')


def test_fixed_freezes_the_whole_backbone():
    model = PETLBackbone(SWIN, dict(type='Fixed'))
    assert not any(p.requires_grad for p in model.parameters())
