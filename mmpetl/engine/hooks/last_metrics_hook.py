"""Keep the metrics of the last validation, for a tool or a test that reads them after ``runner.train()``."""
from typing import Any, Dict

from mmengine.hooks import Hook

from ...registry import HOOKS


@HOOKS.register_module()
class LastMetricsHook(Hook):
    """Keeps the metrics of the last validation in :attr:`metrics` (empty until one has run)."""

    def __init__(self):
        self.metrics: Dict[str, Any] = {}

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = dict(metrics or {})
