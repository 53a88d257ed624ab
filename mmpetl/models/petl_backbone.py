"""``mmpetl.PETLBackbone``: an upstream backbone with a PETL method attached.

Example (any OpenMMLab 2.x config)::

    model = dict(
        backbone=dict(
            type='mmpetl.PETLBackbone',
            backbone=dict(type='mmdet.SwinTransformer', embed_dims=128, depths=(2, 2, 18, 2), ...),
            method=dict(type='Mona')))

The result *is* the upstream backbone object (its class becomes ``PETL<UpstreamClass>``, a subclass), so parameter
names, pretrained-checkpoint keys and ``paramwise_cfg`` custom keys are unchanged; the method's modules appear under
names that start with the method's name (``stages.0.blocks.0.mona_attn.down_proj.weight``). Which parameters train is
settled here, at construction time, because DDP wraps the model before ``train()`` or ``init_weights()`` run.
"""
import copy
from typing import List

from torch import nn

from ..registry import MODELS, PETL_METHODS
from .blocks import class_path, petl_subclass, supported_blocks
from .methods.base import BasePETLMethod, PETLModule


class PETLBackboneMixin:
    """Mixed in front of the upstream backbone class; ``petl_method`` is the attached :class:`BasePETLMethod`."""
    petl_method: BasePETLMethod

    def init_weights(self):
        super().init_weights()
        # The upstream init (e.g. mmdet's Swin: trunc_normal_ on every nn.Linear below it) also hits the inserted
        # modules; give them their own initialisation back.
        for module in self.modules():
            if isinstance(module, PETLModule):
                module.init_weights()

    def forward(self, *args, **kwargs):
        return self.petl_method.backbone_forward(super().forward, *args, **kwargs)


def available_methods() -> List[str]:
    PETL_METHODS.import_from_location()
    return sorted(PETL_METHODS.module_dict)


def build_method(method: dict) -> BasePETLMethod:
    if not isinstance(method, dict) or 'type' not in method:
        raise TypeError(f'PETLBackbone: `method` must be a dict with a `type`, e.g. dict(type="Mona"); got {method!r}.'
                        f' Valid types: {", ".join(available_methods())}')
    method = copy.deepcopy(dict(method))
    method_type = method['type']
    if method_type not in available_methods():
        raise ValueError(f'PETLBackbone: unknown PETL method {method_type!r}. '
                         f'Valid choices: {", ".join(available_methods())}')
    return PETL_METHODS.build(method)


def build_upstream(backbone: dict) -> nn.Module:
    if not isinstance(backbone, dict) or 'type' not in backbone:
        raise TypeError('PETLBackbone: `backbone` must be the upstream backbone config, a dict with a `type` such as '
                        f'"mmdet.SwinTransformer"; got {backbone!r}')
    if backbone.get('frozen_stages', -1) not in (-1, None):
        raise ValueError(f'PETLBackbone: backbone.frozen_stages={backbone["frozen_stages"]} would re-freeze stages in '
                         '`train()`, after the PETL method settled what trains; leave it at -1 and choose the method '
                         '(for example dict(type="Fixed") freezes the whole backbone).')
    try:
        return MODELS.build(copy.deepcopy(backbone))
    except KeyError as err:
        if 'not in the' not in str(err):
            raise
        raise KeyError(f'PETLBackbone: upstream backbone {backbone["type"]!r} was not found ({err.args[0]}). '
                       'Write it with its library\'s scope, e.g. "mmdet.SwinTransformer", "mmseg.SwinTransformer", '
                       '"mmpretrain.SwinTransformer", "mmseg.VisionTransformer".') from None


@MODELS.register_module()
def PETLBackbone(backbone: dict, method: dict) -> nn.Module:
    """Build ``backbone`` from its upstream library and attach the PETL ``method`` to it.

    Args:
        backbone (dict): the upstream backbone config, with its scope (``type='mmdet.SwinTransformer'``).
        method (dict): the method config, ``type`` one of :func:`available_methods` (``dict(type='Mona')``).

    Returns:
        nn.Module: the upstream backbone, now of class ``PETL<UpstreamClass>``, with ``requires_grad`` set.

    Raises:
        ValueError: unknown method, a backbone the method cannot attach to, or nothing left to train.
    """
    petl_method = build_method(method)
    model = build_upstream(backbone)
    upstream_name = f'{type(model).__module__.split(".")[0]}.{type(model).__name__}'
    if petl_method.requires_blocks and next(petl_method.blocks(model), None) is None:
        raise ValueError(f'PETLBackbone: method {method["type"]!r} cannot attach to {upstream_name} '
                         f'({class_path(model)}): it has no transformer block the method knows. Supported blocks: '
                         f'{", ".join(supported_blocks())}')
    petl_method.attach(model)
    model.__class__ = petl_subclass(PETLBackboneMixin, type(model))
    model.petl_method = petl_method

    inserted = {id(p) for _, module in petl_method.inserted for p in module.parameters()}
    for name, param in model.named_parameters():
        param.requires_grad_(id(param) in inserted or petl_method.trains_upstream(name, param))
    if petl_method.requires_trainable and not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f'PETLBackbone: method config {method!r} on {upstream_name} leaves no backbone parameter '
                         'trainable. Check its options (for example the stages or blocks it is restricted to); to '
                         'freeze the whole backbone on purpose, use dict(type="Fixed").')
    return model
