"""No file runs code when mmpetl or a config loads it (mmpetl/utils/checkpoint.py), and deltas as safetensors.

A *payload* checkpoint is a real checkpoint (tensors under ``state_dict``) whose ``meta`` holds an object that, when
unpickled, runs ``exec`` to create a marker file: what a malicious "pretrained" download would do. It goes through
every way a file is loaded: a backbone's ``init_cfg=dict(type='Pretrained')``, ``load_from`` and ``resume`` in the
real Runner (where DeltaCheckpointHook would take a delta), ``load_delta``, ``tools/test.py``, URLs (a local HTTP
server) and mmengine's model-zoo names, and each converter's input. Each time the marker must not exist afterwards and
the error must name the file and what it holds. ``test_the_payload_runs_when_unpickled_unsafely`` shows that the
payload does run when the file is loaded the unsafe way, so these tests can fail.

The model is the small mmpretrain Swin of ``configs/transfer/swin-mini_toy-shapes-cls.py`` (64 px toy shapes).
"""
import functools
import http.server
import json
import os
import os.path as osp
import pickle
import runpy
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint, load_from_http, load_from_local,
                                       save_checkpoint)
from safetensors import safe_open

from conftest import ROOT
from mmpetl.engine import DeltaCheckpointHook, SafeLoadingHook, build_model
from mmpetl.models.delta import base_fingerprint, delta_keys, is_delta, load_delta, make_delta, save_delta
from mmpetl.models.small_backbones import SMALL_BACKBONES
from mmpetl.utils.checkpoint import UnsafeCheckpointError, load_from_mmpetl_safe, safe_load_checkpoint, safe_uri

CLS_CONFIG = osp.join(ROOT, 'configs/transfer/swin-mini_toy-shapes-cls.py')
PRETRAINED = osp.join(ROOT, SMALL_BACKBONES['swin-mini']['release'])
TOOLS = osp.join(ROOT, 'tools')


class Payload:
    """Unpickled, it creates ``marker`` (through ``builtins.exec``, as an attack would run anything)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()", )


def write_payload(path, marker):
    """A checkpoint with real tensors and the payload in its meta."""
    torch.save({'state_dict': {'backbone.w': torch.ones(2)}, 'meta': {'note': Payload(marker)}}, str(path))
    return str(path)


@pytest.fixture
def payload(tmp_path):
    """``(path, marker)`` of a payload file named ``payload.pth``."""
    marker = tmp_path / 'payload_ran'
    return write_payload(tmp_path / 'payload.pth', marker), marker


def assert_refused(error, name, marker):
    message = str(error)
    assert name in message and 'builtins.exec' in message and 'refused to load' in message, message
    assert 'weights_only=False' in message  # how to re-save a file one trusts
    assert not marker.exists(), 'the payload ran'


def cls_config(tmp_path, data_root=None):
    """The small classification config: absolute pretrained path, toy data, 2 iterations, no validation."""
    cfg = Config.fromfile(CLS_CONFIG)
    cfg.model.backbone.backbone.init_cfg.checkpoint = PRETRAINED
    cfg.work_dir = str(tmp_path / 'work_dir')
    cfg.train_dataloader.dataset.data_root = data_root or str(tmp_path / 'no_data')
    cfg.train_dataloader.batch_size = 4
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_dataloader.dataset.data_root = data_root or str(tmp_path / 'no_data')
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    return cfg


@pytest.fixture(scope='module')
def toy_shapes(tmp_path_factory):
    from mmpetl.datasets import make_toy_imagenet
    root = str(tmp_path_factory.mktemp('toy_shapes_cls'))
    make_toy_imagenet(root, num_train=2, num_val=1, styles=('filled', 'outline'))
    return root + '/'


@pytest.fixture(scope='module')
def trained(tmp_path_factory, toy_shapes):
    """A real 2-iteration run of the small config with mmpetl's runtime hooks: ``(cfg, runner)``."""
    cfg = cls_config(tmp_path_factory.mktemp('trained'), toy_shapes)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return cfg, runner


def run_tool(tool, *args):
    """``python tools/<tool> args`` in this process."""
    argv = sys.argv
    sys.argv = [osp.join(TOOLS, tool)] + [str(a) for a in args]
    try:
        runpy.run_path(osp.join(TOOLS, tool), run_name='__main__')
    finally:
        sys.argv = argv


def test_the_payload_runs_when_unpickled_unsafely(tmp_path):
    path = write_payload(tmp_path / 'control.pth', tmp_path / 'control_ran')
    torch.load(path, weights_only=False)
    assert (tmp_path / 'control_ran').exists()


def test_mmpetl_loads_the_names_it_hands_mmengine_and_leaves_mmengines_loaders_alone():
    for name in ('x.pth', 'http://host/x.pth', 'https://host/x.pth', 'open-mmlab://resnet50_v1c'):
        assert CheckpointLoader._get_checkpoint_loader(safe_uri(name)) is load_from_mmpetl_safe
    assert CheckpointLoader._get_checkpoint_loader('x.pth') is load_from_local
    assert CheckpointLoader._get_checkpoint_loader('https://host/x.pth') is load_from_http


def test_payload_refused_by_the_loader_even_when_torch_is_told_otherwise(payload, monkeypatch):
    path, marker = payload
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')  # turns torch.load's default off, not an explicit True
    with pytest.raises(UnsafeCheckpointError) as error:
        safe_load_checkpoint(path)
    assert_refused(error.value, path, marker)
    with pytest.raises(UnsafeCheckpointError) as error:
        _load_checkpoint(safe_uri(path))  # through mmengine, as the Runner and upstream inits load it
    assert_refused(error.value, path, marker)


def test_payload_as_a_backbones_pretrained_weights(tmp_path, payload):
    path, marker = payload
    cfg = cls_config(tmp_path)
    cfg.model.backbone.backbone.init_cfg.checkpoint = path
    model = build_model(cfg)
    with pytest.raises(UnsafeCheckpointError) as error:
        model.init_weights()
    assert_refused(error.value, path, marker)


@pytest.mark.parametrize('resume', [False, True], ids=['load_from', 'resume'])
def test_payload_as_load_from_in_the_runner(tmp_path, toy_shapes, payload, resume):
    path, marker = payload
    cfg = cls_config(tmp_path, toy_shapes)
    cfg.load_from, cfg.resume = path, resume
    assert any(hook['type'] == 'mmpetl.DeltaCheckpointHook' for hook in cfg.custom_hooks)  # would load a delta
    with pytest.raises(UnsafeCheckpointError) as error:
        Runner.from_cfg(cfg).train()
    assert_refused(error.value, path, marker)


def test_safe_loading_hook_hands_the_runner_safe_names_and_resumes_from_a_complete_checkpoint(tmp_path):
    from test_crash_safety import write_checkpoints
    paths = write_checkpoints(tmp_path / 'work_dir')  # iter_2 complete; last_checkpoint names a garbage iter_6
    runs = dict(load_from=SimpleNamespace(_resume=False, _load_from='x.pth', work_dir=str(tmp_path / 'work_dir')),
                resume=SimpleNamespace(_resume=True, _load_from=None, work_dir=str(tmp_path / 'work_dir')),
                nothing=SimpleNamespace(_resume=True, _load_from=None, work_dir=str(tmp_path / 'empty')),
                neither=SimpleNamespace(_resume=False, _load_from=None, work_dir=str(tmp_path / 'empty')))
    for runner in runs.values():
        SafeLoadingHook().before_run(runner)
    assert {name: (runner._resume, runner._load_from) for name, runner in runs.items()} == dict(
        load_from=(False, safe_uri('x.pth')), resume=(True, safe_uri(paths[2])), nothing=(False, None),
        neither=(False, None))


def test_payload_as_a_delta(tmp_path, payload):
    path, marker = payload
    model = build_model(cls_config(tmp_path))
    with pytest.raises(UnsafeCheckpointError) as error:
        load_delta(model, path)
    assert_refused(error.value, path, marker)


def test_payload_given_to_the_test_tool(tmp_path, toy_shapes, payload):
    path, marker = payload
    config = tmp_path / 'config.py'
    cls_config(tmp_path, toy_shapes).dump(str(config))
    with pytest.raises(SystemExit) as exit_info:
        run_tool('test.py', config, path, '--work-dir', tmp_path / 'test_dir')
    assert str(exit_info.value.code).startswith('test.py: error: ')
    assert_refused(exit_info.value.code, path, marker)


@pytest.fixture
def http_server(tmp_path, monkeypatch):
    """A local HTTP server for ``tmp_path/served``; torch hub's cache in ``tmp_path``. Yields (folder, base URL)."""
    served = tmp_path / 'served'
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path / 'mmengine_home'))
    for proxy in ('http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(proxy, raising=False)
    yield served, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_urls_load_safely(tmp_path, http_server):
    served, base = http_server
    marker = tmp_path / 'payload_ran'
    write_payload(served / 'evil.pth', marker)
    torch.save({'state_dict': {'w': torch.arange(3.0)}}, str(served / 'good.pth'))
    assert torch.equal(safe_load_checkpoint(f'{base}/good.pth')['state_dict']['w'], torch.arange(3.0))
    assert osp.isfile(tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'good.pth')  # torch hub's cache

    with pytest.raises(UnsafeCheckpointError) as error:
        safe_load_checkpoint(f'{base}/evil.pth')
    assert_refused(error.value, f'{base}/evil.pth', marker)
    with pytest.raises(UnsafeCheckpointError) as error:
        _load_checkpoint(safe_uri(f'{base}/evil.pth'))  # through mmengine, as a Pretrained init_cfg's URL
    assert_refused(error.value, f'{base}/evil.pth', marker)

    # mmengine's model-zoo names resolve to URLs: open-mmlab:// reads <MMENGINE_HOME>/open_mmlab.json too
    (tmp_path / 'mmengine_home').mkdir()
    (tmp_path / 'mmengine_home' / 'open_mmlab.json').write_text(json.dumps({'evil_zoo': f'{base}/evil.pth'}))
    os.remove(tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError) as error:
        safe_load_checkpoint('open-mmlab://evil_zoo')
    assert_refused(error.value, f'{base}/evil.pth', marker)


def test_payload_as_the_converters_inputs(tmp_path, payload, capsys):
    path, marker = payload
    config = tmp_path / 'config.py'
    cls_config(tmp_path).dump(str(config))
    for tool in ('model_converters/extract_delta.py', 'model_converters/merge_delta.py'):
        with pytest.raises(SystemExit) as exit_info:
            run_tool(tool, config, path, tmp_path / 'out.safetensors')
        assert str(exit_info.value.code).startswith(f'{osp.basename(tool)}: error: ')
        assert_refused(exit_info.value.code, path, marker)
    assert not (tmp_path / 'out.safetensors').exists()

    official = runpy.run_path(osp.join(TOOLS, 'model_converters/official_to_mmpetl.py'))
    capsys.readouterr()
    assert official['main'](['swin', path, str(tmp_path / 'out.pth'), '--target', 'mmpretrain']) == 1
    assert_refused(capsys.readouterr().err, path, marker)
    # a Google .npz holds numeric arrays; one with an object array (a pickle) is refused
    npz = str(tmp_path / 'evil.npz')
    np.savez(npz, **{'embedding/kernel': np.array([Payload(marker)], dtype=object)})
    assert official['main'](['vit', npz, str(tmp_path / 'out.pth'), '--target', 'mmpretrain']) == 1
    err = capsys.readouterr().err
    assert npz in err and 'refused to load' in err and 'allow_pickle' in err and not marker.exists()


def test_getattr_is_allowed_only_for_history_buffer_statistics(tmp_path):
    class Sneaky:
        def __reduce__(self):
            return getattr, (HistoryBuffer, 'register_statistics')

    path = str(tmp_path / 'sneaky.pth')
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"sneaky\.pth.*getattr\(HistoryBuffer, 'register_statistics'\)"):
        safe_load_checkpoint(path)


def test_a_file_cannot_replace_history_buffer_statistics(tmp_path):
    # a buffer pickles the class-level table of statistics methods; unpickling it updates that table
    path = str(tmp_path / 'iter_1.pth')
    table = HistoryBuffer._statistics_methods
    table['mean'] = HistoryBuffer.max
    try:
        torch.save({'message_hub': {'log_scalars': {'loss': HistoryBuffer([1.0, 3.0], [1, 1])}}}, path)
    finally:
        table['mean'] = HistoryBuffer.mean
    loaded = safe_load_checkpoint(path)['message_hub']['log_scalars']['loss']
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean
    assert loaded.mean() == 2.0 and loaded.statistics('mean') == 2.0


def test_loaded_buffers_have_their_statistics_in_a_process_that_made_none(tmp_path, monkeypatch):
    """HistoryBuffer registers its default statistics when one is made, not when one is unpickled: a Runner that
    resumes before any buffer was made (then validates, as pretrain_backbone.py --resume does) still logs means."""
    path = str(tmp_path / 'iter_1.pth')
    torch.save({'message_hub': {'log_scalars': {'val/time': HistoryBuffer([1.0, 3.0], [1, 1])}}}, path)
    monkeypatch.setattr(HistoryBuffer, '_statistics_methods', {})  # as in a fresh process
    loaded = safe_load_checkpoint(path)['message_hub']['log_scalars']['val/time']
    assert loaded.statistics('mean') == 2.0 and loaded.statistics('current') == 3.0


def test_training_checkpoint_of_a_real_run_loads_with_the_safe_unpickler(trained):
    cfg, runner = trained
    path = osp.join(cfg.work_dir, 'iter_2.pth')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)  # torch alone refuses mmengine's message hub (mmengine#1655)
    checkpoint = safe_load_checkpoint(path)
    loss = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer) and loss.current() == runner.message_hub.get_scalar('train/loss').current()
    assert checkpoint['meta']['iter'] == 2 and 'rng_state' in checkpoint


def test_safetensors_delta_round_trip_through_the_hook(trained, tmp_path):
    cfg, runner = trained
    path = osp.join(cfg.work_dir, 'delta_iter_2.safetensors')
    assert not osp.exists(osp.join(cfg.work_dir, 'delta_iter_2.pth'))
    with safe_open(path, framework='pt') as f:  # a plain safetensors file: tensors and a JSON header
        metadata = f.metadata()
        assert metadata['format'] == 'pt'
        meta = json.loads(metadata['mmpetl_meta'])
    model = runner.model
    assert meta['base_fingerprint'] == base_fingerprint(model)[0] and meta['iter'] == 2
    assert meta['petl']['backbone']['method'] == {'type': 'Fixed'} and meta['config'] == runner.cfg.pretty_text
    assert meta['mmpetl_delta'] == 1 and meta['mmpetl_version']

    delta = safe_load_checkpoint(path)
    assert is_delta(delta) and delta['meta'] == meta
    expected = model.state_dict()
    assert sorted(delta['state_dict']) == sorted(delta_keys(model))
    assert all(torch.equal(tensor, expected[name]) for name, tensor in delta['state_dict'].items())

    fresh = build_model(cfg)  # random weights until the delta's base is loaded by init_cfg
    load_delta(fresh, path)
    assert all(torch.equal(tensor, expected[name]) for name, tensor in fresh.state_dict().items())

    # as load_from in the Runner, through DeltaCheckpointHook
    test_cfg = cls_config(tmp_path, cfg.train_dataloader.dataset.data_root)
    test_cfg.load_from = path
    tester = Runner.from_cfg(test_cfg)
    tester.call_hook('before_run')  # as Runner.test(): SafeLoadingHook (mmpetl's runtime), then the load
    tester.load_or_resume()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in tester.model.state_dict().items())


def test_pth_deltas_still_load(trained, tmp_path):
    cfg, runner = trained
    delta = make_delta(runner.model, cfg, dict(iter=2))
    old = str(tmp_path / 'delta_iter_2.pth')
    save_checkpoint(delta, old)  # as DeltaCheckpointHook wrote deltas before safetensors
    assert torch.load(old, weights_only=True)['meta']['base_fingerprint'] == delta['meta']['base_fingerprint']
    fresh = build_model(cfg)
    load_delta(fresh, old)
    expected = runner.model.state_dict()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in fresh.state_dict().items())

    save_delta(delta, str(tmp_path / 'also.pth'))  # file_format='pth' writes this
    assert torch.load(str(tmp_path / 'also.pth'), weights_only=True)['meta'] == delta['meta']


def test_hook_refuses_an_unknown_file_format():
    with pytest.raises(ValueError, match="file_format must be one of safetensors, pth; got 'npz'"):
        DeltaCheckpointHook(file_format='npz')
