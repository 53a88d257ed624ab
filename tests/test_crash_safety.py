"""Nothing lost to a crash: atomic checkpoint writes (mmpetl/utils/atomic.py, mmpetl/engine/hooks/atomic_writes_hook.py)
and ``tools/train.py --resume`` from the newest complete checkpoint (mmpetl/engine/resume.py).

The last test kills (SIGKILL) ``tools/train.py`` on the demo config while it writes its checkpoint at iteration 4,
after the one at iteration 2 is complete, resumes with ``--resume`` and compares the losses of iterations 3 and 4 with
those the killed run had logged for them (an uninterrupted run from checkpoint 2: tests/test_resume.py shows that a
resumed run repeats an uninterrupted one). To land the kill inside the write, the training process imports this
module (the config's ``custom_imports``), which then registers :class:`StallingBackend` under the name of mmpetl's
atomic backend: the config's runtime (``AtomicWritesHook``) must select that backend for the kill to land there.
"""
import glob
import json
import logging
import os
import os.path as osp
import signal
import subprocess
import sys
import time
import zipfile
from types import SimpleNamespace

import mmengine
import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.runner.checkpoint import save_checkpoint

from conftest import ROOT
from mmpetl.engine import AtomicWritesHook, apply_auto_resume, checkpoint_problem, find_resumable_checkpoint
from mmpetl.utils.atomic import ATOMIC_BACKEND, AtomicLocalBackend, atomic_backend_args, atomic_write

TESTS = osp.dirname(osp.abspath(__file__))
STALL_FILE, STALL_MARKER = 'MMPETL_TEST_STALL_FILE', 'MMPETL_TEST_STALL_MARKER'
TOLERANCE = dict(rtol=1e-5, atol=1e-6)  # tests/test_resume.py's


class StallingBackend(AtomicLocalBackend):
    """The atomic backend, except that the write of the file named by ``$MMPETL_TEST_STALL_FILE`` writes half of it,
    creates ``$MMPETL_TEST_STALL_MARKER`` and waits there to be killed."""

    def put(self, obj, filepath):
        if osp.basename(filepath) != os.environ[STALL_FILE]:
            return super().put(obj, filepath)
        with atomic_write(filepath, 'wb') as file:
            file.write(obj[:len(obj) // 2])
            file.flush()
            open(os.environ[STALL_MARKER], 'w').close()
            time.sleep(600)
            file.write(obj[len(obj) // 2:])


if os.environ.get(STALL_FILE):  # only in the training process of test_sigkill_during_a_checkpoint_write...
    register_backend(ATOMIC_BACKEND, StallingBackend, force=True)


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'iter_2.pth'
    path.write_bytes(b'old')
    with pytest.raises(RuntimeError, match='midway'):
        with atomic_write(path, 'wb') as file:
            file.write(b'new, but not all of it')
            raise RuntimeError('midway')
    assert path.read_bytes() == b'old' and os.listdir(tmp_path) == ['iter_2.pth']

    with atomic_write(path, 'w', encoding='utf-8') as file:
        file.write('new')
    assert path.read_text() == 'new' and os.listdir(tmp_path) == ['iter_2.pth']
    (tmp_path / 'plain').write_text('new')
    assert osp.getsize(path) == 3 and os.stat(path).st_mode & 0o777 == os.stat(tmp_path / 'plain').st_mode & 0o777

    with pytest.raises(ValueError, match=r"mode='ab'.*valid modes: w, wt, wb"):
        with atomic_write(path, 'ab'):
            pass


def test_mmengine_writes_local_files_atomically_with_mmpetls_backend_args(tmp_path):
    """mmengine's save_checkpoint (Runner.save_checkpoint, CheckpointHook, DeltaCheckpointHook) and dump given
    ``atomic_backend_args`` reach AtomicLocalBackend; a file they overwrite is replaced by a rename (a new inode), never
    rewritten in place. mmengine's own local backend stays the one for paths without backend_args."""
    path, report = str(tmp_path / 'iter_1.pth'), str(tmp_path / 'report.json')
    backend_args = atomic_backend_args(path)
    assert type(get_file_backend(path, backend_args=backend_args)) is AtomicLocalBackend
    assert type(get_file_backend(path)) is LocalBackend
    assert atomic_backend_args('s3://bucket/iter_1.pth') is None  # another backend's path: mmengine's backend
    inodes = []
    for value in (0., 1.):
        save_checkpoint({'state_dict': {'w': torch.full((2, ), value)}}, path, backend_args=backend_args)
        mmengine.dump({'value': value}, report, backend_args=backend_args)
        inodes.append((os.stat(path).st_ino, os.stat(report).st_ino))
    assert inodes[0][0] != inodes[1][0] and inodes[0][1] != inodes[1][1]
    assert torch.load(path, weights_only=True)['state_dict']['w'].tolist() == [1., 1.]
    assert mmengine.load(report) == {'value': 1.}

    with pytest.raises(TypeError):  # a write that fails in the middle
        get_file_backend(path, backend_args=backend_args).put('text, not bytes', path)
    assert torch.load(path, weights_only=True)['state_dict']['w'].tolist() == [1., 1.]
    assert sorted(os.listdir(tmp_path)) == ['iter_1.pth', 'report.json']


def test_atomic_writes_hook_selects_the_atomic_backend_for_local_checkpoint_hooks(tmp_path):
    """On the CheckpointHooks of mmengine's defaults that write to a local folder; one with its own backend_args,
    file_client_args or another backend's out_dir keeps what it has."""
    hooks = dict(default=CheckpointHook(), elsewhere=CheckpointHook(out_dir=str(tmp_path / 'out')),
                 chosen=CheckpointHook(backend_args=dict(backend='local')),
                 file_client=CheckpointHook(file_client_args=dict(backend='disk')),
                 remote=CheckpointHook(out_dir='s3://bucket/checkpoints'))
    runner = SimpleNamespace(hooks=list(hooks.values()), work_dir=str(tmp_path / 'work_dir'))
    AtomicWritesHook().before_run(runner)
    assert {name: hook.backend_args for name, hook in hooks.items()} == dict(
        default=dict(backend=ATOMIC_BACKEND), elsewhere=dict(backend=ATOMIC_BACKEND), chosen=dict(backend='local'),
        file_client=None, remote=None)


def write_checkpoints(folder):
    """iter_2 complete, iter_4 truncated, iter_6 garbage, iter_8 a zip that is not a checkpoint, a delta; paths."""
    folder.mkdir(exist_ok=True)
    paths = {n: folder / f'iter_{n}.pth' for n in (2, 4, 6, 8)}
    torch.save({'state_dict': {'w': torch.zeros(64)}, 'meta': {'iter': 2}}, paths[2])
    complete = paths[2].read_bytes()
    paths[4].write_bytes(complete[:len(complete) // 2])
    paths[6].write_bytes(b'not a checkpoint\n' * 8)
    with zipfile.ZipFile(paths[8], 'w') as archive:
        archive.writestr('notes.txt', 'a zip archive, but no torch checkpoint')
    torch.save({'state_dict': {'w': torch.zeros(1)}}, folder / 'delta_iter_10.pth')  # a delta is never resumed
    (folder / 'last_checkpoint').write_text(str(paths[6]))
    return {n: str(path) for n, path in paths.items()}


def test_resume_skips_incomplete_and_unreadable_checkpoints_and_names_them(tmp_path, caplog):
    logger = logging.getLogger('test_crash_safety')
    caplog.set_level(logging.INFO, logger=logger.name)
    paths = write_checkpoints(tmp_path / 'work_dir')
    assert checkpoint_problem(paths[2]) is None
    assert 'not a complete checkpoint' in checkpoint_problem(paths[4])
    assert 'not a complete checkpoint' in checkpoint_problem(paths[6])
    assert 'without data.pkl' in checkpoint_problem(paths[8])
    assert checkpoint_problem(str(tmp_path / 'iter_99.pth')) == 'no such file'

    # last_checkpoint names the garbage iter_6, then by number: 8, (6), 4, 2
    assert find_resumable_checkpoint(str(tmp_path / 'work_dir'), logger) == paths[2]
    skipped = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert [message.split(':')[0] for message in skipped] == [
        f'Not resuming from {paths[n]}' for n in (6, 8, 4)]
    assert 'interrupted' in skipped[2]

    (tmp_path / 'work_dir' / 'last_checkpoint').write_text('')  # interrupted while written by plain open()
    caplog.clear()
    assert find_resumable_checkpoint(str(tmp_path / 'work_dir'), logger) == paths[2]
    assert 'last_checkpoint is empty' in caplog.records[0].getMessage()


def test_auto_resume_sets_the_config_and_removes_stale_temporaries(tmp_path, caplog):
    logger = logging.getLogger('test_crash_safety')
    caplog.set_level(logging.INFO, logger=logger.name)
    paths = write_checkpoints(tmp_path / 'work_dir')
    stale, live = (tmp_path / 'work_dir' / f'.iter_10.pth.{random}.tmp' for random in ('abcd_123', 'x1y2z3w4'))
    stale.write_bytes(b'half')
    live.write_bytes(b'half')
    os.utime(live, (time.time() + 60, ) * 2)  # being written by a process of this run: newer than the call
    cfg = Config(dict(work_dir=str(tmp_path / 'work_dir'), resume=False, load_from='pretrained.pth'))
    assert apply_auto_resume(cfg, logger) == paths[2]
    assert cfg.resume is True and cfg.load_from == paths[2]
    assert not stale.exists() and live.exists()
    assert any(f'Removed {stale}' in record.getMessage() for record in caplog.records)

    cfg = Config(dict(work_dir=str(tmp_path / 'empty'), resume=False, load_from='pretrained.pth'))
    assert apply_auto_resume(cfg, logger) is None
    assert cfg.resume is False and cfg.load_from is None
    assert 'training starts from scratch' in caplog.records[-1].getMessage()


def logged_losses(work_dir):
    """{iteration: loss} from the scalars each run of ``work_dir`` logged (one file per run, oldest first)."""
    runs = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as file:
            runs.append({record['step']: record['loss'] for record in map(json.loads, file) if 'loss' in record})
    return runs


def test_sigkill_during_a_checkpoint_write_then_resume_continues_as_uninterrupted(toy_coco, tmp_path):
    from test_tools import write_demo_config

    # max_keep_ckpts=2 (as the shipped configs): with 1, mmengine removes iter_2.pth before it writes iter_4.pth
    config = write_demo_config(tmp_path, toy_coco, max_iters=4, extra=f'''
custom_imports = dict(imports=['test_crash_safety'], allow_failed_imports=False)
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=2), logger=dict(interval=1))
log_processor = dict(window_size=1)  # the logged loss is the iteration's
train_dataloader = dict(batch_size=2, dataset=dict(data_root='{toy_coco}'))
val_cfg = val_dataloader = val_evaluator = None
''')
    work_dir, marker = str(tmp_path / 'work_dir'), str(tmp_path / 'writing')
    # one thread: two OpenMP threads spin-wait for each other on shared cores
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([TESTS, ROOT, os.environ.get('PYTHONPATH', '')]))
    command = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', work_dir]

    with open(tmp_path / 'killed.log', 'w') as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(env, **{STALL_FILE: 'iter_4.pth', STALL_MARKER: marker}))
        deadline = time.time() + 600
        while not osp.exists(marker) and process.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL and osp.exists(marker), (tmp_path / 'killed.log').read_text()
    names = os.listdir(work_dir)
    assert 'iter_2.pth' in names and 'iter_4.pth' not in names  # the half-written file is not under its name
    assert [name for name in names if name.startswith('.iter_4.pth.') and name.endswith('.tmp')]
    [killed] = logged_losses(work_dir)
    assert sorted(killed) == [1, 2, 3, 4]
    # mmengine writes last_checkpoint with a plain open(): a crash in that write leaves it empty; --resume does without
    last_checkpoint = osp.join(work_dir, 'last_checkpoint')
    open(last_checkpoint, 'w').close()

    resumed = subprocess.run(command + ['--resume'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert 'the unfinished write of a run that stopped' in resumed.stdout
    assert f'--resume: resuming from {osp.join(work_dir, "iter_2.pth")}' in resumed.stdout
    after = logged_losses(work_dir)[1]
    assert sorted(after) == [3, 4]
    torch.testing.assert_close(torch.tensor([after[3], after[4]]), torch.tensor([killed[3], killed[4]]), **TOLERANCE)

    assert not [name for name in os.listdir(work_dir) if name.endswith('.tmp')]
    assert checkpoint_problem(osp.join(work_dir, 'iter_4.pth')) is None
    with open(last_checkpoint) as file:
        assert file.read() == osp.join(work_dir, 'iter_4.pth')
