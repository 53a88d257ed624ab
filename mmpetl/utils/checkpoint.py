"""Loading checkpoints without running code from them.

A ``.pth`` file is a pickle, and unpickling can call any importable function: a downloaded "pretrained" file or
someone else's delta could run code on the machine that loads it. ``torch.load(weights_only=True)`` (torch's default
since 2.6) unpickles only tensors, numbers, strings and containers, but mmengine 0.10.7 loads ``http(s)://`` (and
``torchvision://``, ``open-mmlab://``, ``mmcls://``) checkpoints with ``torch.hub.load_state_dict_from_url``, whose
``weights_only`` is False by default in torch 2.14, and its local loader leaves it unset, which
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns off.

mmpetl loads every checkpoint it loads with :func:`safe_load_checkpoint` (local paths, URLs, mmengine's model-zoo
names), which goes through :func:`load_checkpoint_file`:

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

Where mmengine or an upstream library does the loading (the Runner's ``load_from`` and resume, the ``Pretrained``
init of an upstream backbone), mmpetl hands it the name :func:`safe_uri` makes, ``mmpetl-safe://<name>``: mmengine's
``CheckpointLoader`` finds the loader by the name's prefix, and :data:`SAFE_SCHEME` is registered there, under its own
prefix, on the first call. mmengine's loaders for other names stay as they are. The callers: ``tools/train.py`` and
``tools/test.py``, :class:`mmpetl.engine.hooks.SafeLoadingHook` (the Runner of a config with mmpetl's runtime) and
:class:`mmpetl.models.pretrained.PretrainedLoadCheck` (a PETL backbone's pretrained weights).

Why an allowlist for training checkpoints rather than making mmpetl's runs save them without these objects: it needs
nothing in the config (no hook), so every training checkpoint resumes, including those of configs without mmpetl's
runtime, of plain mmengine runs and those written before; the files keep mmengine's format for other tools; and the
allowed objects are data: building them calls no function that the file can choose. (``pavi://`` and ``s3://`` go
to mmengine's loaders, which use torch's default ``weights_only=True``.)

That a pretrained checkpoint whose keys do not match fails loudly, instead of leaving a random frozen backbone, is
checked with the models (``mmpetl/models/pretrained.py``): this layer knows nothing of them.
"""
import json
import os
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Optional
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .atomic import atomic_backend_args

#: How to turn a file you trust into one that loads (printed with every refusal).
RESAVE_HINT = ('If you trust the file, re-save its tensors once and use the copy: python -c "import sys, torch; '
               "c = torch.load(sys.argv[1], weights_only=False); sd = c.get('state_dict', c.get('model', c)); "
               "torch.save({'state_dict': {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}}, sys.argv[2])"
               '" IN.pth OUT.pth')
#: The metadata key of the JSON meta in the safetensors files mmpetl writes.
SAFETENSORS_META_KEY = 'mmpetl_meta'
#: The prefix of :func:`safe_uri`'s names, mmpetl's scheme in mmengine's ``CheckpointLoader``.
SAFE_SCHEME = 'mmpetl-safe://'
#: mmengine's model-zoo prefixes, which name a URL or a file under mmengine's home (:func:`load_from_safe_zoo`).
ZOO_PREFIXES = ('torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://', 'mmcls://')
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
    # HistoryBuffer registers its default statistics in __init__, which unpickling does not call: register them
    # here, so that buffers loaded before any was made (a Runner that resumes, then validates) still have them
    HistoryBuffer()
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
    with ``weights_only=True``). A local file is written atomically (:func:`mmpetl.utils.atomic.atomic_backend_args`).
    """
    backend_args = atomic_backend_args(filename)
    if not filename.endswith('.safetensors'):
        mmengine_checkpoint.save_checkpoint(checkpoint, filename, backend_args=backend_args)
        return
    from safetensors.torch import save
    others = [k for k, v in checkpoint['state_dict'].items() if not isinstance(v, torch.Tensor)]
    if others:
        raise TypeError(f'{filename}: a safetensors file holds tensors only; not tensors: {", ".join(others[:5])}')
    # contiguous copies on the CPU: safetensors refuses tensors that share memory
    tensors = {k: v.detach().to('cpu').contiguous().clone() for k, v in checkpoint['state_dict'].items()}
    metadata = {'format': 'pt', SAFETENSORS_META_KEY: json.dumps(checkpoint.get('meta', {}), default=_json_default)}
    # through mmengine's file backend, as its save_checkpoint writes (the folder is created; remote backends work)
    get_file_backend(filename, backend_args=backend_args).put(save(tensors, metadata=metadata), filename)


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


def safe_load_checkpoint(filename: str, map_location=None):
    """Load the checkpoint ``filename`` names, safely: a local path, an ``http(s)://`` URL or one of mmengine's
    model-zoo names (:data:`ZOO_PREFIXES`), as mmengine's ``_load_checkpoint`` takes them; other schemes (``s3://``,
    ``pavi://``) go to mmengine's loader for them. A name made by :func:`safe_uri` is taken as the name it wraps.

    Returns:
        dict: the checkpoint (a safetensors file: ``{'meta': dict, 'state_dict': {name: tensor}}``).

    Raises:
        UnsafeCheckpointError: the file holds a pickled object that mmpetl does not unpickle (the message names it).
        FileNotFoundError: no such local file.
    """
    filename = str(filename)
    if filename.startswith(SAFE_SCHEME):
        filename = filename[len(SAFE_SCHEME):]
    if filename.startswith(('http://', 'https://')):
        return load_from_safe_http(filename, map_location)
    if filename.startswith(ZOO_PREFIXES):
        return load_from_safe_zoo(filename, map_location)
    if '://' in filename:
        return CheckpointLoader.load_checkpoint(filename, map_location)
    return load_checkpoint_file(filename, map_location)


def load_from_mmpetl_safe(filename: str, map_location=None):
    """mmpetl's loader in mmengine's ``CheckpointLoader``, for the names of :func:`safe_uri` (mmengine logs the
    function's name after ``load_from_``: "Loads checkpoint by mmpetl_safe backend")."""
    return safe_load_checkpoint(filename, map_location)


def safe_uri(filename: Optional[str]) -> Optional[str]:
    """``filename`` as a name that mmengine's ``CheckpointLoader`` (``Runner.load_checkpoint``, ``Runner.resume``,
    the ``Pretrained`` init of upstream backbones) loads with :func:`safe_load_checkpoint`:
    ``mmpetl-safe://<filename>``.
    ``None`` (no checkpoint) and names made by this function are returned as they are.

    On the first call it registers :func:`load_from_mmpetl_safe` for :data:`SAFE_SCHEME` with mmengine's
    ``CheckpointLoader.register_scheme``; mmengine's loaders for other names stay as they are.
    """
    if not filename or str(filename).startswith(SAFE_SCHEME):
        return filename
    try:
        CheckpointLoader.register_scheme(SAFE_SCHEME, load_from_mmpetl_safe)
    except KeyError:  # registered by an earlier call
        pass
    return SAFE_SCHEME + str(filename)
