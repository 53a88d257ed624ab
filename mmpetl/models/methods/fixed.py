"""The frozen backbone, the lower baseline of every PETL paper (V-PETL Bench's definition)."""
from ...registry import PETL_METHODS
from .base import BasePETLMethod, v_petl_bench


@PETL_METHODS.register_module()
class Fixed(BasePETLMethod):
    """The whole backbone frozen; only the neck and heads train ('fixed' in PETL papers)."""
    requires_trainable = False
    identity_at_init = True
    reported = v_petl_bench('0 / 43.5 / 38.6', '83.6 / 46.84')

    def __init__(self):
        super().__init__(name='fixed')

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """Nothing."""
        return 0
