"""Houlsby adapters (Houlsby et al., 2019), and the bottleneck they share with AdaptFormer (``adaptformer.py``);
the definitions of the Mona reference code and V-PETL Bench."""
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor, nn

from ...registry import PETL_METHODS
from .base import BasePETLMethod, PETLModule, block_widths, v_petl_bench
from .options import check_int, check_probability


class Bottleneck(PETLModule):
    """``Linear(C -> r) -> GELU -> Dropout -> Linear(r -> C)`` on (B, N, C) tokens; the up-projection starts at zero,
    so an adapter built on it starts as the identity (Houlsby et al.; AdaptFormer). 2*r*C + r + C parameters."""

    def __init__(self, channels: int, bottleneck: int = 64, dropout: float = 0.1):
        super().__init__()
        self.down_proj = nn.Linear(channels, bottleneck)
        self.dropout = nn.Dropout(dropout)
        self.up_proj = nn.Linear(bottleneck, channels)
        self.init_weights()

    @staticmethod
    def num_parameters(channels: int, bottleneck: int = 64) -> int:
        return 2 * channels * bottleneck + bottleneck + channels

    def init_weights(self):
        trunc_normal_(self.down_proj.weight, std=0.02)
        nn.init.zeros_(self.down_proj.bias)
        nn.init.zeros_(self.up_proj.weight)
        nn.init.zeros_(self.up_proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.up_proj(self.dropout(F.gelu(self.down_proj(x))))


class SequentialAdapter(PETLModule):
    """Houlsby adapter on a branch output h (before the residual add): ``h + bottleneck(h)``."""

    def __init__(self, channels: int, bottleneck: int = 64, dropout: float = 0.1):
        super().__init__()
        self.bottleneck = Bottleneck(channels, bottleneck, dropout)

    def init_weights(self):
        self.bottleneck.init_weights()

    def forward(self, h: Tensor, x: Tensor, hw_shape) -> Tensor:
        return h + self.bottleneck(h)


@PETL_METHODS.register_module()
class Adapter(BasePETLMethod):
    """Houlsby adapters, sequential on the attention output and on the MLP output, before their residual adds."""
    identity_at_init = True
    reported = v_petl_bench('3.11 M / 50.9 / 43.8', '87.1 / 50.78')

    def __init__(self, bottleneck: int = 64, dropout: float = 0.1):
        super().__init__(name='adapter')
        self.bottleneck = check_int(self, 'bottleneck', bottleneck, minimum=1)
        self.dropout = check_probability(self, 'dropout', dropout)

    def attach_block(self, name, block, spec, index):
        channels = spec.channels(block)
        self.add(block, 'attn_branch', 'attn', SequentialAdapter(channels, self.bottleneck, self.dropout))
        self.add(block, 'mlp_branch', 'mlp', SequentialAdapter(channels, self.bottleneck, self.dropout))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """Two bottlenecks per block: ``2 * (2 * r * C + r + C)``."""
        bottleneck = cls.with_defaults(**options)['bottleneck']
        return sum(2 * Bottleneck.num_parameters(c, bottleneck) for c in block_widths(backbone))
