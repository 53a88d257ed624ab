"""Baselines that only choose which upstream parameters train."""
from ...registry import PETL_METHODS
from .base import BasePETLMethod


@PETL_METHODS.register_module()
class Fixed(BasePETLMethod):
    """The whole backbone frozen; only the neck and heads train ('fixed' in PETL papers)."""
    requires_trainable = False
    requires_blocks = False

    def __init__(self):
        super().__init__(name='fixed')
