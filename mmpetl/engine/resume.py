"""Which checkpoint ``tools/train.py --resume`` (without a path) continues from: the newest complete one.

mmengine resumes from the file that ``<work_dir>/last_checkpoint`` names. A checkpoint written by a process that was
killed during the write, or lost with the page cache of a crashed machine, is truncated; resuming from it fails with
``PytorchStreamReader failed reading zip archive`` and the user has to find an older file by hand. mmpetl's runs
write checkpoints atomically (:class:`mmpetl.engine.hooks.AtomicWritesHook`), but ``last_checkpoint`` itself is written
by mmengine with a plain ``open`` (a crash can leave it empty), and work directories from before, other tools and
copies can still hold such files. :func:`find_resumable_checkpoint` tries, in order, the file named by
``last_checkpoint`` and the ``iter_<n>.pth``/``epoch_<n>.pth`` files of the work directory (and of the folder
``last_checkpoint`` points into, when the checkpoints are saved elsewhere: ``CheckpointHook(out_dir=...)``) by number
descending, skips those that are incomplete or unreadable, says which and why, and returns the first complete one.

Completeness is checked without unpickling anything (a checkpoint can carry code in its pickle; loading is for the
Runner, with its own safety rules): a torch checkpoint is a zip archive whose central directory is the last thing
written, so a file cut short anywhere has none and ``zipfile`` refuses it; a complete archive also holds torch's
``data.pkl``. This reads a few kilobytes, not the file; it does not verify the CRCs of the data (a file altered in the
middle after it was complete, not something a crash does, fails later in ``torch.load``).
"""
import logging
import os
import os.path as osp
import re
import time
import zipfile
from typing import List, Optional, Union

from mmengine.config import Config
from mmengine.logging import print_log

from mmpetl.utils.atomic import remove_interrupted_writes

#: The training checkpoints of mmengine's ``CheckpointHook`` (its default ``filename_tmpl``).
CHECKPOINT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')

Logger = Union[logging.Logger, str]


def checkpoint_problem(path: str) -> Optional[str]:
    """Why training cannot resume from ``path`` (a sentence), or ``None`` when it is a complete torch checkpoint.

    A folder is accepted unchecked: mmengine's DeepSpeed/FSDP strategies save checkpoints as folders.
    """
    if not osp.exists(path):
        return 'no such file'
    if osp.isdir(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return (f'not a complete checkpoint ({error}; {osp.getsize(path)} bytes): a torch checkpoint is a zip '
                'archive, and a write that was interrupted leaves one without its end')
    if not any(name == 'data.pkl' or name.endswith('/data.pkl') for name in names):
        return 'a zip archive without data.pkl: not a torch checkpoint'
    return None


def _last_checkpoint(work_dir: str) -> Optional[str]:
    """What ``<work_dir>/last_checkpoint`` says: ``None`` without that file, ``''`` when it is empty."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8', errors='replace') as file:
        return file.read().strip()


def checkpoint_folders(work_dir: str) -> List[str]:
    """The work directory, and the folder ``last_checkpoint`` points into if that is another one."""
    folders = [work_dir]
    named = _last_checkpoint(work_dir)
    if named and osp.isdir(osp.dirname(named)) and osp.realpath(osp.dirname(named)) != osp.realpath(work_dir):
        folders.append(osp.dirname(named))
    return folders


def find_resumable_checkpoint(work_dir: str, logger: Logger = 'current') -> Optional[str]:
    """The newest complete checkpoint in ``work_dir``, or ``None``; logs each file skipped and why (see the module's
    docstring for the order and the check)."""
    candidates = []
    named = _last_checkpoint(work_dir)
    if named:
        candidates.append(named)
    elif named == '':
        print_log(f'{osp.join(work_dir, "last_checkpoint")} is empty (its write was interrupted): looking for '
                  'checkpoints by name', logger, level=logging.WARNING)
    numbered = []
    for folder in checkpoint_folders(work_dir):
        if osp.isdir(folder):
            for name in os.listdir(folder):
                match = CHECKPOINT_NAME.match(name)
                if match:
                    path = osp.join(folder, name)
                    numbered.append((int(match.group(1)), osp.getmtime(path), path))
    candidates += [path for _, _, path in sorted(numbered, reverse=True)]

    tried = set()
    for path in candidates:
        if osp.realpath(path) in tried:
            continue
        tried.add(osp.realpath(path))
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        print_log(f'Not resuming from {path}: {problem}', logger, level=logging.WARNING)
    return None


def apply_auto_resume(cfg: Config, logger: Logger = 'current') -> Optional[str]:
    """What ``tools/train.py --resume`` without a path does to the config: resume from the newest complete checkpoint
    in ``cfg.work_dir`` (``cfg.resume=True``, ``cfg.load_from`` = that file), or, when there is none, train from
    scratch (``cfg.resume=False``, ``cfg.load_from=None``, as mmengine does without ``last_checkpoint``).

    It first removes the temporary files of interrupted atomic writes older than this call (a crash during a
    checkpoint write leaves one). Returns the checkpoint, or ``None``.
    """
    started = time.time()
    for folder in checkpoint_folders(cfg.work_dir):
        for path in remove_interrupted_writes(folder, older_than=started):
            print_log(f'Removed {path}: the unfinished write of a run that stopped', logger, level=logging.WARNING)
    checkpoint = find_resumable_checkpoint(cfg.work_dir, logger)
    if checkpoint is None:
        print_log(f'--resume: no complete checkpoint in {cfg.work_dir}; training starts from scratch', logger,
                  level=logging.WARNING)
    else:
        print_log(f'--resume: resuming from {checkpoint}, the newest complete checkpoint in {cfg.work_dir}', logger)
    cfg.resume = checkpoint is not None
    cfg.load_from = checkpoint
    return checkpoint
