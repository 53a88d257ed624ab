"""Atomic file writes: a temporary file in the same folder, flushed to disk, then renamed over the target, so that a
crash never leaves a truncated file under the final name.

A process killed (or a machine that loses power) in the middle of ``open(path, 'wb').write(...)`` leaves a truncated
``path``; a checkpoint in that state makes ``--resume`` fail with ``PytorchStreamReader failed reading zip archive``.
Written through :func:`atomic_write`, ``path`` is at any moment either the old file or the complete new one:
``os.replace`` within one folder (one file system) is atomic on POSIX and Windows, and the data is fsynced before the
rename, so that the rename cannot reach the disk before the bytes it names.

A writer killed before its rename leaves its temporary file, named ``.<target name>.<8 random characters>.tmp``
(hidden, and never matching ``iter_*.pth``/``epoch_*.pth``); :func:`remove_interrupted_writes` removes such leftovers
(``tools/train.py --resume`` does, for the work directory).

mmengine writes checkpoints through its file backends; :class:`AtomicLocalBackend` is its local backend with atomic
writes, registered in mmengine under its own name, :data:`ATOMIC_BACKEND`, when :func:`atomic_backend_args` is first
called: ``backend_args=atomic_backend_args(path)`` selects it for one write (``mmengine.runner.save_checkpoint``,
``mmengine.fileio.get_file_backend``) or for a ``CheckpointHook`` (:class:`mmpetl.engine.hooks.AtomicWritesHook`).
mmengine's own backends stay as they are.
"""
import contextlib
import os
import os.path as osp
import random
import re
import string
from typing import IO, Any, Iterator, List, Optional, Tuple, Union

import mmengine
import torch
from mmengine.fileio.backends import LocalBackend, backends, register_backend

#: The name of a temporary file of :func:`atomic_write`: 8 random characters from a-z, 0-9, _ (as ``tempfile``'s).
TEMP_NAME = re.compile(r'^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$')
_TEMP_CHARACTERS = string.ascii_lowercase + string.digits + '_'

WRITE_MODES = ('w', 'wt', 'wb')

#: The name of :class:`AtomicLocalBackend` among mmengine's file backends (``backend_args=dict(backend=...)``).
ATOMIC_BACKEND = 'mmpetl_atomic'


def _create_temporary(folder: str, target: str) -> Tuple[int, str]:
    """Create a new temporary file for ``target`` in ``folder``; returns ``(fd, path)``.

    Not ``tempfile.mkstemp``: it creates the file with mode 0o600, and giving it the permissions ``open()`` would
    means reading the process umask, which only ``os.umask`` (a process-wide change, racing other threads) tells.
    Created with mode 0o666, the file gets from the kernel exactly the permissions ``open()`` gives a new file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_BINARY', 0)
    draw = random.SystemRandom()
    for _ in range(100):
        path = osp.join(folder, f'.{target}.{"".join(draw.choices(_TEMP_CHARACTERS, k=8))}.tmp')
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f'atomic_write: no free temporary name for {osp.join(folder, target)} after 100 draws')


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (POSIX; folders cannot be opened on Windows, where this does nothing)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str, mode: str = 'wb', encoding: Optional[str] = None) -> Iterator[IO]:
    """Open ``path`` for writing so that it is replaced only once everything was written: ``with`` yields a
    temporary file beside ``path``; a clean exit flushes and fsyncs it and renames it to ``path``; an exception
    (or a crash) leaves ``path`` as it was, and the exception removes the temporary file.

    Args:
        path (str): the file to write; its folder must exist.
        mode (str): ``'wb'`` (bytes) or ``'w'``/``'wt'`` (text).
        encoding (str, optional): the text encoding (text modes; default: the locale's, as ``open``).
    """
    if mode not in WRITE_MODES:
        raise ValueError(f'atomic_write: mode={mode!r} for {path!r}; valid modes: {", ".join(WRITE_MODES)} '
                         '(appending or reading cannot replace a file atomically)')
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    fd, tmp = _create_temporary(folder, osp.basename(path))
    try:
        with os.fdopen(fd, mode, encoding=None if 'b' in mode else encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save(obj, path)``, atomically."""
    with atomic_write(path, 'wb') as file:
        torch.save(obj, file)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes replace the file only once it is complete (:func:`atomic_write`).
    Reads, listing and removal are ``LocalBackend``'s."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        """Write ``obj`` (bytes) to ``filepath``, atomically; creates the folder, as ``LocalBackend.put``."""
        mmengine.mkdir_or_exist(osp.dirname(filepath))
        with atomic_write(filepath, 'wb') as file:
            file.write(obj)

    def put_text(self, obj: str, filepath: Union[str, os.PathLike], encoding: str = 'utf-8') -> None:
        """Write the text ``obj`` to ``filepath``, atomically; creates the folder, as ``LocalBackend.put_text``."""
        mmengine.mkdir_or_exist(osp.dirname(filepath))
        with atomic_write(filepath, 'w', encoding=encoding) as file:
            file.write(obj)


def atomic_backend_args(path: Union[str, os.PathLike]) -> Optional[dict]:
    """The ``backend_args`` with which mmengine writes ``path`` atomically: ``dict(backend=ATOMIC_BACKEND)`` for a
    local path (no ``scheme://``, which mmengine gives its local backend), else ``None`` (mmengine's backend for
    ``s3://``, ``http://``, ...).

    Registers :class:`AtomicLocalBackend` as :data:`ATOMIC_BACKEND` on the first call. A backend registered under
    that name before is kept: who registered it chose it (tests register one that stalls in the middle of a write).
    """
    if '://' in str(path):
        return None
    if ATOMIC_BACKEND not in backends:
        register_backend(ATOMIC_BACKEND, AtomicLocalBackend)
    return dict(backend=ATOMIC_BACKEND)


def remove_interrupted_writes(folder: str, older_than: float) -> List[str]:
    """Remove the temporary files of :func:`atomic_write` in ``folder`` last modified before ``older_than`` (a
    ``time.time()`` value, e.g. the start of the run that calls this): left by writers that crashed. A live writer's
    file is newer than that. Returns the removed paths."""
    removed = []
    if not osp.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if not TEMP_NAME.match(name):
            continue
        with contextlib.suppress(FileNotFoundError):  # another process of the same run may remove it first
            if osp.isfile(path) and osp.getmtime(path) < older_than:
                os.remove(path)
                removed.append(path)
    return removed
