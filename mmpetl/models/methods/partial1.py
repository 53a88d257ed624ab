"""Partial-1: only the last transformer block trains (V-PETL Bench's definition)."""
from ...registry import PETL_METHODS
from ..blocks import spec_for
from .base import SelectedUpstream, v_petl_bench


@PETL_METHODS.register_module()
class Partial1(SelectedUpstream):
    """Only the last transformer block of the backbone trains (Swin: ``stages.3.blocks.1``; ViT-B: ``layers.11``)."""
    identity_at_init = True
    reported = v_petl_bench('12.60 M / 49.2 / 42.8', '85.4 / 47.44')

    def __init__(self):
        super().__init__(name='partial1')

    def attach(self, backbone):
        *_, (_, last_block, _) = self.blocks(backbone)
        self.selected.update(id(p) for p in last_block.parameters())

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """The parameters of the last module that is a transformer block the core knows."""
        last = [module for module in backbone.modules() if spec_for(module) is not None][-1]
        return sum(p.numel() for p in last.parameters())
