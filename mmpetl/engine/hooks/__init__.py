from .delta_checkpoint_hook import DeltaCheckpointHook
from .last_metrics_hook import LastMetricsHook
from .param_report_hook import ParameterReportHook
from .rng_state_hook import RNGStateHook

__all__ = ['DeltaCheckpointHook', 'LastMetricsHook', 'ParameterReportHook', 'RNGStateHook']
