"""mmpetl's training machinery: hooks (registered in ``mmpetl.registry.HOOKS``, so configs name them
``type='mmpetl.<Hook>'``), the runner set-up shared by ``tools/``, and the choice of the checkpoint to resume from.

Atomic checkpoint writes and safe checkpoint loading are hooks of the runner that a config names
(:class:`AtomicWritesHook`, :class:`SafeLoadingHook`; ``configs/_base_/petl_runtime.py`` has both): importing this
package changes nothing in mmengine.
"""
from .hooks import (AtomicWritesHook, DeltaCheckpointHook, ParameterReportHook, PETLLossHook, RNGStateHook,
                    SafeLoadingHook)
from .optim_constructor import PETLOptimWrapperConstructor
from .runner_setup import (DELTA_HOOK_TYPES, SUPPORTED_SCOPES, amp_without_cuda, build_model, load_config,
                           load_runner_config, register_scope_modules, setup_cpu_distributed)
from .resume import apply_auto_resume, checkpoint_problem, find_resumable_checkpoint

__all__ = [
    'AtomicWritesHook', 'DeltaCheckpointHook', 'ParameterReportHook', 'PETLLossHook', 'RNGStateHook', 'SafeLoadingHook',
    'PETLOptimWrapperConstructor', 'SUPPORTED_SCOPES', 'amp_without_cuda', 'build_model', 'register_scope_modules',
    'setup_cpu_distributed', 'apply_auto_resume', 'checkpoint_problem', 'find_resumable_checkpoint'
]
