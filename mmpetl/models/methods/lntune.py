"""LN-tune: only the normalisation layers train (V-PETL Bench's definition)."""
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...registry import PETL_METHODS
from .base import SelectedUpstream, v_petl_bench

NORMS = (nn.LayerNorm, _BatchNorm, nn.GroupNorm)


@PETL_METHODS.register_module()
class LNTune(SelectedUpstream):
    """Only the normalisation layers of the backbone train (LayerNorm, BatchNorm, GroupNorm)."""
    identity_at_init = True
    reported = v_petl_bench('0.06 M / 48.0 / 41.4', '85.8 / 47.98')

    def __init__(self):
        super().__init__(name='lntune')

    def attach(self, backbone):
        for module in backbone.modules():
            if isinstance(module, NORMS):
                self.selected.update(id(p) for p in module.parameters(recurse=False))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """The parameters of the LayerNorm, BatchNorm and GroupNorm layers."""
        return sum(p.numel() for m in backbone.modules() if isinstance(m, NORMS) for p in m.parameters(recurse=False))
