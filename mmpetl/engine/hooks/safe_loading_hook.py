"""``SafeLoadingHook``: the runner loads ``load_from`` and the checkpoint it resumes from without running code from
them (mmpetl's safe loader)."""
import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log

from ...registry import HOOKS
from ...utils.checkpoint import safe_uri
from ..resume import find_resumable_checkpoint


@HOOKS.register_module()
class SafeLoadingHook(Hook):
    """Makes the runner load its checkpoint (``load_from``, or the one it resumes from) with
    :func:`mmpetl.utils.checkpoint.safe_load_checkpoint`: a file that holds a pickled object other than tensors and
    mmengine's training state is refused (:class:`~mmpetl.utils.checkpoint.UnsafeCheckpointError`), never unpickled;
    safetensors deltas load too; training checkpoints resume under torch >= 2.6 (mmengine#1655).

    mmengine's Runner loads the checkpoint right after ``before_run`` (``train()``, ``val()``, ``test()``), through
    mmengine's ``CheckpointLoader``, which picks the loader by the name's prefix. In ``before_run`` this hook gives the
    runner the name :func:`~mmpetl.utils.checkpoint.safe_uri` makes of it (``mmpetl-safe://<load_from>``), so that
    only this runner's load goes through mmpetl's loader. With ``resume=True`` and no ``load_from`` it first picks the
    newest complete checkpoint of the work directory (:func:`mmpetl.engine.resume.find_resumable_checkpoint`) where
    mmengine would read ``last_checkpoint``, which is not written atomically (see :class:`AtomicWritesHook`).

    The runner keeps both settings in private attributes (``_load_from``, ``_resume``): mmengine has no public way for
    a hook to change what the runner loads.

    Example::

        custom_hooks = [dict(type='mmpetl.SafeLoadingHook')]
    """
    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        if runner._resume and runner._load_from is None:
            runner._load_from = find_resumable_checkpoint(runner.work_dir)
            if runner._load_from is None:  # as mmengine without a checkpoint (and tools/train.py --resume)
                runner._resume = False
                print_log(f'resume=True, but no complete checkpoint in {runner.work_dir}: training starts from '
                          'scratch', logger='current', level=logging.WARNING)
            else:
                print_log(f'resume=True: resuming from {runner._load_from}, the newest complete checkpoint in '
                          f'{runner.work_dir}', logger='current')
        runner._load_from = safe_uri(runner._load_from)
