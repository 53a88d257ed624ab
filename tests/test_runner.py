"""The real Runner: training and validation through `Runner.from_cfg` on toy COCO data, with mmdet's CocoMetric."""
import math
import os.path as osp
import pickle

import pytest

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from conftest import demo_cfg


class SnapshotBeforeTrain(Hook):
    """Copies the parameters after the Runner's init_weights(), just before the first iteration."""

    def before_train(self, runner):
        self.params = {n: p.detach().clone() for n, p in runner.model.named_parameters()}


def test_one_training_iteration_and_one_validation(toy_coco, tmp_path):
    cfg = demo_cfg(toy_coco, str(tmp_path))
    cfg.train_cfg.max_iters = 1
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    runner = Runner.from_cfg(cfg)
    snapshot = SnapshotBeforeTrain()
    runner.register_hook(snapshot)
    runner.train()
    before = snapshot.params
    after = dict(runner.model.named_parameters())
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert any('.mona_' in n for n in changed)
    assert not [n for n in changed if n.startswith('backbone.') and '.mona_' not in n]

    metrics = runner.val()
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50'):
        assert isinstance(metrics[key], float) and math.isfinite(metrics[key]) and 0 <= metrics[key] <= 1, key

    # torch >= 2.6 refuses mmengine's training checkpoints with its default weights_only=True; resuming goes
    # through mmpetl's loader.
    ckpt = osp.join(str(tmp_path), 'iter_1.pth')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt, map_location='cpu')
    cfg.train_cfg.max_iters = 2
    cfg.resume = True
    cfg.load_from = ckpt
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == 2
