"""Pretrained-weight safety: a PETL backbone's pretrained checkpoint either loads, or fails naming the likely cause.

mmdet/mmseg/mmpretrain backbones load ``init_cfg=dict(type='Pretrained', ...)`` with ``strict=False`` and at most log a
warning: a checkpoint whose keys do not match leaves a randomly initialised *frozen* backbone and a flat loss.
:class:`PretrainedLoadCheck` watches the upstream ``init_weights()`` of a PETL backbone
(:class:`mmpetl.models.petl_backbone.PETLBackboneMixin`), counts what it loaded and fails below a threshold, naming
the likely cause; see "Pretrained-weight safety" in ``docs/training.md``. For the length of that call it also gives
the upstream code the checkpoint's name as :func:`mmpetl.utils.checkpoint.safe_uri` makes it, so that the file is read
by mmpetl's safe loader (:mod:`mmpetl.utils.checkpoint`), whichever of mmengine's loading functions the upstream uses.
"""
import logging
import re
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from mmengine.logging import print_log
from torch import nn

from ..utils.checkpoint import safe_load_checkpoint, safe_uri

#: Upstream tensors that pretrained (classification) checkpoints never hold: the per-stage output norms that the dense
#: prediction Swins add (``norm0`` ... ``norm3``). They keep their initialisation (LayerNorm: 1 and 0) and are not
#: counted as missing. Regular expressions, matched at the start of the backbone-relative name.
DEFAULT_EXPECTED_MISSING = (r'norm\d+\.', )

#: Released checkpoints in their original layout: (a key of theirs, a key of the upstream class), what converts them.
_ORIGINAL_LAYOUTS = (
    (r'layers\.\d+\.blocks\.', r'stages\.\d+\.blocks\.',
     'the official Swin release layout (layers.N.blocks..., patch_embed.proj): with mmdet.SwinTransformer set '
     'convert_weights=True, or convert the file for any library with `python tools/model_converters/'
     'official_to_mmpetl.py swin IN OUT --target mmdet|mmseg|mmpretrain`'),
    (r'blocks\.\d+\.attn\.qkv\.', r'layers\.\d+\.',
     'the timm / official ViT layout (blocks.N.attn.qkv, patch_embed.proj): convert it with `python tools/'
     'model_converters/official_to_mmpetl.py vit IN OUT --target mmseg|mmpretrain`'),
)


def pretrained_init(module: nn.Module) -> Optional[dict]:
    """The ``Pretrained`` entry of ``module.init_cfg`` (a dict or a list of dicts), or None."""
    init_cfg = getattr(module, 'init_cfg', None)
    for cfg in init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]:
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            return dict(cfg)
    return None


def _checkpoint_inits(module: nn.Module) -> List[dict]:
    """The entries of ``module.init_cfg`` that load a checkpoint (``Pretrained``, mmseg's ``Pretrained_Part``)."""
    init_cfg = getattr(module, 'init_cfg', None)
    return [cfg for cfg in (init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg])
            if isinstance(cfg, dict) and 'checkpoint' in cfg]


def _examples(names: Iterable[str], count: int = 5) -> str:
    names = list(names)
    shown = ', '.join(names[:count])
    return shown + (f', ... ({len(names) - count} more)' if len(names) > count else '') if names else '-'


def _layout_causes(expected: Dict[str, tuple], offered: Dict[str, tuple]) -> List[str]:
    return [f'the checkpoint has {what}' for theirs, ours, what in _ORIGINAL_LAYOUTS
            if any(re.match(theirs, key) for key in offered) and any(re.match(ours, n) for n in expected)]


def _prefix_causes(expected: Dict[str, tuple], offered: Dict[str, tuple]) -> List[str]:
    """An extra prefix on the checkpoint's keys ('backbone.', 'module.', 'model.', ...)."""
    causes = []
    own_heads = {name.split('.', 1)[0] for name in expected}
    for head in sorted({key.split('.', 1)[0] for key in offered if '.' in key} - own_heads):
        prefix = head + '.'
        matched = sum(key[len(prefix):] in expected for key in offered if key.startswith(prefix))
        if matched:
            causes.append(f'{matched} checkpoint keys match once the prefix {prefix!r} is removed: the file carries '
                          f'an extra {prefix!r} (a whole-model checkpoint). Strip it, or give the prefix in init_cfg: '
                          f"dict(type='Pretrained', checkpoint=..., prefix={prefix!r}) (mmpretrain backbones honour "
                          'it; mmdet and mmseg Swin strip one leading "backbone." themselves)')
    return causes


def split_expected_missing(upstream_params: Dict[str, tuple],
                           expected_missing: Sequence[str]) -> Tuple[Dict[str, tuple], List[str]]:
    """``upstream_params`` (name -> shape) split into those a pretrained checkpoint should hold (name -> shape) and
    the names that ``expected_missing`` (regexes matched at the start of the name) says it does not hold."""
    patterns = [re.compile(p) for p in expected_missing]
    new = [n for n in upstream_params if any(p.match(n) for p in patterns)]
    return {n: s for n, s in upstream_params.items() if n not in new}, new


class LoadCoverage(NamedTuple):
    """What a state dict offered to a backbone covers of its upstream parameters (backbone-relative names)."""
    expected: Dict[str, tuple]  # name -> shape of the parameters a pretrained checkpoint should hold
    loaded: List[str]  # expected and offered in their shape
    missing: List[str]  # expected, and not offered or offered in another shape
    unexpected: List[str]  # offered, and not in the backbone's state dict
    kept_init: List[str]  # not expected (``expected_missing``), not offered: they keep their initialisation

    @property
    def share(self) -> float:
        """The share of the expected tensors that were loaded, in [0, 1] (1 when none is expected)."""
        return len(self.loaded) / len(self.expected) if self.expected else 1.0

    def summary(self) -> str:
        """The counts, with examples of each list, in one line."""
        kept = (f'; {len(self.kept_init)} new tensors keep their init ({_examples(self.kept_init)})'
                if self.kept_init else '')
        return (f'{len(self.loaded)}/{len(self.expected)} upstream tensors loaded ({100 * self.share:.1f} %), '
                f'{len(self.missing)} missing ({_examples(self.missing)}), {len(self.unexpected)} unexpected '
                f'({_examples(self.unexpected)}){kept}')


def load_coverage(backbone: nn.Module, offered: Dict[str, tuple], upstream_params: Optional[Dict[str, tuple]] = None,
                  expected_missing: Sequence[str] = DEFAULT_EXPECTED_MISSING) -> LoadCoverage:
    """Count what the tensors ``offered`` to ``backbone`` (name -> shape, backbone-relative, as its loader sees them)
    cover of its ``upstream_params`` (name -> shape; default: all its parameters), leaving out the
    ``expected_missing`` ones. The check of every pretrained load (:class:`PretrainedLoadCheck`) and of
    ``tools/model_converters/official_to_mmpetl.py``."""
    if upstream_params is None:
        upstream_params = {n: tuple(p.shape) for n, p in backbone.named_parameters()}
    expected, new = split_expected_missing(upstream_params, expected_missing)
    own = {n: tuple(t.shape) for n, t in backbone.state_dict().items()}
    return LoadCoverage(expected=expected,
                        loaded=[n for n, shape in expected.items() if offered.get(n) == tuple(shape)],
                        missing=[n for n, shape in expected.items() if offered.get(n) != tuple(shape)],
                        unexpected=[k for k in offered if k not in own],
                        kept_init=[n for n in new if offered.get(n) != own[n]])


def likely_causes(expected: Dict[str, tuple], offered: Dict[str, tuple], upstream: str) -> List[str]:
    """Why the keys ``offered`` to a backbone miss the ``expected`` ones (name -> shape), most likely first."""
    causes = _prefix_causes(expected, offered) + _layout_causes(expected, offered)
    shapes = [n for n in expected if n in offered and tuple(offered[n]) != tuple(expected[n])]
    if shapes:
        causes.append(f'{len(shapes)} tensors have other shapes (e.g. {shapes[0]}: {tuple(offered[shapes[0]])} in the '
                      f'file, {tuple(expected[shapes[0]])} in the model): the checkpoint is for another architecture '
                      '(embed_dims, depths, window_size, patch_size?)')
    if not causes and any(n in offered for n in expected):
        causes.append('the file holds only some of the backbone\'s tensors: a checkpoint of another variant (depths, '
                      'out_indices?) or an incomplete file')
    if not causes:
        causes.append(f'the checkpoint does not look like a {upstream} checkpoint: compare its keys with the '
                      "backbone's state_dict()")
    return causes


class PretrainedLoadCheck:
    """Watches an upstream ``init_weights()`` that loads pretrained weights and checks what it loaded.

    Used as a context manager around the upstream call. Inside it the checkpoint names in the backbone's
    ``init_cfg`` are those of :func:`~mmpetl.utils.checkpoint.safe_uri` (the upstream inits load them through
    mmengine's ``CheckpointLoader``, which then uses mmpetl's safe loader); they are put back on exit. A
    load-state-dict pre-hook on the backbone records the keys (and shapes) it is offered, after the upstream's own
    key conversion, whichever loader it uses (``nn.Module``'s or mmengine's). Then :meth:`check` counts
    (:func:`load_coverage`), among the backbone's upstream parameters (those the PETL method did not insert, frozen or
    tuned), the matched, missing and unexpected tensors, logs the counts, and raises when fewer than
    ``min_loaded_share`` of them were loaded.

    Args:
        backbone (nn.Module): the PETL backbone.
        upstream_params (dict): backbone-relative name -> shape of the parameters that should come pretrained.
        min_loaded_share (float): the smallest acceptable share of ``upstream_params`` loaded, in [0, 1].
        expected_missing (Sequence[str]): regexes of names that pretrained checkpoints do not hold (not counted).
        upstream (str): the upstream class, for messages (``'mmdet.SwinTransformer'``).
    """

    def __init__(self, backbone: nn.Module, upstream_params: Dict[str, tuple], min_loaded_share: float,
                 expected_missing: Sequence[str], upstream: str):
        self.backbone = backbone
        self.pretrained = pretrained_init(backbone)
        self.upstream = upstream
        self.min_loaded_share = min_loaded_share
        self.upstream_params = upstream_params
        self.expected_missing = expected_missing
        self.expected, _ = split_expected_missing(upstream_params, expected_missing)
        self.offered: Optional[Dict[str, tuple]] = None
        self._handle = None
        self._checkpoint_names: List[tuple] = []

    def _record(self, module, state_dict, prefix, *args):
        if prefix == '':  # the backbone itself is being loaded (not a whole model that contains it)
            self.offered = {k: tuple(v.shape) for k, v in state_dict.items() if hasattr(v, 'shape')}

    def __enter__(self):
        # (the public register_load_state_dict_pre_hook is missing from older torch 2.x; mmpretrain uses this one too)
        self._handle = self.backbone._register_load_state_dict_pre_hook(self._record, with_module=True)
        self._checkpoint_names = [(init, init['checkpoint']) for init in _checkpoint_inits(self.backbone)]
        for init, name in self._checkpoint_names:
            init['checkpoint'] = safe_uri(name)
        return self

    def __exit__(self, exc_type, exc, traceback):
        self._handle.remove()
        for init, name in self._checkpoint_names:
            init['checkpoint'] = name
        if exc is None or self.pretrained is None or self.offered is not None or not isinstance(exc, Exception):
            return False
        # The upstream loader failed before loading anything. mmdet's Swin does so with an IndexError when no key
        # starts with the 'backbone.' it filters on: when the file's keys explain the failure, say how.
        try:
            checkpoint = safe_load_checkpoint(self.pretrained['checkpoint'], map_location='cpu')
        except Exception:  # the upstream error, re-raised unchanged, says what is wrong with the file
            return False
        if not isinstance(checkpoint, dict):
            return False
        state_dict = checkpoint.get('state_dict', checkpoint.get('model', checkpoint))
        keys = {k: tuple(v.shape) for k, v in state_dict.items() if hasattr(v, 'shape')}
        causes = self._file_causes(keys)
        if not causes:
            return False
        raise RuntimeError(f'{self.upstream} could not load its pretrained checkpoint {self.pretrained["checkpoint"]}'
                           f' ({type(exc).__name__}: {exc}). Keys in the file: {_examples(keys)}; the backbone\'s: '
                           f'{_examples(self.expected)}. Likely cause: ' + '; '.join(causes)) from exc

    def _file_causes(self, keys: Dict[str, tuple]) -> List[str]:
        causes = []
        if sum(k in self.expected for k in keys) > len(self.expected) / 2 \
                and not any(k.startswith('backbone.') for k in keys):
            causes.append(f"the file's keys match the backbone without a prefix, but {self.upstream} keeps only keys "
                          "that start with 'backbone.' (mmdet's Swin does): re-save the file with that prefix")
        # mmdet's and mmseg's Swin strip one leading 'backbone.' before loading; a prefix left after it is extra.
        stripped = {k[len('backbone.'):] if k.startswith('backbone.') else k: v for k, v in keys.items()}
        if getattr(self.backbone, 'convert_weights', False) and sum(k in self.expected for k in stripped) \
                > len(self.expected) / 2:
            causes.append(f"the file has {self.upstream}'s own keys already, but convert_weights=True converts it as "
                          "an official Swin release: set convert_weights=False")
        return causes + _prefix_causes(self.expected, stripped) + _layout_causes(self.expected, keys)

    def check(self) -> None:
        """Log the counts of the observed load; raise ``RuntimeError`` below ``min_loaded_share``."""
        if self.pretrained is None:
            frozen = sum(not p.requires_grad for p in self.backbone.parameters())
            if frozen:
                print_log(f'{self.upstream}: no Pretrained init_cfg, so {frozen} frozen backbone tensors keep their '
                          'random initialisation (fine for a smoke test, not for transfer learning).',
                          logger='current', level=logging.WARNING)
            return
        offered = self.offered or {}
        coverage = load_coverage(self.backbone, offered, self.upstream_params, self.expected_missing)
        print_log(f'{self.upstream} pretrained weights from {self.pretrained["checkpoint"]}: {coverage.summary()}',
                  logger='current', level=logging.INFO)
        if coverage.share < self.min_loaded_share:
            causes = likely_causes(self.expected, offered, self.upstream)
            raise RuntimeError(
                f'{self.upstream} loaded only {len(coverage.loaded)} of {len(self.expected)} upstream tensors '
                f'({100 * coverage.share:.1f} % < min_loaded_share {100 * self.min_loaded_share:.1f} %) from '
                f'{self.pretrained["checkpoint"]}; the others would keep their random initialisation. Missing: '
                f'{_examples(coverage.missing)}. Unexpected in the file: {_examples(coverage.unexpected)}. '
                'Likely cause: '
                + '; '.join(causes) + '. (To accept a partial load on purpose, lower min_loaded_share in the '
                'mmpetl.PETLBackbone config.)')
