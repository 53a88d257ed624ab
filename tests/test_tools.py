"""tools/: train.py and test.py on the demo config with a pretrained base (a delta checkpoint loads onto it), the
delta converters, every tool's --help, the scopes, and `mim train mmdet` with mmpetl installed.

The Python tools run in this process (runpy, as `python tools/<tool>.py ...`): a new interpreter would spend most of
the test importing the OpenMMLab stack again.
"""
import os
import os.path as osp
import pickle
import runpy
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import DEMO_CONFIG, ROOT
from mmpetl.engine import build_model, register_scope_modules
from mmpetl.models import build_petl_backbone
from mmpetl.models.delta import base_fingerprint, fold_lora, is_delta, load_delta, make_delta
from mmpetl.utils.checkpoint import safe_load_checkpoint

TOOLS = osp.join(ROOT, 'tools')
PYTHON_TOOLS = ['train.py', 'test.py', 'model_converters/extract_delta.py', 'model_converters/merge_delta.py']
SHELL_TOOLS = ['dist_train.sh', 'dist_test.sh', 'slurm_train.sh']


def write_demo_config(tmp_path, data_root, base=None, max_iters=2, extra=''):
    """A config file that inherits the demo config, reads ``data_root`` and loads the backbone's base from ``base``."""
    init = f"dict(_delete_=True, type='Pretrained', checkpoint='{base}')" if base else 'None'
    text = f'''_base_ = '{DEMO_CONFIG}'
data_root = '{data_root}'
model = dict(backbone=dict(backbone=dict(init_cfg={init}, convert_weights=False)))  # the file has mmdet's keys
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_iters={max_iters}, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval={max_iters}), logger=dict(interval=1))
randomness = dict(seed=0)
{extra}'''
    path = tmp_path / 'config.py'
    path.write_text(text)
    return str(path)


def write_demo_base(path):
    """A pretrained file for the demo's small Swin ('backbone.' keys, as mmdet's Swin wants them)."""
    backbone = Config.fromfile(DEMO_CONFIG).model.backbone.backbone
    torch.manual_seed(3)
    state_dict = build_petl_backbone(dict(backbone, init_cfg=None), dict(type='Fixed')).state_dict()
    torch.save({'state_dict': {'backbone.' + k: v for k, v in state_dict.items()}}, str(path))
    return str(path)


def run_tool(tool, *args):
    """``python tools/<tool> args`` in this process."""
    argv = sys.argv
    sys.argv = [osp.join(TOOLS, tool), *map(str, args)]
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    finally:
        sys.argv = argv


@pytest.fixture(scope='module')
def trained(toy_coco, tmp_path_factory):
    """tools/train.py on the demo config with a pretrained base: (config path, work dir)."""
    tmp = tmp_path_factory.mktemp('trained')
    config = write_demo_config(tmp, toy_coco, base=write_demo_base(tmp / 'base.pth'))
    work_dir = str(tmp / 'work_dir')
    run_tool('train.py', config, '--work-dir', work_dir)
    return config, work_dir


@pytest.mark.parametrize('tool', PYTHON_TOOLS + SHELL_TOOLS)
def test_every_tool_answers_help(tool):
    command = ['bash'] if tool.endswith('.sh') else [sys.executable]
    result = subprocess.run(command + [osp.join(TOOLS, tool), '--help'], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'usage' in result.stdout.lower() or tool.split('/')[-1] in result.stdout


@pytest.mark.parametrize('tool, args, message', [
    ('train.py', ['missing.py'], "config 'missing.py': no such file"),
    ('train.py', [DEMO_CONFIG, '--resume', 'missing.pth'], "--resume 'missing.pth': no such file"),
    ('test.py', [DEMO_CONFIG, 'missing.pth'], "checkpoint 'missing.pth': no such file"),
    ('model_converters/extract_delta.py', ['missing.py', 'missing.pth', 'out.pth'], "config 'missing.py': no such"),
    ('model_converters/merge_delta.py', [DEMO_CONFIG, 'missing.pth', 'out.pth'], "delta 'missing.pth': no such"),
])
def test_a_missing_input_file_is_named(tool, args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_tool(tool, *args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_unknown_scope_is_refused_with_the_choices():
    with pytest.raises(ValueError, match='mmdet, mmseg, mmpretrain, mmrotate'):
        register_scope_modules(Config(dict(default_scope='mmocr')))


def test_mmrotate_scope_registers_mmdet_too():
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmrotate.registry import MODELS as MMROTATE_MODELS
    assert register_scope_modules(Config(dict(default_scope='mmrotate'))) == 'mmrotate'
    assert 'RotatedRepPointsHead' in MMROTATE_MODELS.module_dict and 'FPN' in MMDET_MODELS.module_dict


def test_train_writes_the_report_the_delta_and_a_resumable_checkpoint(trained):
    _, work_dir = trained
    for name in ('param_report.json', 'delta_iter_2.safetensors', 'iter_2.pth'):
        assert osp.exists(osp.join(work_dir, name)), name
    delta = safe_load_checkpoint(osp.join(work_dir, 'delta_iter_2.safetensors'))
    assert is_delta(delta) and delta['meta']['petl']['backbone']['method']['type'] == 'Mona'
    delta_size = osp.getsize(osp.join(work_dir, 'delta_iter_2.safetensors'))
    assert delta_size < osp.getsize(osp.join(work_dir, 'iter_2.pth')) / 2


def test_test_tool_evaluates_a_delta_on_its_base(trained, tmp_path):
    config, work_dir = trained
    out = tmp_path / 'results.pkl'
    run_tool('test.py', config, osp.join(work_dir, 'delta_iter_2.safetensors'), '--work-dir', tmp_path, '--out', out)
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 2  # the toy val images, with predictions of the delta's model


def test_extract_delta_from_the_full_checkpoint_equals_the_hook_delta(trained, tmp_path):
    config, work_dir = trained
    out = tmp_path / 'extracted.pth'
    run_tool('model_converters/extract_delta.py', config, osp.join(work_dir, 'iter_2.pth'), out)
    extracted = torch.load(out, weights_only=True)
    saved = safe_load_checkpoint(osp.join(work_dir, 'delta_iter_2.safetensors'))
    assert extracted['meta']['base_fingerprint'] == saved['meta']['base_fingerprint']
    assert extracted['state_dict'].keys() == saved['state_dict'].keys()
    assert all(torch.equal(extracted['state_dict'][k], v) for k, v in saved['state_dict'].items())


def test_merge_delta_folds_lora_into_the_plain_upstream_model(toy_coco, tmp_path):
    config = write_demo_config(tmp_path, toy_coco, base=write_demo_base(tmp_path / 'base.pth'),
                               extra="model['backbone']['method'] = dict(_delete_=True, type='LoRA', rank=4)")
    cfg = Config.fromfile(config)
    petl = build_model(cfg)
    petl.init_weights()
    with torch.no_grad():  # LoRA's B starts at zero: give the updates values
        for name, param in petl.named_parameters():
            if '.lora.' in name:
                param.copy_(torch.randn_like(param) * 0.05)
    torch.save(make_delta(petl, cfg), tmp_path / 'delta.pth')

    merged, plain_config = tmp_path / 'merged.pth', tmp_path / 'plain.py'
    run_tool('model_converters/merge_delta.py', config, tmp_path / 'delta.pth', merged, '--fold-lora',
             '--plain-config', plain_config)
    plain = build_model(Config.fromfile(str(plain_config)))
    assert type(plain.backbone).__name__ == 'SwinTransformer'
    plain.load_state_dict(torch.load(merged, weights_only=True)['state_dict'], strict=True)
    x = torch.rand(1, 3, 128, 128)
    petl.eval(), plain.eval()
    with torch.no_grad():
        for ours, theirs in zip(petl.extract_feat(x), plain.extract_feat(x)):
            torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-5)

    reloaded = build_model(cfg)  # the delta also loads back onto its base through the pretrained init
    load_delta(reloaded, str(tmp_path / 'delta.pth'))
    assert base_fingerprint(reloaded) == base_fingerprint(petl)
    assert list(fold_lora(reloaded, reloaded.state_dict())) == list(plain.state_dict())


@pytest.mark.skipif(shutil.which('mim', path=osp.dirname(sys.executable)) is None, reason='openmim is not installed')
def test_mim_train_mmdet_runs_a_petl_config(toy_coco, tmp_path):
    config = write_demo_config(tmp_path, toy_coco, max_iters=1)
    env = dict(os.environ, OMP_NUM_THREADS='1', PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    result = subprocess.run(['mim', 'train', 'mmdet', config, '--work-dir', str(tmp_path / 'work_dir')],
                            cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # mmpetl's runtime hooks ran in mmdet's train.py
    assert osp.exists(tmp_path / 'work_dir' / 'delta_iter_1.safetensors')
