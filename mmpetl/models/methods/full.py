"""Full fine-tuning, the upper baseline of every PETL paper (V-PETL Bench's definition)."""
from ...registry import PETL_METHODS
from .base import BasePETLMethod, v_petl_bench


@PETL_METHODS.register_module()
class Full(BasePETLMethod):
    """Full fine-tuning: every backbone parameter trains."""
    identity_at_init = True
    reported = v_petl_bench('86.75 M / 51.9 / 45.0', '83.5 / 52.10')

    def __init__(self):
        super().__init__(name='full')

    def trains_upstream(self, name, param):
        return True

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """Every parameter of the backbone."""
        return sum(p.numel() for p in backbone.parameters())
