"""``DeltaCheckpointHook``: save only what a PETL run tuned, and load such deltas onto the frozen base."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from ...registry import HOOKS
from ...models.delta import human_size, is_delta, load_delta, make_delta, petl_backbones, save_delta

#: The values of ``file_format``, which are also the file names' extensions.
FILE_FORMATS = ('safetensors', 'pth')


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class DeltaCheckpointHook(Hook):
    """Saves delta checkpoints during training; loads a delta given as ``load_from`` (tools/test.py, mim test).

    A delta holds only the tensors the run tuned, with the method configs and a fingerprint of the frozen base
    (:mod:`mmpetl.models.delta`; the format: ``docs/checkpoints.md``, "Delta checkpoints"). It is for storage and
    distribution: resuming needs mmengine's full checkpoints (``CheckpointHook``: optimizer, schedulers, message hub),
    which this hook leaves alone.

    Saving: ``<out_dir>/delta_iter_<n>.safetensors`` (iteration-based loops) or ``delta_epoch_<n>.safetensors``, at
    the end of training and every ``interval`` iterations/epochs when ``interval > 0``. safetensors is the default
    because it holds tensors and a JSON header only, so whoever loads a shared delta runs no pickle;
    ``file_format='pth'`` writes the ``torch.save`` files of earlier versions (``delta_iter_<n>.pth``). Both load.

    Loading: when the runner loads a checkpoint (``load_from``) that is a delta, the hook checks the model's frozen
    base against the delta's fingerprint; if it does not match yet (a model built for testing has random weights),
    it initialises the PETL backbones first (their ``init_cfg`` loads the pretrained base) and checks again. A
    mismatch raises :class:`mmpetl.models.delta.DeltaBaseMismatch` unless ``force_load``. Then it hands the runner
    the complete state dict, so that the runner's own load is complete too.

    Args:
        interval (int): also save every ``interval`` epochs or iterations (the train loop's unit); -1: only at the end.
        out_dir (str, optional): where to save; default: the work directory.
        force_load (bool): load a delta whose base fingerprint differs (with a warning).
        file_format (str): ``'safetensors'`` (default) or ``'pth'``.

    Example::

        custom_hooks = [dict(type='mmpetl.DeltaCheckpointHook', interval=-1)]
    """
    priority = 'VERY_LOW'

    def __init__(self, interval: int = -1, out_dir: Optional[str] = None, force_load: bool = False,
                 file_format: str = 'safetensors'):
        if not isinstance(interval, int) or interval == 0 or interval < -1:
            raise ValueError(f'DeltaCheckpointHook: interval must be -1 (only at the end) or > 0; got {interval!r}')
        if file_format not in FILE_FORMATS:
            raise ValueError(f'DeltaCheckpointHook: file_format must be one of {", ".join(FILE_FORMATS)}; got '
                             f'{file_format!r}')
        self.file_format = file_format
        self.interval = interval
        self.out_dir = out_dir
        self.force_load = force_load
        self._saved_tag = None

    def before_train(self, runner) -> None:
        if not petl_backbones(_unwrap(runner.model)):
            raise ValueError('DeltaCheckpointHook: the model has no mmpetl.PETLBackbone, so there is no frozen base to '
                             'store a delta against; remove the hook from custom_hooks (or use a PETL backbone).')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._by_epoch(runner) and self.every_n_train_iters(runner, self.interval):
            self._save(runner, f'iter_{runner.iter + 1}', epoch=runner.epoch, iteration=runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if self._by_epoch(runner) and self.every_n_epochs(runner, self.interval):
            self._save(runner, f'epoch_{runner.epoch + 1}', epoch=runner.epoch + 1, iteration=runner.iter)

    def after_train(self, runner) -> None:
        tag = f'epoch_{runner.epoch}' if self._by_epoch(runner) else f'iter_{runner.iter}'
        if tag != self._saved_tag:
            self._save(runner, tag, epoch=runner.epoch, iteration=runner.iter)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not is_delta(checkpoint):
            return
        if getattr(runner, '_resume', False):  # mmengine keeps the `resume` flag private
            raise ValueError('Cannot resume from a delta checkpoint: it holds no optimizer, scheduler or loop state. '
                             'Resume from the full checkpoint of mmengine\'s CheckpointHook (iter_<n>.pth / '
                             'epoch_<n>.pth in the work directory); to fine-tune from a delta, give it as load_from '
                             'without resume.')
        model = _unwrap(runner.model)
        load_delta(model, checkpoint, force=self.force_load)
        checkpoint['state_dict'] = model.state_dict()

    @staticmethod
    def _by_epoch(runner) -> bool:
        return isinstance(runner.train_loop, EpochBasedTrainLoop)

    def _save(self, runner, tag: str, epoch: int, iteration: int) -> None:
        self._saved_tag = tag
        if not is_main_process():
            return
        model = _unwrap(runner.model)
        meta = dict(epoch=epoch, iter=iteration)
        dataset_meta = getattr(runner.train_dataloader.dataset, 'metainfo', None)
        if dataset_meta is not None:
            meta['dataset_meta'] = dataset_meta
        delta = make_delta(model, runner.cfg, meta)
        path = osp.join(self.out_dir or runner.work_dir, f'delta_{tag}.{self.file_format}')
        save_delta(delta, path)
        full = sum(t.numel() * t.element_size() for t in model.state_dict().values())
        runner.logger.info(f'Saved the delta checkpoint {path}: {len(delta["state_dict"])} tuned tensors, '
                           f'{human_size(osp.getsize(path))} (the whole model: {human_size(full)})')
