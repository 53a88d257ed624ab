"""Resume: training interrupted after its checkpoint and resumed continues exactly as an uninterrupted run.

The demo config (Cascade Mask R-CNN, tiny Swin + Mona, toy COCO, the runtime of configs/_base_/petl_runtime.py with
RNGStateHook) with ``randomness=dict(seed=0)``: dropout, drop path, random flips and the R-CNN samplers all draw random
numbers, and the resumed run must draw the same ones. Tolerance: the losses of the resumed iterations equal those of
the uninterrupted run within rtol 1e-5 / atol 1e-6 (on the CPU they are bit-identical; on GPUs non-deterministic
kernels may differ in the last digits).
"""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from conftest import demo_cfg

TOLERANCE = dict(rtol=1e-5, atol=1e-6)


class Interrupted(Exception):
    """Stands for a killed job."""


class RecordLosses(Hook):
    """Records the total loss of every training iteration: ``{iteration (1-based): loss}``."""

    def __init__(self):
        self.losses = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses[runner.iter + 1] = float(outputs['loss'])


class InterruptAfter(Hook):
    """Raises after iteration/epoch ``n``, once CheckpointHook (priority VERY_LOW) has saved it."""
    priority = 'LOWEST'

    def __init__(self, n, by_epoch):
        self.n, self.by_epoch = n, by_epoch

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.by_epoch and runner.iter + 1 == self.n:
            raise Interrupted

    def after_train_epoch(self, runner):
        if self.by_epoch and runner.epoch + 1 == self.n:
            raise Interrupted


def resume_cfg(toy_coco, work_dir, by_epoch):
    """4 iterations, a checkpoint after 2: as 4 iterations, or as 2 epochs of the 4 toy images in batches of 2."""
    cfg = demo_cfg(toy_coco, str(work_dir))
    cfg.randomness = dict(seed=0)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.train_dataloader.batch_size = 2
    if by_epoch:
        cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=10)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=True, interval=1)
    else:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=10)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    assert any(hook['type'] == 'mmpetl.RNGStateHook' for hook in cfg.custom_hooks)
    return cfg


def train(cfg, *hooks):
    runner = Runner.from_cfg(cfg)
    for hook in hooks:
        runner.register_hook(hook)
    runner.train()
    return runner


@pytest.mark.parametrize('by_epoch', [False, True], ids=['iter-based', 'epoch-based'])
def test_resumed_run_continues_as_the_uninterrupted_one(toy_coco, tmp_path, by_epoch):
    uninterrupted = RecordLosses()
    train(resume_cfg(toy_coco, tmp_path / 'uninterrupted', by_epoch), uninterrupted)
    assert sorted(uninterrupted.losses) == [1, 2, 3, 4]

    cfg = resume_cfg(toy_coco, tmp_path / 'interrupted', by_epoch)
    before = RecordLosses()
    with pytest.raises(Interrupted):
        train(cfg, before, InterruptAfter(1 if by_epoch else 2, by_epoch))
    # from the newest complete checkpoint in the work directory, as `tools/train.py --resume` (SafeLoadingHook of
    # mmpetl's runtime; mmengine alone would read last_checkpoint and load it with torch's defaults)
    cfg.resume = True
    after = RecordLosses()
    runner = train(cfg, after)

    assert runner.iter == 4 and sorted(before.losses) == [1, 2] and sorted(after.losses) == [3, 4]
    resumed = torch.tensor([before.losses[1], before.losses[2], after.losses[3], after.losses[4]])
    expected = torch.tensor([uninterrupted.losses[i] for i in (1, 2, 3, 4)])
    torch.testing.assert_close(resumed, expected, **TOLERANCE)
