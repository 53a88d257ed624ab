"""mmpetl's training machinery: hooks (registered in ``mmpetl.registry.HOOKS``, so configs name them
``type='mmpetl.<Hook>'``), the runner set-up shared by ``tools/``, atomic checkpoint writes and the choice of the
checkpoint to resume from.

Importing mmpetl (``mmpetl/__init__.py``) makes mmengine's writes to local files atomic (:mod:`.atomic_backend`):
``tools/train.py`` imports it before building the Runner, and a Runner does when it builds one of mmpetl's modules.
"""
from .atomic_backend import AtomicLocalBackend, register_atomic_local_backend
from .hooks import DeltaCheckpointHook, ParameterReportHook, RNGStateHook
from .optim_constructor import PETLOptimWrapperConstructor
from .runner_setup import (DELTA_HOOK_TYPES, SUPPORTED_SCOPES, build_model, load_config, load_runner_config,
                           register_scope_modules, setup_cpu_distributed)
from .resume import apply_auto_resume, checkpoint_problem, find_resumable_checkpoint

__all__ = [
    'DeltaCheckpointHook', 'ParameterReportHook', 'RNGStateHook', 'PETLOptimWrapperConstructor', 'SUPPORTED_SCOPES',
    'build_model',
    'register_scope_modules', 'setup_cpu_distributed', 'AtomicLocalBackend', 'register_atomic_local_backend',
    'apply_auto_resume', 'checkpoint_problem', 'find_resumable_checkpoint'
]
