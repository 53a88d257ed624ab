from .atomic_writes_hook import AtomicWritesHook
from .delta_checkpoint_hook import DeltaCheckpointHook
from .last_metrics_hook import LastMetricsHook
from .param_report_hook import ParameterReportHook
from .petl_loss_hook import PETLLossHook
from .rng_state_hook import RNGStateHook
from .safe_loading_hook import SafeLoadingHook

__all__ = [
    'AtomicWritesHook', 'DeltaCheckpointHook', 'LastMetricsHook', 'ParameterReportHook', 'PETLLossHook', 'RNGStateHook',
    'SafeLoadingHook'
]
