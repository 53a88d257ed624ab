"""Loading checkpoints without running code from them, and pretrained backbone weights checked for what they loaded.

A ``.pth`` file is a pickle, and unpickling can call any importable function: a downloaded "pretrained" file or
someone else's delta could run code on the machine that loads it. ``torch.load(weights_only=True)`` (torch's default
since 2.6) unpickles only tensors, numbers, strings and containers, but mmengine 0.10.7 loads ``http(s)://`` (and
``torchvision://``, ``open-mmlab://``, ``mmcls://``) checkpoints with ``torch.hub.load_state_dict_from_url``, whose
``weights_only`` is False by default in torch 2.14, and its local loader leaves it unset, which
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns off.

``import mmpetl`` makes the loaders below mmengine's for local paths and for those URL schemes
(:func:`register_checkpoint_loader`), so every checkpoint that mmengine, an upstream backbone's ``Pretrained`` init,
``load_from``, resuming, mmpetl's deltas or its converters load goes through :func:`load_checkpoint_file`:

- safetensors files (recognised by their header) are read with safetensors: no pickle at all. They come back as
  ``{'meta': ..., 'state_dict': tensors}`` (the meta: the JSON that :func:`save_checkpoint_file` writes).
- anything else is read with ``torch.load(..., weights_only=True)``, said explicitly, plus exactly the types that
  mmengine's *training* checkpoints hold, so that resuming works: the message hub's ``HistoryBuffer``, the numpy
  arrays, dtypes and scalars inside it (and its ``eta``), and ``getattr`` *only* as ``getattr(HistoryBuffer, 'min'
  | 'max' | 'current' | 'mean')``, which is how ``HistoryBuffer`` pickles its statistics methods (mmengine#1655).
  Any other ``getattr`` is refused, and ``HistoryBuffer``'s class-level table of statistics methods, which unpickling
  writes to, is put back after every load.
- a file that needs anything else raises :class:`UnsafeCheckpointError`, naming the file, the global it wanted and
  how to re-save the tensors of a file you trust (:data:`RESAVE_HINT`). Nothing is ever loaded with
  ``weights_only=False`` implicitly.
- URLs are downloaded once into torch hub's cache (``<torch hub dir>/checkpoints``, where torch and mmengine cache
  them too) and loaded from there as above.

Why an allowlist for training checkpoints rather than making mmpetl's runs save them without these objects: it needs
nothing in the config (no hook), so every training checkpoint resumes, including those of configs without mmpetl's
runtime, of plain mmengine runs and those written before; the files keep mmengine's format for other tools; and the
allowed objects are data: building them calls no function that the file can choose. (``pavi://`` and ``s3://`` stay
with mmengine's loaders, which use torch's default ``weights_only=True``.)

:class:`PretrainedLoadCheck` (used by the PETL backbone's ``init_weights()``) makes a pretrained checkpoint whose keys
do not match fail loudly instead of leaving a random frozen backbone; see "Pretrained-weight safety" in
``docs/training.md``.
"""
import json
import logging
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

#: How to turn a file you trust into one that loads (printed with every refusal).
RESAVE_HINT = ('If you trust the file, re-save its tensors once and use the copy: python -c "import sys, torch; '
               "c = torch.load(sys.argv[1], weights_only=False); sd = c.get('state_dict', c.get('model', c)); "
               "torch.save({'state_dict': {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}}, sys.argv[2])"
               '" IN.pth OUT.pth')
#: The metadata key of the JSON meta in the safetensors files mmpetl writes.
SAFETENSORS_META_KEY = 'mmpetl_meta'
#: The statistics methods that ``HistoryBuffer`` pickles as ``getattr(HistoryBuffer, name)``.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holding a pickled object of a type mmpetl does not load: unpickling it could run code."""


def _history_buffer_statistic(owner, name):
    """Stands for ``builtins.getattr`` in the safe unpickler: resolves the statistics methods of mmengine's
    ``HistoryBuffer`` and nothing else."""
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'getattr({getattr(owner, "__qualname__", type(owner).__name__)}, {name!r}) is not '
                                 f"allowed: only HistoryBuffer's {', '.join(HISTORY_BUFFER_STATISTICS)}")


def training_state_globals() -> list:
    """What ``torch.load(weights_only=True)`` may build besides tensors: the objects of mmengine's training
    checkpoints (see the module docstring), for ``torch.serialization.safe_globals``."""
    import numpy as np
    core = getattr(np, '_core', None) or np.core  # numpy 2 / numpy 1
    allowed = [HistoryBuffer, np.ndarray, np.dtype, (_history_buffer_statistic, 'builtins.getattr')]
    allowed += [cls for cls in vars(np.dtypes).values() if isinstance(cls, type) and issubclass(cls, np.dtype)]
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):  # as numpy 2 and numpy 1 pickle them
        allowed += [(core.multiarray._reconstruct, f'{module}._reconstruct'),
                    (core.multiarray.scalar, f'{module}.scalar')]
    return allowed


def _refusal(source: str, file, err: Exception) -> str:
    """The message of an :class:`UnsafeCheckpointError`: the file, the globals it wants, torch's reason."""
    # torch wraps the unpickler's own message (its __context__) in advice to load the file unsafely: keep the reason
    reason = str(err.__context__ or err).strip().split(' Please use `torch.serialization')[0].splitlines()[-1]
    reason = reason.rstrip('.')
    try:
        if hasattr(file, 'seek'):
            file.seek(0)
        names = torch.serialization.get_unsafe_globals_in_checkpoint(file)  # a static scan: runs nothing
    except Exception:  # not a zip checkpoint (torch's legacy format): torch's reason names it
        names = []
    wants = f'it holds {", ".join(names)}, which ' if names else 'it holds a pickled object that '
    return (f'{source}: refused to load: {wants}mmpetl does not unpickle ({reason}). mmpetl loads checkpoints with '
            'torch.load(weights_only=True) (tensors, numbers, strings, containers, and the message-hub objects of '
            "mmengine's training checkpoints) or as .safetensors, because other pickled objects can run code when "
            f'they are loaded. {RESAVE_HINT}')


def _torch_load(file, source: str, map_location=None):
    statistics = dict(HistoryBuffer._statistics_methods)
    try:
        with torch.serialization.safe_globals(training_state_globals()):
            try:
                return torch.load(file, map_location=map_location, weights_only=True)
            except pickle.UnpicklingError as err:
                raise UnsafeCheckpointError(_refusal(source, file, err)) from None
    finally:  # unpickling a HistoryBuffer writes into this class-level table: a file must not change it
        HistoryBuffer._statistics_methods.clear()
        HistoryBuffer._statistics_methods.update(statistics)


def is_safetensors_file(filename: str) -> bool:
    """Whether ``filename`` is a safetensors file: an 8-byte little-endian header length, then a JSON header."""
    with open(filename, 'rb') as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b'{' and int.from_bytes(head[:8], 'little') < osp.getsize(filename)


def _load_safetensors(filename: str, source: str, map_location=None) -> dict:
    from safetensors import safe_open
    device = str(map_location) if isinstance(map_location, (str, torch.device)) else 'cpu'
    try:
        with safe_open(filename, framework='pt', device=device) as f:
            metadata = f.metadata() or {}
            state_dict = OrderedDict((key, f.get_tensor(key)) for key in f.keys())
    except Exception as err:  # safetensors' own errors do not name the file
        raise ValueError(f'{source}: not a readable safetensors file ({type(err).__name__}: {err})') from err
    meta = json.loads(metadata[SAFETENSORS_META_KEY]) if SAFETENSORS_META_KEY in metadata else metadata
    return dict(meta=meta, state_dict=state_dict)


def load_checkpoint_file(filename: str, map_location=None, source: Optional[str] = None):
    """Load a local checkpoint file safely (see the module docstring); ``source`` names it in errors (a URL)."""
    filename = osp.expanduser(filename)
    source = source or filename
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{source} can not be found.')
    if is_safetensors_file(filename):
        return _load_safetensors(filename, source, map_location)
    try:
        return _torch_load(filename, source, map_location)
    except (RuntimeError, EOFError) as err:  # a truncated or foreign file; torch's message does not name it
        raise type(err)(f'{source}: not a readable torch checkpoint ({err})') from err


def _json_default(value):
    if hasattr(value, 'tolist'):  # numpy arrays and scalars, tensors
        return value.tolist()
    raise TypeError(f'{type(value).__name__} in the meta is not JSON: give numbers, strings, lists and dicts')


def save_checkpoint_file(checkpoint: dict, filename: str) -> None:
    """Save ``{'meta': dict, 'state_dict': tensors}``: as safetensors (the meta as JSON in the header metadata) when
    ``filename`` ends in ``.safetensors``, else with mmengine's ``save_checkpoint`` (a pickle of plain types that loads
    with ``weights_only=True``)."""
    if not filename.endswith('.safetensors'):
        mmengine_checkpoint.save_checkpoint(checkpoint, filename)
        return
    from safetensors.torch import save
    others = [k for k, v in checkpoint['state_dict'].items() if not isinstance(v, torch.Tensor)]
    if others:
        raise TypeError(f'{filename}: a safetensors file holds tensors only; not tensors: {", ".join(others[:5])}')
    # contiguous copies on the CPU: safetensors refuses tensors that share memory
    tensors = {k: v.detach().to('cpu').contiguous().clone() for k, v in checkpoint['state_dict'].items()}
    metadata = {'format': 'pt', SAFETENSORS_META_KEY: json.dumps(checkpoint.get('meta', {}), default=_json_default)}
    # through mmengine's file backend, as its save_checkpoint writes (the folder is created; remote backends work)
    get_file_backend(filename).put(save(tensors, metadata=metadata), filename)


def load_from_safe_local(filename: str, map_location=None):
    """mmengine's loader for local paths (scheme ``''``; mmengine logs the name after ``load_from_``)."""
    return load_checkpoint_file(filename, map_location)


load_local_checkpoint = load_from_safe_local  # the name of earlier versions


def load_from_safe_http(url: str, map_location=None, model_dir: Optional[str] = None):
    """``http(s)://``: downloaded once into ``<torch hub dir>/checkpoints`` (rank 0 first when distributed, like
    mmengine), then loaded as a local file."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))

    def download():
        if not osp.exists(cached):
            os.makedirs(model_dir, exist_ok=True)
            print_log(f'Downloading {url} to {cached}', logger='current')
            torch.hub.download_url_to_file(url, cached, progress=os.isatty(0))  # via a temporary file

    rank, world_size = get_dist_info()
    if rank == 0:
        download()
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            download()  # a node without a shared file system
    return load_checkpoint_file(cached, map_location, source=f'{url} (cached as {cached})')


def load_from_safe_zoo(name: str, map_location=None):
    """``torchvision://``, ``modelzoo://``, ``open-mmlab://``, ``openmmlab://``, ``mmcls://``: mmengine's model tables
    give a URL (or a file under mmengine's home), loaded as above."""
    scheme, model = name.split('://', 1)
    if scheme in ('torchvision', 'modelzoo'):
        urls = mmengine_checkpoint.get_torchvision_models()
    elif scheme == 'mmcls':
        urls = mmengine_checkpoint.get_mmcls_models()
    else:
        urls = mmengine_checkpoint.get_external_models()
        model = mmengine_checkpoint.get_deprecated_model_names().get(model, model)
    if model not in urls:
        raise ValueError(f"{name}: {model!r} is not in mmengine's {scheme}:// table (e.g. {', '.join(list(urls)[:3])})")
    location = urls[model]
    if location.startswith(('http://', 'https://')):
        checkpoint = load_from_safe_http(location, map_location)
    else:
        checkpoint = load_checkpoint_file(osp.join(mmengine_checkpoint._get_mmengine_home(), location), map_location)
    return mmengine_checkpoint._process_mmcls_checkpoint(checkpoint) if scheme == 'mmcls' else checkpoint


def register_checkpoint_loader() -> None:
    """Make the loaders above mmengine's for local paths and URLs (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_safe_local, force=True)
    CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), loader=load_from_safe_http, force=True)
    CheckpointLoader.register_scheme(prefixes=('torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://',
                                               'mmcls://'), loader=load_from_safe_zoo, force=True)


# ---------------------------------------------------------------------------------------------------------------------
# Pretrained-weight safety
#
# mmdet/mmseg/mmpretrain backbones load `init_cfg=dict(type='Pretrained', ...)` with strict=False and at most log a
# warning: a checkpoint whose keys do not match leaves a randomly initialised *frozen* backbone and a flat loss.
# :class:`PretrainedLoadCheck` watches the upstream `init_weights()` of a PETL backbone, counts what it loaded and
# fails below a threshold, naming the likely cause.
# ---------------------------------------------------------------------------------------------------------------------

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

    Used as a context manager around the upstream call: a load-state-dict pre-hook on the backbone records the keys
    (and shapes) it is offered, after the upstream's own key conversion, whichever loader it uses (``nn.Module``'s or
    mmengine's). Then :meth:`check` counts, among the backbone's upstream parameters (those the PETL method did not
    insert, frozen or tuned), the matched, missing and unexpected tensors, logs the counts, and raises when fewer
    than ``min_loaded_share`` of them were loaded.

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
        patterns = [re.compile(p) for p in expected_missing]
        self.new = [n for n in upstream_params if any(p.match(n) for p in patterns)]
        self.expected = {n: s for n, s in upstream_params.items() if n not in self.new}
        self.offered: Optional[Dict[str, tuple]] = None
        self._handle = None

    def _record(self, module, state_dict, prefix, *args):
        if prefix == '':  # the backbone itself is being loaded (not a whole model that contains it)
            self.offered = {k: tuple(v.shape) for k, v in state_dict.items() if hasattr(v, 'shape')}

    def __enter__(self):
        # (the public register_load_state_dict_pre_hook is missing from older torch 2.x; mmpretrain uses this one too)
        self._handle = self.backbone._register_load_state_dict_pre_hook(self._record, with_module=True)
        return self

    def __exit__(self, exc_type, exc, traceback):
        self._handle.remove()
        if exc is None or self.pretrained is None or self.offered is not None or not isinstance(exc, Exception):
            return False
        # The upstream loader failed before loading anything. mmdet's Swin does so with an IndexError when no key
        # starts with the 'backbone.' it filters on: when the file's keys explain the failure, say how.
        try:
            checkpoint = CheckpointLoader.load_checkpoint(self.pretrained['checkpoint'], map_location='cpu')
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
        loaded = [n for n, shape in self.expected.items() if offered.get(n) == tuple(shape)]
        missing = [n for n in self.expected if offered.get(n) != tuple(self.expected[n])]
        own = self.backbone.state_dict()
        unexpected = [k for k in offered if k not in own]
        kept_init = [n for n in self.new if offered.get(n) != tuple(own[n].shape)]
        share = len(loaded) / len(self.expected) if self.expected else 1.0
        kept = f'; {len(kept_init)} new tensors keep their init ({_examples(kept_init)})' if kept_init else ''
        print_log(f'{self.upstream} pretrained weights from {self.pretrained["checkpoint"]}: {len(loaded)}/'
                  f'{len(self.expected)} upstream tensors loaded ({100 * share:.1f} %), {len(missing)} missing '
                  f'({_examples(missing)}), {len(unexpected)} unexpected ({_examples(unexpected)}){kept}',
                  logger='current', level=logging.INFO)
        if share < self.min_loaded_share:
            causes = likely_causes(self.expected, offered, self.upstream)
            raise RuntimeError(
                f'{self.upstream} loaded only {len(loaded)} of {len(self.expected)} upstream tensors '
                f'({100 * share:.1f} % < min_loaded_share {100 * self.min_loaded_share:.1f} %) from '
                f'{self.pretrained["checkpoint"]}; the others would keep their random initialisation. Missing: '
                f'{_examples(missing)}. Unexpected in the file: {_examples(unexpected)}. Likely cause: '
                + '; '.join(causes) + '. (To accept a partial load on purpose, lower min_loaded_share in the '
                'mmpetl.PETLBackbone config.)')
