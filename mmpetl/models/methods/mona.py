"""Mona: the multi-cognitive visual adapter (Yin et al., CVPR 2025).

Two adapters per block, each sequential on the residual stream, after the attention residual and after the MLP
residual::

    x = x + attn(norm1(x)); x = mona_attn(x)
    x = x + mlp(norm2(x));  x = mona_mlp(x)

Parameters per adapter: 133*C + 9728 for bottleneck 64 (see :meth:`MonaAdapter.num_parameters`); Swin-B: 3,667,456.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor, nn

from ...registry import PETL_METHODS
from .base import BasePETLMethod, PETLModule


class MonaConv(nn.Module):
    """The multi-cognitive convolution: depthwise 3x3, 5x5 and 7x7 averaged plus identity, then a 1x1 projector.

    Input and output: (B, C, H, W).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.dw3 = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.dw5 = nn.Conv2d(channels, channels, 5, padding=2, groups=channels)
        self.dw7 = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.projector = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = (self.dw3(x) + self.dw5(x) + self.dw7(x)) / 3.0 + x
        return x + self.projector(x)

    def reset_parameters(self) -> None:
        for conv in (self.dw3, self.dw5, self.dw7, self.projector):
            conv.reset_parameters()  # the reference keeps PyTorch's default conv init


class MonaAdapter(PETLModule):
    """One Mona adapter on a (B, N, C) token stream whose patch tokens lie on an (H, W) grid.

    ``x' = LayerNorm(x) * gamma + x * gammax`` (gamma = 1e-6, gammax = 1 at init, so x' ~ x), then
    down-projection C -> bottleneck, :class:`MonaConv` on the grid, GELU, dropout, up-projection, residual on ``x``.

    Args:
        channels (int): C.
        bottleneck (int): width of the adapter (64 in every reference config).
        dropout (float): dropout after the GELU.
    """

    def __init__(self, channels: int, bottleneck: int = 64, dropout: float = 0.1):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.gamma = nn.Parameter(torch.full((channels,), 1e-6))
        self.gammax = nn.Parameter(torch.ones(channels))
        self.down_proj = nn.Linear(channels, bottleneck)
        self.conv = MonaConv(bottleneck)
        self.dropout = nn.Dropout(dropout)
        self.up_proj = nn.Linear(bottleneck, channels)
        self.init_weights()

    @staticmethod
    def num_parameters(channels: int, bottleneck: int = 64) -> int:
        """Closed form of the parameter count: 133*C + 9728 for bottleneck 64."""
        norm_and_scales = 4 * channels
        projections = (channels * bottleneck + bottleneck) + (bottleneck * channels + channels)
        depthwise = bottleneck * (9 + 25 + 49) + 3 * bottleneck
        projector = bottleneck * bottleneck + bottleneck
        return norm_and_scales + projections + depthwise + projector

    def init_weights(self) -> None:
        nn.init.ones_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)
        nn.init.constant_(self.gamma, 1e-6)
        nn.init.ones_(self.gammax)
        for linear in (self.down_proj, self.up_proj):
            trunc_normal_(linear.weight, std=0.02)
            nn.init.zeros_(linear.bias)
        self.conv.reset_parameters()

    def forward(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        """x: (B, N, C) with N = P + H*W, where the first P tokens (a ViT's cls token; P = 0 in Swin) bypass the
        convolution path; hw_shape: (H, W). Returns (B, N, C)."""
        B, N, _ = x.shape
        H, W = hw_shape
        num_prefix = N - H * W
        if num_prefix < 0:
            raise ValueError(f'MonaAdapter: {N} tokens cannot hold the patch grid {H}x{W}')
        z = self.down_proj(self.norm(x) * self.gamma + x * self.gammax)
        prefix, patches = z[:, :num_prefix], z[:, num_prefix:]
        patches = self.conv(patches.transpose(1, 2).reshape(B, -1, H, W)).flatten(2).transpose(1, 2)
        z = torch.cat([prefix, patches], dim=1) if num_prefix else patches
        return x + self.up_proj(self.dropout(F.gelu(z)))


@PETL_METHODS.register_module()
class Mona(BasePETLMethod):
    """Mona after the attention and the MLP residual of every block.

    Args:
        bottleneck (int): adapter width (64).
        dropout (float): adapter dropout (0.1).
    """

    def __init__(self, bottleneck: int = 64, dropout: float = 0.1):
        super().__init__(name='mona')
        self.bottleneck = bottleneck
        self.dropout = dropout

    def attach_block(self, name, block, spec, index):
        channels = spec.channels(block)
        self.add(block, 'attn_residual', 'attn', MonaAdapter(channels, self.bottleneck, self.dropout))
        self.add(block, 'mlp_residual', 'mlp', MonaAdapter(channels, self.bottleneck, self.dropout))
