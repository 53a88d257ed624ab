"""BitFit (Ben Zaken et al., 2022): only the bias terms train (V-PETL Bench's definition)."""
from ...registry import PETL_METHODS
from .base import BasePETLMethod, v_petl_bench


@PETL_METHODS.register_module()
class BitFit(BasePETLMethod):
    """Only the bias terms of the backbone train (those of the norms included)."""
    requires_blocks = False
    identity_at_init = True
    reported = v_petl_bench('0.20 M / 47.9 / 41.9', '85.7 / 48.37')

    def __init__(self):
        super().__init__(name='bitfit')

    def trains_upstream(self, name, param):
        return name.rsplit('.', 1)[-1] == 'bias'

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """The parameters named ``bias``."""
        return sum(p.numel() for n, p in backbone.named_parameters() if n.rsplit('.', 1)[-1] == 'bias')
