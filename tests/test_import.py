"""``import mmpetl`` changes nothing in mmengine and stays light (mmpetl/__init__.py).

A fresh interpreter records mmengine's process-wide state (its file backends by name and by prefix, the backend
instances it caches, the CheckpointLoader's schemes, a module-level ``open`` in ``mmengine.hooks.checkpoint_hook``,
the umask), imports mmpetl, records it again, then imports the modules that mmpetl's registries list as their
``locations`` (what mmengine imports when a config names one ``type='mmpetl.<Name>'``), and records it once more.
Only using mmpetl's atomic writes and safe loading (:func:`mmpetl.utils.atomic.atomic_backend_args`,
:func:`mmpetl.utils.checkpoint.safe_uri`) adds to mmengine, and only under mmpetl's own names.
"""
import json
import os.path as osp
import subprocess
import sys

import pytest

from conftest import ROOT

DOWNSTREAM = ('mmdet', 'mmseg', 'mmpretrain', 'mmrotate')

RECORD = r'''
import json, os.path as osp, sys, time


def qualname(obj):
    return f'{obj.__module__}.{obj.__qualname__}'


def umask():
    """The umask, read without setting it (os.umask can only set it); None where /proc does not tell it."""
    try:
        with open('/proc/self/status') as status:
            return next((line.split()[1] for line in status if line.startswith('Umask:')), None)
    except OSError:
        return None


def mmengine_state():
    from mmengine.fileio import io
    from mmengine.fileio.backends import backends, prefix_to_backends
    from mmengine.hooks import checkpoint_hook
    from mmengine.runner.checkpoint import CheckpointLoader
    return dict(
        backends={name: qualname(cls) for name, cls in backends.items()},
        prefix_to_backends={prefix: qualname(cls) for prefix, cls in prefix_to_backends.items()},
        backend_instances={key: qualname(type(backend)) for key, backend in io.backend_instances.items()},
        checkpoint_schemes={prefix: qualname(loader) for prefix, loader in CheckpointLoader._schemes.items()},
        checkpoint_hook_open=repr(checkpoint_hook.__dict__.get('open')),
        umask=umask())


import mmengine.fileio
import mmengine.hooks
import mmengine.runner
mmengine.fileio.exists(sys.executable)  # mmengine caches one LocalBackend for its get/put/exists functions
record = dict(before=mmengine_state())
start = time.perf_counter()
import mmpetl
record['import_seconds'] = time.perf_counter() - start
record['downstream'] = sorted(name for name in sys.argv[1:] if name in sys.modules)
record['after_import'] = mmengine_state()

from mmpetl.registry import HOOKS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS, PETL_METHODS
for registry in (HOOKS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS, PETL_METHODS):
    registry.import_from_location()
record['after_locations'] = mmengine_state()

print(json.dumps(record), flush=True)

from mmpetl.utils.atomic import atomic_backend_args
from mmpetl.utils.checkpoint import safe_uri
record['used'] = dict(atomic=atomic_backend_args(osp.join('work_dir', 'iter_1.pth')),
                      safe=safe_uri(osp.join('work_dir', 'iter_1.pth')))
record['after_use'] = mmengine_state()
print(json.dumps(record))
'''


@pytest.fixture(scope='module')
def records():
    """The script's records: after the imports, and after the use of atomic writes and safe loading."""
    out = subprocess.run([sys.executable, '-c', RECORD, *DOWNSTREAM], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{')]
    return lines + [None] * (2 - len(lines)), out.stderr[-3000:]


@pytest.fixture
def record(records):
    (imported, _), error = records
    assert imported is not None, error
    return imported


@pytest.fixture
def used(records):
    (_, used), error = records
    assert used is not None, error
    return used


def test_import_mmpetl_leaves_mmengine_as_it_was(record):
    before = record['before']
    assert before['backends']['local'] == 'mmengine.fileio.backends.local_backend.LocalBackend'  # recorded: it can fail
    assert before['backend_instances'] and before['checkpoint_hook_open'] == 'None'
    assert record['after_import'] == before


def test_importing_mmpetls_registered_modules_leaves_mmengine_as_it_was(record):
    assert record['after_locations'] == record['before']


def test_atomic_writes_and_safe_loading_add_to_mmengine_under_their_own_names(used):
    from mmpetl.utils.atomic import ATOMIC_BACKEND, AtomicLocalBackend
    from mmpetl.utils.checkpoint import SAFE_SCHEME, load_from_mmpetl_safe

    before, after = used['before'], used['after_use']
    name = osp.join('work_dir', 'iter_1.pth')
    assert used['used'] == dict(atomic=dict(backend=ATOMIC_BACKEND), safe=SAFE_SCHEME + name)
    assert after['backends'] == dict(before['backends'], **{
        ATOMIC_BACKEND: f'{AtomicLocalBackend.__module__}.{AtomicLocalBackend.__qualname__}'})
    assert after['checkpoint_schemes'] == dict(before['checkpoint_schemes'], **{
        SAFE_SCHEME: f'{load_from_mmpetl_safe.__module__}.{load_from_mmpetl_safe.__qualname__}'})
    for key in ('prefix_to_backends', 'backend_instances', 'checkpoint_hook_open', 'umask'):
        assert after[key] == before[key], key


def test_import_mmpetl_is_light(record):
    assert record['downstream'] == []
    # generous: the import reads two small files; the interpreter start and mmengine are not counted
    assert record['import_seconds'] < 1.0, record['import_seconds']
