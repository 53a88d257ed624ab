"""AdaptFormer (Chen et al., NeurIPS 2022): a scaled bottleneck parallel to each block's MLP (the definition of the
Mona reference code and V-PETL Bench)."""
from torch import Tensor

from ...registry import PETL_METHODS
from .adapter import Bottleneck
from .base import BasePETLMethod, PETLModule, block_widths, v_petl_bench
from .options import check_float, check_int, check_probability


class ParallelAdapter(PETLModule):
    """AdaptFormer beside the MLP: the MLP branch becomes ``mlp(norm2(x)) + scale * bottleneck(x)``."""

    def __init__(self, channels: int, bottleneck: int = 64, dropout: float = 0.1, scale: float = 0.1):
        super().__init__()
        self.scale = scale
        self.bottleneck = Bottleneck(channels, bottleneck, dropout)

    def init_weights(self):
        self.bottleneck.init_weights()

    def forward(self, h: Tensor, x: Tensor, hw_shape) -> Tensor:
        return h + self.scale * self.bottleneck(x)


@PETL_METHODS.register_module()
class AdaptFormer(BasePETLMethod):
    """AdaptFormer: one bottleneck per block, parallel to the MLP, scaled by ``scale`` (0.1)."""
    identity_at_init = True
    reported = v_petl_bench('3.11 M / 51.4 / 44.5', '87.3 / 50.83')

    def __init__(self, bottleneck: int = 64, dropout: float = 0.1, scale: float = 0.1):
        super().__init__(name='adaptformer')
        self.bottleneck = check_int(self, 'bottleneck', bottleneck, minimum=1)
        self.dropout = check_probability(self, 'dropout', dropout)
        # 0 would silence the adapter (and its gradient) for good; the paper's scale is a positive factor.
        self.scale = check_float(self, 'scale', scale, low=0.0, low_inclusive=False)

    def attach_block(self, name, block, spec, index):
        self.add(block, 'mlp_branch', 'mlp',
                 ParallelAdapter(spec.channels(block), self.bottleneck, self.dropout, self.scale))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """One bottleneck per block: ``2 * r * C + r + C``."""
        bottleneck = cls.with_defaults(**options)['bottleneck']
        return sum(Bottleneck.num_parameters(c, bottleneck) for c in block_widths(backbone))
