"""``mmpetl.PETLBackbone``: an upstream backbone with a PETL method attached.

``PETLBackbone`` is the registry name of :func:`build_petl_backbone`, a builder function (as mmengine registries allow):
what it returns is the upstream backbone object itself, of its PETL class, not an instance of a class of its own.

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
import inspect
import re
from typing import List, Optional, Sequence, Tuple

from torch import Tensor, nn

from ..registry import MODELS, PETL_METHODS
from .blocks import (ForwardRecord, class_path, make_petl_block, petl_subclass, spec_for, supported_blocks,
                     upstream_class, upstream_type)
from .lean import LEAN_PARTS, bottleneck_support, check_lean_parts, make_bottlenecks_lean
from .methods.base import BasePETLMethod, PETLModule
from .methods.options import PETLConfigError, check_float, fail
from .pretrained import DEFAULT_EXPECTED_MISSING, PretrainedLoadCheck


class PETLBackboneMixin:
    """Mixed in front of the upstream backbone class; ``petl_method`` is the attached :class:`BasePETLMethod`.

    ``petl_min_loaded_share`` and ``petl_expected_missing`` configure the pretrained-weight check of
    :meth:`init_weights` (see :func:`build_petl_backbone`).
    """
    petl_method: BasePETLMethod
    petl_min_loaded_share: float = 1.0
    petl_expected_missing: Tuple[str, ...] = DEFAULT_EXPECTED_MISSING

    def init_weights(self):
        # Upstream inits load Pretrained checkpoints with strict=False and only warn: check what was loaded.
        inserted = {id(p) for module in self.modules() if isinstance(module, PETLModule) for p in module.parameters()}
        upstream_params = {n: tuple(p.shape) for n, p in self.named_parameters() if id(p) not in inserted}
        with PretrainedLoadCheck(self, upstream_params, self.petl_min_loaded_share, self.petl_expected_missing,
                                 upstream_type(self)) as load_check:
            super().init_weights()
        load_check.check()
        # The upstream init (e.g. mmdet's Swin: trunc_normal_ on every nn.Linear below it) also hits the inserted
        # modules; give them their own initialisation back.
        for module in self.modules():
            if isinstance(module, PETLModule):
                module.init_weights()

    def petl_losses(self) -> dict:
        """The method's extra losses on this backbone (:meth:`BasePETLMethod.extra_losses`), for the current weights."""
        return self.petl_method.extra_losses(self)

    def forward(self, *args, **kwargs):
        # One record per call: what the modules record in this call stays in this call (re-entrant, thread-safe).
        with ForwardRecord() as record:
            outs = self.petl_method.backbone_forward(self, record, super().forward, *args, **kwargs)
        return contiguous_outputs(outs)


def contiguous_outputs(outs):
    """The backbone's outputs with every tensor contiguous (a tensor that already is stays the same object).

    Feature maps made from tokens (mmpretrain's ViT ``featmap``, HST's side stages) are channels-last views, and convs
    keep that layout down the neck. mmcv's ``RoIAlign`` reads its input as contiguous NCHW whatever its strides
    (open-mmlab/mmcv#2203): fed a channels-last FPN level it returns wrong RoI features, silently, and every RoI head
    of a two-stage detector learns from them."""
    if isinstance(outs, Tensor):
        return outs.contiguous()
    if isinstance(outs, (tuple, list)):
        return type(outs)(contiguous_outputs(o) for o in outs)
    return outs


def available_methods() -> List[str]:
    PETL_METHODS.import_from_location()
    return sorted(PETL_METHODS.module_dict)


def init_options(cls: type) -> Optional[List[str]]:
    """The keyword arguments ``cls(...)`` takes, or None when it takes any (``**kwargs``)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # without self
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def check_expected_missing(patterns) -> None:
    """``expected_missing`` must be a list or tuple of regexes (a lone string would be read as its characters)."""
    expected = r"a list or tuple of regular expressions (e.g. [r'norm\d+\.'])"
    if not isinstance(patterns, (list, tuple)):
        fail('PETLBackbone', 'expected_missing', patterns, expected)
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            fail('PETLBackbone', 'expected_missing', patterns, expected, f': entry {index} is {pattern!r}')
        try:
            re.compile(pattern)
            continue
        except re.error as err:
            problem = str(err)
        fail('PETLBackbone', 'expected_missing', patterns, expected, f': entry {index}, {pattern!r}, is not one '
             f'({problem})')


def build_method(method: dict) -> BasePETLMethod:
    if not isinstance(method, dict) or 'type' not in method:
        raise TypeError(f'PETLBackbone: `method` must be a dict with a `type`, e.g. dict(type="Mona"); got {method!r}.'
                        f' Valid types: {", ".join(available_methods())}')
    method = copy.deepcopy(dict(method))
    method_type = method['type']
    if method_type not in available_methods():
        raise ValueError(f'PETLBackbone: unknown PETL method {method_type!r}. '
                         f'Valid choices: {", ".join(available_methods())}')
    cls = PETL_METHODS.get(method_type)
    options = {k: v for k, v in method.items() if k != 'type'}
    valid = init_options(cls)
    unknown = [] if valid is None else sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f'PETLBackbone: unknown option(s) {", ".join(map(repr, unknown))} for PETL method '
                        f'{method_type!r}. Valid options: {", ".join(valid) if valid else "none"}')
    # Not PETL_METHODS.build(): with a downstream default scope (mmdet, ...) mmengine would look for that scope in
    # this registry tree first and warn.
    return cls(**options)


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


def check_supported(method_type: str, petl_method: BasePETLMethod, model: nn.Module) -> None:
    """Refuse an upstream backbone outside the method's :attr:`~BasePETLMethod.supported_backbones` (None: one with no
    block the core knows), naming the method, the backbone and the supported ones."""
    supported = petl_method.supported_backbones
    upstream_name = upstream_type(model)
    if supported is None:
        if next(petl_method.blocks(model), None) is not None:
            return
        reason = ': it has no transformer block the core knows'
        choices = f'those built of these blocks: {", ".join(supported_blocks())}'
    else:
        if upstream_name in supported:
            return
        reason, choices = '', ', '.join(supported)
    raise ValueError(f'PETLBackbone: method {method_type!r} does not support the backbone {upstream_name} '
                     f'({class_path(model)}){reason}. Supported backbones: {choices}')


def make_lean(model: nn.Module, parts: Optional[Tuple[str, ...]]) -> None:
    """Make ``parts`` (None: every supported one) of each PETL block of ``model`` lean; refuse a part named in
    ``parts`` that a block does not support, naming it, the block and the reason."""
    if parts == ():
        return
    for name, block in list(model.named_modules()):
        spec = spec_for(block)
        if spec is None:
            continue
        # a block no module was added to becomes a PETL block too (LN-tune, Partial-1): the same function
        block = make_petl_block(model, block, spec)
        support = dict(spec.lean_support(block), bottleneck=bottleneck_support(block))
        if parts is None:
            chosen = tuple(part for part in LEAN_PARTS if not support[part])
        else:
            refused = [part for part in parts if support[part]]
            if refused:
                part = refused[0]
                raise PETLConfigError(f'PETLBackbone: lean part {part!r} does not apply to block {name!r} of '
                                      f'{upstream_type(model)} ({class_path(upstream_class(block))}): '
                                      f'{support[part]}. Parts it supports: '
                                      f'{[p for p in LEAN_PARTS if not support[p]]}; lean=None chooses them.')
            chosen = parts
        spec.make_lean(block, chosen)
        make_bottlenecks_lean(block, 'bottleneck' in chosen)


@MODELS.register_module(name='PETLBackbone')
def build_petl_backbone(backbone: dict, method: dict, min_loaded_share: float = 1.0,
                        expected_missing: Sequence[str] = DEFAULT_EXPECTED_MISSING,
                        frozen_modules: Sequence[str] = (), lean: Optional[Sequence[str]] = ()) -> nn.Module:
    """Build ``backbone`` from its upstream library and attach the PETL ``method`` to it (``type='mmpetl.PETLBackbone'``
    in a config).

    Args:
        backbone (dict): the upstream backbone config, with its scope (``type='mmdet.SwinTransformer'``).
        method (dict): the method config, ``type`` one of :func:`available_methods` (``dict(type='Mona')``).
        min_loaded_share (float): when ``init_weights()`` loads a Pretrained ``init_cfg``, the smallest share of the
            upstream parameter tensors (all but the method's inserted ones) it must load, else it raises naming the
            missing keys and the likely cause. 1.0 (default): all of them.
        expected_missing (Sequence[str]): regexes (matched at the start of backbone-relative names) of upstream
            tensors that pretrained checkpoints do not hold and that are not counted: by default the per-stage
            output norms ``norm0``..``norm3`` that the dense-prediction Swins add.
        frozen_modules (Sequence[str]): upstream submodules (backbone-relative names, e.g. ``'patch_embed'``) frozen
            whatever the method trains, once, when the model is built: what a reference config's ``frozen_stages``
            does, without the upstream backbone re-freezing in ``train()`` (which it does after DDP has wrapped the
            model). Each name must be a submodule of the backbone that has parameters.
        lean (Sequence[str], optional): the parts that keep for backward only what the gradients need
            (:mod:`mmpetl.models.lean`): of the frozen blocks, ``'mlp'`` (the MLP's hidden recomputed in backward),
            ``'attention'`` (the attention probabilities recomputed: a Swin window attention, mmseg's ViT global
            attention) and ``'qkv'`` (a Swin block's norm and window attention keep the block input only, q, k and v
            recomputed; the attention lean too); of the method, ``'bottleneck'`` (Adapter's, AdaptFormer's and LoRand's
            bottlenecks keep their input and the GELU's input). ``[]`` (default): the upstream code's own backward;
            None: every part the blocks support. Less memory, more time: on the CPU the step is slower
            (``docs/benchmark.md``, "Lean frozen blocks and bottlenecks"), so it is not the default. A part named here
            that a block does not support is refused. A frozen part runs lean only in calls where its weights are frozen
            and its dropouts inactive.

    Returns:
        nn.Module: the upstream backbone, now of class ``PETL<UpstreamClass>``, with ``requires_grad`` set.

    Raises:
        ValueError: unknown method, a backbone the method does not support, or nothing left to train;
            :class:`~mmpetl.models.methods.options.PETLConfigError` (a ValueError): an option of the wrong type or
            out of range, of the method (checked by its constructor) or of this function.
    """
    check_float('PETLBackbone', 'min_loaded_share', min_loaded_share, 0.0, 1.0)
    check_expected_missing(expected_missing)
    if isinstance(frozen_modules, str) or not all(isinstance(name, str) for name in frozen_modules):
        raise PETLConfigError(f'PETLBackbone: frozen_modules must be a list of submodule names, e.g. '
                              f'["patch_embed"]; got {frozen_modules!r}')
    lean = check_lean_parts(lean)
    petl_method = build_method(method)
    model = build_upstream(backbone)
    check_supported(method['type'], petl_method, model)
    petl_method.attach(model)
    make_lean(model, lean)
    model.__class__ = petl_subclass(PETLBackboneMixin, type(model))
    model.petl_method = petl_method
    model.petl_min_loaded_share = min_loaded_share
    model.petl_expected_missing = tuple(expected_missing)

    inserted = {id(p) for _, module in petl_method.inserted for p in module.parameters()}
    for name, param in model.named_parameters():
        param.requires_grad_(id(param) in inserted or petl_method.trains_upstream(name, param))
    modules = dict(model.named_modules())
    for name in frozen_modules:
        if name not in modules or not any(True for _ in modules[name].parameters()):
            children = ', '.join(n for n, m in model.named_children() if any(True for _ in m.parameters()))
            raise PETLConfigError(f'PETLBackbone: frozen_modules names {name!r}, which is not a submodule with '
                                  f'parameters of {upstream_type(model)}; its top-level ones: {children}')
        modules[name].requires_grad_(False)
    if petl_method.requires_trainable and not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f'PETLBackbone: method config {method!r} on {upstream_type(model)} leaves no backbone '
                         'parameter trainable. Check its options (for example the stages or blocks it is restricted '
                         'to); to freeze the whole backbone on purpose, use dict(type="Fixed").')
    return model
