"""``mmpetl.PETLOptimWrapperConstructor``: mmengine's default optimizer constructor, with the frozen parameters left out
of the optimizer and reported in one line.

With a ``paramwise_cfg`` mmengine's constructor already leaves out the parameters with ``requires_grad=False``, but it
logs one warning per tensor ("... is skipped since its requires_grad=False"): hundreds of lines for a PETL backbone,
where freezing is the point. Without a ``paramwise_cfg`` it hands every parameter to the optimizer. This constructor
keeps mmengine's semantics for the parameters that train (``paramwise_cfg``: ``custom_keys``, decay and lr multipliers,
all unchanged), leaves the frozen ones out in both cases, and logs a single summary line instead.

Every mmpetl config selects it::

    optim_wrapper = dict(constructor='mmpetl.PETLOptimWrapperConstructor', optimizer=..., paramwise_cfg=...)
"""
import logging

from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS

SKIPPED = 'is skipped since its requires_grad=False'


class _CountSkipped(logging.Filter):
    """Drops mmengine's per-tensor "skipped" warnings and counts them."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if SKIPPED in str(record.getMessage()):
            self.count += 1
            return False
        return True


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PETLOptimWrapperConstructor(DefaultOptimWrapperConstructor):

    def __call__(self, model):
        module = model.module if hasattr(model, 'module') else model
        frozen = [p for p in module.parameters() if not p.requires_grad]
        if not self.paramwise_cfg and frozen:
            # mmengine would pass model.parameters(), frozen ones included; an empty custom_keys changes no group
            self.paramwise_cfg = dict(custom_keys={})
        logger = MMLogger.get_current_instance()
        counter = _CountSkipped()
        logger.addFilter(counter)
        for handler in logger.handlers:
            handler.addFilter(counter)
        try:
            optim_wrapper = super().__call__(model)
        finally:
            logger.removeFilter(counter)
            for handler in logger.handlers:
                handler.removeFilter(counter)
        if frozen:
            trained = [p for p in module.parameters() if p.requires_grad]
            print_log(f'Optimizer: {len(trained)} parameter tensors ({sum(p.numel() for p in trained):,} parameters) '
                      f'train; {len(frozen)} frozen tensors ({sum(p.numel() for p in frozen):,} parameters) are left '
                      'out of it.', logger='current')
        return optim_wrapper
