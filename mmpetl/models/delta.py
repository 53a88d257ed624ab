"""Delta checkpoints: only what a PETL run tuned, tied to a fingerprint of the frozen base it was tuned on.

The format (what a delta holds, the base, the fingerprint, the ``.safetensors`` and ``.pth`` files) is described once,
in ``docs/checkpoints.md``, "Delta checkpoints"; the code below is that description's reference.
"""
import hashlib
import logging
from collections import OrderedDict
from typing import Dict, Iterator, List, Optional, Tuple, Union

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from ..utils.checkpoint import safe_load_checkpoint, save_checkpoint_file
from ..version import __version__
from .blocks import upstream_type
from .methods.base import PETLModule
from .petl_backbone import PETLBackboneMixin

DELTA_FORMAT = 1
FINGERPRINT_SAMPLES = 1024
PETL_BACKBONE_TYPES = ('mmpetl.PETLBackbone', 'PETLBackbone')


class DeltaBaseMismatch(RuntimeError):
    """A delta checkpoint meets frozen weights other than those it was tuned on."""


def petl_backbones(model: nn.Module) -> Dict[str, nn.Module]:
    """``{module name: module}`` of the PETL backbones in ``model`` ('' when ``model`` is one)."""
    return OrderedDict((name, module) for name, module in model.named_modules()
                       if isinstance(module, PETLBackboneMixin))


def _require_backbones(model: nn.Module, what: str) -> Dict[str, nn.Module]:
    backbones = petl_backbones(model)
    if not backbones:
        raise ValueError(f'{what}: {type(model).__name__} contains no mmpetl.PETLBackbone. A delta checkpoint stores '
                         'what a PETL method tuned on top of a frozen base; use a model whose backbone is '
                         "type='mmpetl.PETLBackbone'.")
    return backbones


def _prefixed(prefix: str, name: str) -> str:
    return f'{prefix}.{name}' if prefix else name


def base_tensors(model: nn.Module) -> Dict[str, Tensor]:
    """The frozen base: ``{model-level name: tensor}`` of the frozen parameters of the PETL backbones."""
    return OrderedDict((_prefixed(prefix, name), param) for prefix, backbone in petl_backbones(model).items()
                       for name, param in backbone.named_parameters() if not param.requires_grad)


def _constant_buffers(model: nn.Module) -> List[str]:
    """Integer buffers of the PETL backbones (relative position indices and the like, computed from the config)."""
    return [_prefixed(prefix, name) for prefix, backbone in petl_backbones(model).items()
            for name, buffer in backbone.named_buffers() if not buffer.is_floating_point()]


def base_fingerprint(model: nn.Module) -> Tuple[str, int]:
    """``('sha256:<hex>', number of tensors)`` of the model's frozen base (``docs/checkpoints.md``, "Delta
    checkpoints")."""
    digest = hashlib.sha256(b'mmpetl-base-fingerprint/1')
    tensors = base_tensors(model)
    for name in sorted(tensors):
        tensor = tensors[name].detach()
        flat = tensor.reshape(-1)
        if flat.numel() > FINGERPRINT_SAMPLES:
            positions = torch.arange(FINGERPRINT_SAMPLES, device=flat.device) * (flat.numel() - 1)
            flat = flat[positions // (FINGERPRINT_SAMPLES - 1)]
        digest.update(f'{name}:{tuple(tensor.shape)}\n'.encode())
        digest.update(flat.to('cpu', torch.float32).numpy().tobytes())
    return f'sha256:{digest.hexdigest()}', len(tensors)


def delta_keys(model: nn.Module) -> List[str]:
    """The state-dict keys a delta of ``model`` holds: everything but the base and the constant buffers."""
    excluded = set(base_tensors(model)) | set(_constant_buffers(model))
    return [key for key in model.state_dict() if key not in excluded]


def _find_petl_cfgs(node, path: Tuple[str, ...] = ()) -> Iterator[Tuple[str, dict]]:
    """``(module path, PETLBackbone config)`` for each PETL backbone config below ``node`` (a model config)."""
    if isinstance(node, dict):
        if node.get('type') in PETL_BACKBONE_TYPES:
            yield '.'.join(path), node
        for key, value in node.items():
            yield from _find_petl_cfgs(value, path + (str(key), ))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _find_petl_cfgs(value, path + (str(index), ))


def _plain(value):
    """ConfigDicts and tuples as plain dicts and lists (what the safe unpickler accepts)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def petl_summary(model: nn.Module, cfg=None) -> Dict[str, dict]:
    """``{backbone name: {'upstream': type, 'method': method config}}``, from ``cfg.model`` where it says so."""
    cfgs = dict(_find_petl_cfgs(cfg.get('model', {}))) if cfg is not None else {}
    summary = OrderedDict()
    for name, backbone in petl_backbones(model).items():
        entry = dict(upstream=upstream_type(backbone), method=dict(type=type(backbone.petl_method).__name__))
        if name in cfgs:
            entry.update(upstream=cfgs[name]['backbone']['type'], method=_plain(cfgs[name]['method']))
        summary[name] = entry
    return summary


def make_delta(model: nn.Module, cfg=None, meta: Optional[dict] = None) -> dict:
    """The delta checkpoint of ``model`` (a dict to ``torch.save``).

    Args:
        model (nn.Module): a model with at least one ``mmpetl.PETLBackbone`` (not a DDP wrapper).
        cfg (Config, optional): the run's config: recorded as text, and the method configs are read from it.
        meta (dict, optional): more meta information (epoch, iter, dataset_meta, ...).
    """
    _require_backbones(model, 'make_delta')
    fingerprint, count = base_fingerprint(model)
    state_dict = model.state_dict()
    delta_meta = dict(mmpetl_delta=DELTA_FORMAT, mmpetl_version=__version__, base_fingerprint=fingerprint,
                      base_tensors=count, petl=petl_summary(model, cfg))
    if cfg is not None:
        delta_meta['config'] = cfg.pretty_text
    delta_meta.update(meta or {})
    return dict(meta=delta_meta, state_dict=OrderedDict((k, state_dict[k]) for k in delta_keys(model)))


def save_delta(delta: dict, filename: str) -> None:
    """Write a delta (:func:`make_delta`): ``.safetensors`` when ``filename`` ends so, else a ``torch.save`` pickle."""
    save_checkpoint_file(delta, filename)


def is_delta(checkpoint) -> bool:
    """Whether a loaded checkpoint dict is an mmpetl delta."""
    return isinstance(checkpoint, dict) and isinstance(checkpoint.get('meta'), dict) \
        and 'mmpetl_delta' in checkpoint['meta']


def _load(delta: Union[str, dict]) -> Tuple[dict, str]:
    if isinstance(delta, str):
        return safe_load_checkpoint(delta, map_location='cpu'), delta
    return delta, 'the delta checkpoint'


def check_base(model: nn.Module, delta: dict, source: str = 'the delta checkpoint', force: bool = False) -> bool:
    """Whether ``model``'s frozen base is the one ``delta`` was tuned on; raise :class:`DeltaBaseMismatch` if not,
    unless ``force`` (then log a warning and return False)."""
    fingerprint, count = base_fingerprint(model)
    expected, expected_count = delta['meta']['base_fingerprint'], delta['meta'].get('base_tensors', '?')
    if fingerprint == expected:
        return True
    message = (f'{source} was tuned on another base: its base fingerprint is {expected} ({expected_count} frozen '
               f'tensors), the model\'s frozen backbone weights give {fingerprint} ({count} tensors). A delta holds '
               'only the tuned tensors, so it is meaningful only on the pretrained weights it was trained from: check '
               "the backbone's init_cfg checkpoint (and convert_weights) against the delta's config "
               "(meta['config']).")
    if not force:
        raise DeltaBaseMismatch(message + ' To load it anyway: load_delta(..., force=True), tools/test.py '
                                '--force-delta, or DeltaCheckpointHook(force_load=True).')
    print_log(message + ' Loading it anyway (forced).', logger='current', level=logging.WARNING)
    return False


def load_delta(model: nn.Module, delta: Union[str, dict], force: bool = False, init_base: bool = True) -> dict:
    """Load a delta checkpoint onto ``model``'s frozen base.

    When the model's base does not match the delta's fingerprint and ``init_base`` is set, the PETL backbones are
    initialised first (``init_weights()``: their ``init_cfg`` loads the pretrained base), then checked again. So a
    freshly built model (``MODELS.build(cfg.model)``) needs nothing else.

    Args:
        model (nn.Module): the model, built from the delta's config (not a DDP wrapper).
        delta (str | dict): a path/URL (``.safetensors`` or ``.pth``), or a loaded delta checkpoint.
        force (bool): load even when the fingerprints differ (with a warning).
        init_base (bool): initialise the backbones when the base does not match yet.

    Returns:
        dict: the delta checkpoint.

    Raises:
        DeltaBaseMismatch: the fingerprints differ and ``force`` is not set.
        ValueError: not a delta, no PETL backbone, or the delta's tensors do not fit the model (other method config).
    """
    delta, source = _load(delta)
    if not is_delta(delta):
        raise ValueError(f'{source} is not an mmpetl delta checkpoint (no meta.mmpetl_delta); load a full checkpoint '
                         'with mmengine.runner.load_checkpoint')
    backbones = _require_backbones(model, 'load_delta')
    if base_fingerprint(model)[0] != delta['meta']['base_fingerprint'] and init_base:
        for backbone in backbones.values():
            backbone.init_weights()
    check_base(model, delta, source, force)
    state_dict = delta['state_dict']
    own = model.state_dict()
    unexpected = [k for k in state_dict if k not in own]
    missing = [k for k in delta_keys(model) if k not in state_dict]
    if unexpected or missing:
        raise ValueError(f'{source} does not fit this model: {len(unexpected)} of its tensors are not in the model '
                         f'({", ".join(unexpected[:5]) or "-"}), {len(missing)} tuned tensors of the model are not in '
                         f'it ({", ".join(missing[:5]) or "-"}). Its PETL methods: {delta["meta"].get("petl")}; build '
                         'the model from the config it was saved with (meta["config"]).')
    model.load_state_dict(state_dict, strict=False)
    print_log(f'Loaded {len(state_dict)} tuned tensors from {source} onto the frozen base '
              f'({delta["meta"]["base_fingerprint"][:19]}...)', logger='current')
    return delta


def fold_lora(model: nn.Module, state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Fold the update of every PETL module of ``model`` into the upstream weights, in a copy of ``state_dict``.

    Each module folds itself (:meth:`PETLModule.fold`, for those with ``can_fold``: LoRA adds ``scaling * B A`` to the
    q and v thirds of its qkv weight, in float64); its own keys are then dropped, so what remains loads into the plain
    upstream backbone.

    Raises:
        ValueError: the model has PETL modules that do not fold (adapters with non-linearities), or no LoRA at all.
    """
    modules = [(name, module) for name, module in model.named_modules() if isinstance(module, PETLModule)]
    foldable = [(name, module) for name, module in modules if module.can_fold]
    if not foldable:
        raise ValueError('fold_lora: the model has no LoRA modules (method LoRA); nothing to fold')
    others = sorted({type(module).__name__ for _, module in modules if not module.can_fold})
    if others:
        raise ValueError(f'fold_lora: only LoRA folds into the upstream weights; this model also has {others}, '
                         'whose non-linear modules cannot be folded. Merge without folding instead.')
    folded = OrderedDict(state_dict)
    for name, module in foldable:
        module.fold(name, folded)
        for key in [k for k in folded if k.startswith(f'{name}.')]:
            del folded[key]
    return folded


def fold_branches(model: nn.Module, state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Rewrite every PETL module of ``model`` that has a folded inference form (:meth:`PETLModule.fold_branches`:
    CoLin's projections, one weight each instead of factors and gates) in a copy of ``state_dict``. The result loads
    into the same config with ``folded=True`` in its methods (:func:`folded_model_cfg`) and computes the same function.

    Raises:
        ValueError: the model has no such module (e.g. method LoRA: fold it with :func:`fold_lora`).
    """
    modules = [(name, module) for name, module in model.named_modules()
               if isinstance(module, PETLModule) and module.can_fold_branches and not getattr(module, 'folded', False)]
    if not modules:
        methods = sorted({type(b.petl_method).__name__ for b in petl_backbones(model).values()})
        raise ValueError(f'fold_branches: the model\'s methods ({", ".join(methods) or "none"}) have no folded '
                         'inference form (CoLin has; LoRA folds into the upstream weights instead: fold_lora)')
    folded = OrderedDict(state_dict)
    for name, module in modules:
        module.fold_branches(name, folded)
    return folded


def folded_model_cfg(cfg_model: dict) -> dict:
    """A copy of a model config whose ``mmpetl.PETLBackbone`` methods build their folded inference form
    (``folded=True``), which :func:`fold_branches`' output loads into."""
    def fold(node):
        if isinstance(node, dict):
            if node.get('type') in PETL_BACKBONE_TYPES:
                return type(node)({**{k: fold(v) for k, v in node.items()},
                                   'method': type(node['method'])({**node['method'], 'folded': True})})
            return type(node)({k: fold(v) for k, v in node.items()})
        if isinstance(node, list):
            return [fold(v) for v in node]
        return node
    return fold(cfg_model)


def plain_model_cfg(cfg_model: dict) -> dict:
    """A copy of a model config with each ``mmpetl.PETLBackbone`` replaced by its upstream backbone config, without
    its pretrained ``init_cfg`` (the weights then come from the merged checkpoint)."""
    def strip(node):
        if isinstance(node, dict):
            if node.get('type') in PETL_BACKBONE_TYPES:
                upstream = dict(strip(node['backbone']))
                upstream.pop('init_cfg', None)
                upstream.pop('pretrained', None)
                return upstream
            return type(node)({k: strip(v) for k, v in node.items()})
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    return strip(cfg_model)


def human_size(num_bytes: int) -> str:
    """A byte count in binary units, with the unit it is divided by: ``'512 B'``, ``'3.5 KiB'``, ``'14.7 MiB'``,
    ``'1.2 GiB'``, ``'2.0 TiB'``."""
    if num_bytes < 1024:
        return f'{num_bytes} B'
    size = float(num_bytes)
    for unit in ('KiB', 'MiB', 'GiB', 'TiB'):
        size /= 1024
        if round(size, 1) < 1024 or unit == 'TiB':
            break
    return f'{size:.1f} {unit}'


__all__ = [
    'DeltaBaseMismatch', 'petl_backbones', 'base_tensors', 'base_fingerprint', 'delta_keys', 'petl_summary',
    'make_delta', 'save_delta', 'is_delta', 'check_base', 'load_delta', 'fold_lora', 'fold_branches', 'folded_model_cfg',
    'plain_model_cfg', 'human_size'
]
