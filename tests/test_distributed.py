"""A 2-process distributed training run on the CPU (gloo) through tools/dist_train.sh (torchrun).

The demo config (Cascade Mask R-CNN, small Swin + Mona, toy COCO) for 3 iterations: frozen backbone parameters under
DDP must raise no unused-parameter or reduction error (requires_grad is settled when the backbone is built, before
DDP wraps the model). Each rank records what it trained through a probe hook, so the test checks that both ranks
ran every iteration and that DDP kept their tuned parameters identical.
"""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

from conftest import ROOT
from test_tools import write_demo_config

PROBE = '''
import json
import os.path as osp

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankProbe(Hook):
    """Writes <out_dir>/rank<r>.json: the iterations this rank trained and checksums of its parameters."""

    def __init__(self, out_dir):
        self.out_dir, self.iterations = out_dir, []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iterations.append(runner.iter + 1)

    def after_train(self, runner):
        model = runner.model.module
        tuned = sum(float(p.double().sum()) for p in model.parameters() if p.requires_grad)
        frozen = sum(float(p.double().sum()) for p in model.parameters() if not p.requires_grad)
        with open(osp.join(self.out_dir, f'rank{runner.rank}.json'), 'w') as f:
            json.dump(dict(world_size=runner.world_size, wrapper=type(runner.model).__name__,
                           iterations=self.iterations, tuned=tuned, frozen=frozen), f)
'''


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_process_gloo_training_of_a_petl_detector(toy_coco, tmp_path):
    (tmp_path / 'rank_probe.py').write_text(PROBE)
    config = write_demo_config(tmp_path, toy_coco, max_iters=3, extra=(
        "custom_imports = dict(imports=['rank_probe'], allow_failed_imports=False)\n"
        f"custom_hooks = _base_.custom_hooks + [dict(type='RankProbe', out_dir='{tmp_path}')]"))
    work_dir = tmp_path / 'work_dir'
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run(
        ['bash', osp.join(ROOT, 'tools/dist_train.sh'), config, '2', '--work-dir', str(work_dir),
         '--cfg-options', 'env_cfg.dist_cfg.backend=gloo'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert 'unused parameters' not in output and 'finished reduction' not in output

    ranks = [json.load(open(tmp_path / f'rank{rank}.json')) for rank in (0, 1)]
    for report in ranks:
        assert report['world_size'] == 2 and report['wrapper'] == 'MMDistributedDataParallel'
        assert report['iterations'] == [1, 2, 3]
    assert ranks[0]['tuned'] == ranks[1]['tuned']  # gradients were all-reduced: the replicas stayed identical
    assert ranks[0]['frozen'] == ranks[1]['frozen']
    assert osp.exists(work_dir / 'iter_3.pth') and osp.exists(work_dir / 'delta_iter_3.safetensors')
