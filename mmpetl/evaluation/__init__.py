"""mmpetl's metrics, registered in ``mmpetl.registry.METRICS`` (configs name them ``type='mmpetl.<Metric>'``).

This package imports mmrotate: mmengine imports it when a config names one of its metrics (the registry's
``locations``); ``import mmpetl`` does not.
"""
from .merged_dota_metric import MergedDOTAMetric

__all__ = ['MergedDOTAMetric']
