"""``AtomicWritesHook``: the runner's training checkpoints are written atomically, never left truncated."""
from mmengine.hooks import CheckpointHook, Hook

from ...registry import HOOKS
from ...utils.atomic import atomic_backend_args


@HOOKS.register_module()
class AtomicWritesHook(Hook):
    """Makes each ``CheckpointHook`` of the runner write its checkpoints (``iter_<n>.pth``, ``epoch_<n>.pth``,
    ``best_*.pth``) atomically: a crash in the middle of a write leaves the previous file, never a truncated one.

    mmengine's way to choose how a ``CheckpointHook`` writes is its ``backend_args``, which it hands to
    ``Runner.save_checkpoint`` and ``get_file_backend``. This hook sets them, before the run, to
    :func:`mmpetl.utils.atomic.atomic_backend_args` (mmpetl's ``AtomicLocalBackend``) on each ``CheckpointHook`` that
    writes to a local folder with mmengine's defaults; one given ``backend_args`` or ``file_client_args`` in the config
    is left as it is. (The configs cannot set ``default_hooks.checkpoint.backend_args`` in
    ``configs/_base_/petl_runtime.py``: ``default_hooks`` come from the upstream base config, and mmengine refuses a
    key that two bases define.)

    Not covered: ``<work_dir>/last_checkpoint``, which ``CheckpointHook`` writes with the builtin ``open`` after each
    checkpoint. A crash during that write can leave it empty or cut short; ``tools/train.py --resume`` and
    :class:`SafeLoadingHook` do not rely on it (:mod:`mmpetl.engine.resume` tries the checkpoints by number too).

    Example::

        custom_hooks = [dict(type='mmpetl.AtomicWritesHook')]
    """
    priority = 'VERY_HIGH'  # before_run: before any hook's before_train, where CheckpointHook picks its backend

    def before_run(self, runner) -> None:
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or hook.backend_args is not None \
                    or hook.file_client_args is not None:
                continue
            hook.backend_args = atomic_backend_args(hook.out_dir or runner.work_dir)
