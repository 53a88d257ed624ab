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
"""
import contextlib
import os
import os.path as osp
import re
import tempfile
from typing import IO, Any, Iterator, List, Optional

import torch

#: The name of a temporary file of :func:`atomic_write` (``tempfile.mkstemp`` draws 8 characters from a-z, 0-9, _).
TEMP_NAME = re.compile(r'^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$')

WRITE_MODES = ('w', 'wt', 'wb')


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


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
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, mode, encoding=None if 'b' in mode else encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it the permissions open() would
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
