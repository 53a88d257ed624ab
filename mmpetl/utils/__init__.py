from .checkpoint import register_checkpoint_loader
from .params import count_parameters, format_parameter_summary, parameter_summary

__all__ = ['register_checkpoint_loader', 'count_parameters', 'format_parameter_summary', 'parameter_summary']
