"""LoRand (Yin et al., CVPR 2023): adapters whose projections are sums of low-rank products (the definition of the
Mona reference code and V-PETL Bench)."""
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...registry import PETL_METHODS
from .base import BasePETLMethod, PETLModule, block_widths, v_petl_bench
from .options import check_int


class LoRandLinear(nn.Module):
    """A linear map whose weight is a sum of ``subspaces`` small products: ``W = sum_i A_i G_i B_i`` with shapes
    (in x rank)(rank x rank)(rank x out), plus a bias. Applied to (..., in) tokens."""

    def __init__(self, in_features: int, out_features: int, subspaces: int = 4, rank: int = 8):
        super().__init__()
        self.A = nn.Parameter(torch.empty(subspaces, in_features, rank))
        self.G = nn.Parameter(torch.empty(subspaces, rank, rank))
        self.B = nn.Parameter(torch.empty(subspaces, rank, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self):
        for factor in (self.A, self.G, self.B):
            for i in range(factor.shape[0]):
                nn.init.kaiming_uniform_(factor.data[i], a=math.sqrt(5))
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        weight = torch.einsum('sir,srq,sqo->io', self.A, self.G, self.B)
        return x @ weight + self.bias


class LoRandAdapter(PETLModule):
    """LoRand on a branch output h: ``h + up(GELU(down(h)))`` with C -> C/2 -> C LoRand projections."""

    def __init__(self, channels: int, subspaces: int = 4, rank: int = 8):
        super().__init__()
        self.down_proj = LoRandLinear(channels, channels // 2, subspaces, rank)
        self.up_proj = LoRandLinear(channels // 2, channels, subspaces, rank)

    @staticmethod
    def num_parameters(channels: int, subspaces: int = 4, rank: int = 8) -> int:
        hidden = channels // 2
        factors = subspaces * (channels * rank + rank * rank + rank * hidden) * 2
        return factors + hidden + channels

    def init_weights(self):
        self.down_proj.reset_parameters()
        self.up_proj.reset_parameters()

    def forward(self, h: Tensor, x: Tensor, hw_shape) -> Tensor:
        return h + self.up_proj(F.gelu(self.down_proj(h)))


@PETL_METHODS.register_module()
class LoRand(BasePETLMethod):
    """LoRand adapters on the attention output and on the MLP output, before their residual adds."""
    reported = v_petl_bench('1.20 M / 51.0 / 43.9', '86.8 / 50.76')

    def __init__(self, subspaces: int = 4, rank: int = 8):
        super().__init__(name='lorand')
        self.subspaces = check_int(self, 'subspaces', subspaces, minimum=1)
        self.rank = check_int(self, 'rank', rank, minimum=1)

    def attach_block(self, name, block, spec, index):
        channels = spec.channels(block)
        self.add(block, 'attn_branch', 'attn', LoRandAdapter(channels, self.subspaces, self.rank))
        self.add(block, 'mlp_branch', 'mlp', LoRandAdapter(channels, self.subspaces, self.rank))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """Two LoRand adapters per block (:meth:`LoRandAdapter.num_parameters`)."""
        options = cls.with_defaults(**options)
        return sum(2 * LoRandAdapter.num_parameters(c, options['subspaces'], options['rank'])
                   for c in block_widths(backbone))
