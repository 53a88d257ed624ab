"""Every checkpoint an mmpetl run writes to a local disk is written atomically (:mod:`mmpetl.utils.atomic`).

mmengine writes checkpoints through its file backends: ``Runner.save_checkpoint`` (``iter_N.pth``, ``epoch_N.pth``,
``best_*.pth`` of ``CheckpointHook``) and ``mmengine.runner.save_checkpoint`` (which ``DeltaCheckpointHook`` uses for
``delta_*.pth``) serialise into memory and hand the bytes to ``get_file_backend(path).put``; ``mmengine.dump`` and
``mmengine.fileio.put_text`` end in ``put_text``. The backend for paths without a ``scheme://`` prefix is the one
registered for the prefix ``''``, ``LocalBackend``, whose ``put`` is ``open(path, 'wb').write(...)``: a process killed
in the middle leaves a truncated file under the final name. :class:`AtomicLocalBackend` is that backend with atomic
``put``/``put_text``, and :func:`register_atomic_local_backend` registers it in its place with mmengine's own
``register_backend(..., force=True)``, so every component reaches it without a config change (configs could name it
in ``backend_args``, but ``default_hooks`` come from the upstream base configs and every hook has its own).

One write does not go through a backend: ``CheckpointHook`` writes ``<work_dir>/last_checkpoint`` (the path of the
newest checkpoint) with the builtin ``open``. The only other way to change that is to copy the hook's
``_save_checkpoint_with_step``; instead, the function gives ``mmengine.hooks.checkpoint_hook`` a module-level ``open``
whose write modes are :func:`~mmpetl.utils.atomic.atomic_write` (every other mode is the builtin; that call is the
module's only ``open``). ``tools/train.py --resume`` does not rely on ``last_checkpoint`` anyway
(:mod:`mmpetl.engine.resume`).

Not covered: paths of other backends (``s3://``, ...), and the deprecated ``file_client_args`` (``FileClient``).
"""
import builtins
import importlib
import os.path as osp
from pathlib import Path
from typing import Union

import mmengine
from mmengine.fileio import io as mmengine_io
from mmengine.fileio.backends import LocalBackend, register_backend

from mmpetl.utils.atomic import WRITE_MODES, atomic_write


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes replace the file only once it is complete (temporary file beside
    it, fsync, rename). Reads, listing and removal are ``LocalBackend``'s."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write ``obj`` (bytes) to ``filepath``, atomically; creates the folder, as ``LocalBackend.put``."""
        mmengine.mkdir_or_exist(osp.dirname(filepath))
        with atomic_write(filepath, 'wb') as file:
            file.write(obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        """Write the text ``obj`` to ``filepath``, atomically; creates the folder, as ``LocalBackend.put_text``."""
        mmengine.mkdir_or_exist(osp.dirname(filepath))
        with atomic_write(filepath, 'w', encoding=encoding) as file:
            file.write(obj)


def _open_writing_atomically(file, mode='r', *args, **kwargs):
    """``open``, except that writing (``'w'``, ``'wt'``, ``'wb'``) goes through ``atomic_write`` (``with`` only)."""
    if mode in WRITE_MODES and not args and set(kwargs) <= {'encoding'}:
        return atomic_write(file, mode, **kwargs)
    return builtins.open(file, mode, *args, **kwargs)


def register_atomic_local_backend() -> None:
    """Make :class:`AtomicLocalBackend` mmengine's backend for local paths, and ``CheckpointHook``'s
    ``last_checkpoint`` write atomic (see the module's docstring). Idempotent; ``import mmpetl.engine`` calls it."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # mmengine.fileio.get/put/... cache one backend instance per prefix; drop plain LocalBackends made before this
    for key, backend in list(mmengine_io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del mmengine_io.backend_instances[key]
    importlib.import_module('mmengine.hooks.checkpoint_hook').open = _open_writing_atomically
