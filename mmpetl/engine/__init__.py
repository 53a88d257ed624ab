"""mmpetl's training machinery: hooks (registered in ``mmpetl.registry.HOOKS``, so configs name them
``type='mmpetl.<Hook>'``) and the runner set-up shared by ``tools/``."""
from .hooks import DeltaCheckpointHook, ParameterReportHook, RNGStateHook
from .optim_constructor import PETLOptimWrapperConstructor
from .runner_setup import (DELTA_HOOK_TYPES, SUPPORTED_SCOPES, build_model, load_config, load_runner_config,
                           register_scope_modules, setup_cpu_distributed)

__all__ = [
    'DeltaCheckpointHook', 'ParameterReportHook', 'RNGStateHook', 'PETLOptimWrapperConstructor', 'SUPPORTED_SCOPES',
    'build_model',
    'register_scope_modules', 'setup_cpu_distributed'
]
