"""``RNGStateHook``: resumed runs draw the same random numbers as uninterrupted ones.

mmengine's checkpoints restore the weights, optimizer, schedulers and loop position, and an iteration-based loop
replays the data loader up to the resumed iteration, but not the random generators' states: after a resume the
dropout masks, drop paths, random flips and the proposals the R-CNN samplers draw (``torch.randperm``) differ from
those of an uninterrupted run, and so do the losses. This hook stores torch's, CUDA's, numpy's and python's states in
each training checkpoint and restores them when training resumes, at the point the uninterrupted run had them:

- iteration-based loops: right before the first resumed batch is fetched, after mmengine's replay of the data loader
  (the replay draws random numbers of its own, and a new epoch of the data loader draws a seed);
- epoch-based loops: at the start of the first resumed epoch, before its data loader iterator draws its seed.

Validation between the checkpoint and the next training step would draw random numbers in the uninterrupted run only
(a new data loader iterator draws a seed), so the hook also gives the generators back after each validation: the
training stream does not depend on when validation runs. With several processes each rank's states are gathered
(checkpoints are written by rank 0) and restored on the same rank; the world size must not change. Not covered: data
loader workers with ``persistent_workers=True`` in epoch-based loops (they restart with fresh states), and
randomness outside these generators (non-deterministic GPU kernels).
"""
import logging
import random

import numpy as np
import torch
from mmengine.dist import all_gather_object
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from ...registry import HOOKS


def get_rng_state() -> dict:
    """The states of torch's, CUDA's (if initialised), numpy's and python's generators (tensors and ints only, so
    that checkpoints stay loadable with ``weights_only=True``)."""
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = dict(torch=torch.get_rng_state(),
                 numpy=dict(keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos), has_gauss=int(has_gauss),
                            cached_gaussian=float(cached_gaussian)),
                 python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`get_rng_state` returned."""
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'].cpu())
    numpy = state['numpy']
    np.random.set_state(('MT19937', numpy['keys'].cpu().numpy().astype(np.uint32), numpy['pos'], numpy['has_gauss'],
                         numpy['cached_gaussian']))
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))


class _RestoreBeforeFetch:
    """Stands in for an iteration-based loop's data iterator until the first batch after the replay: restores the
    generators right before fetching it, then hands the loop its own iterator back."""

    def __init__(self, loop, replayed: int, state: dict):
        self.loop, self.iterator, self.replayed, self.state = loop, loop.dataloader_iterator, replayed, state

    def __iter__(self):
        return self

    def __next__(self):
        if self.replayed == 0:
            set_rng_state(self.state)
            self.loop.dataloader_iterator = self.iterator
        self.replayed -= 1
        return next(self.iterator)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Saves the generators' states in training checkpoints (``checkpoint['rng_state']``) and restores them on resume.

    Its priority (LOW) makes it capture the states after an iteration or epoch once the other hooks are done, but
    before mmengine's CheckpointHook (VERY_LOW) saves. Example::

        custom_hooks = [dict(type='mmpetl.RNGStateHook')]
    """
    priority = 'LOW'

    def __init__(self):
        self._captured = None
        self._pending = None
        self._before_val = None

    @staticmethod
    def _by_epoch(runner) -> bool:
        return isinstance(runner.train_loop, EpochBasedTrainLoop)

    def _capture(self, runner) -> None:
        # Checkpoints are written by rank 0 only: gather every rank's states now, while all ranks run this hook.
        state = get_rng_state()
        self._captured = all_gather_object(state) if runner.world_size > 1 else [state]

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._by_epoch(runner):
            self._capture(runner)

    def after_train_epoch(self, runner) -> None:
        if self._by_epoch(runner):
            self._capture(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = self._captured or [get_rng_state()]
        checkpoint['rng_state'] = dict(world_size=len(states), states=states)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('rng_state')
        if saved is None:
            return
        if saved['world_size'] != runner.world_size:
            print_log(f'The checkpoint holds the random states of {saved["world_size"]} processes, this run has '
                      f'{runner.world_size}: they are not restored, so the resumed run draws other random numbers.',
                      logger='current', level=logging.WARNING)
            return
        self._pending = saved['states'][runner.rank]

    def before_train(self, runner) -> None:
        # A checkpoint given as load_from (not resumed) starts a new run at iteration 0: nothing to continue.
        if self._pending is None or runner.iter == 0:
            self._pending = None
            return
        if self._by_epoch(runner):
            return  # restored by before_train_epoch
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):
            # mmengine 0.10's IterBasedTrainLoop.run() replays `iter` batches before the first resumed one.
            loop.dataloader_iterator = _RestoreBeforeFetch(loop, runner.iter, self._pending)
        else:  # a loop of another kind: now is the best guess
            set_rng_state(self._pending)
        self._pending = None

    def before_train_epoch(self, runner) -> None:
        if self._pending is not None:
            set_rng_state(self._pending)
            self._pending = None

    def before_val(self, runner) -> None:
        self._before_val = get_rng_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            set_rng_state(self._before_val)
            self._before_val = None
