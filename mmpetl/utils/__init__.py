from .checkpoint import UnsafeCheckpointError, safe_load_checkpoint, safe_uri
from .params import count_parameters, format_parameter_summary, parameter_summary

__all__ = ['UnsafeCheckpointError', 'safe_load_checkpoint', 'safe_uri', 'count_parameters', 'format_parameter_summary',
           'parameter_summary']
