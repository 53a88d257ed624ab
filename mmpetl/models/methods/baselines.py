"""The baselines every PETL paper compares against (definitions of the Mona reference code and V-PETL Bench).

Selecting upstream parameters: :class:`Full`, :class:`Fixed`, :class:`BitFit`, :class:`LNTune`, :class:`Partial1`.
Inserting modules: :class:`Adapter` (Houlsby), :class:`AdaptFormer`, :class:`LoRand` (here) and LoRA (``lora.py``).
"""
import math
from typing import Set

import torch
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...registry import PETL_METHODS
from .base import BasePETLMethod, PETLModule
from .options import check_float, check_int, check_probability


@PETL_METHODS.register_module()
class Full(BasePETLMethod):
    """Full fine-tuning: every backbone parameter trains."""
    requires_blocks = False

    def __init__(self):
        super().__init__(name='full')

    def trains_upstream(self, name, param):
        return True


@PETL_METHODS.register_module()
class Fixed(BasePETLMethod):
    """The whole backbone frozen; only the neck and heads train ('fixed' in PETL papers)."""
    requires_trainable = False
    requires_blocks = False

    def __init__(self):
        super().__init__(name='fixed')


@PETL_METHODS.register_module()
class BitFit(BasePETLMethod):
    """Only the bias terms of the backbone train (those of the norms included)."""
    requires_blocks = False

    def __init__(self):
        super().__init__(name='bitfit')

    def trains_upstream(self, name, param):
        return name.rsplit('.', 1)[-1] == 'bias'


class _SelectedUpstream(BasePETLMethod):
    """A method that trains a set of upstream parameters chosen in :meth:`attach` (by identity, not by name)."""

    def __init__(self, name):
        super().__init__(name=name)
        self.selected: Set[int] = set()

    def trains_upstream(self, name, param):
        return id(param) in self.selected


@PETL_METHODS.register_module()
class LNTune(_SelectedUpstream):
    """Only the normalisation layers of the backbone train (LayerNorm, BatchNorm, GroupNorm)."""
    requires_blocks = False

    def __init__(self):
        super().__init__(name='lntune')

    def attach(self, backbone):
        for module in backbone.modules():
            if isinstance(module, (nn.LayerNorm, _BatchNorm, nn.GroupNorm)):
                self.selected.update(id(p) for p in module.parameters(recurse=False))


@PETL_METHODS.register_module()
class Partial1(_SelectedUpstream):
    """Only the last transformer block of the backbone trains (Swin: ``stages.3.blocks.1``; ViT-B: ``layers.11``)."""

    def __init__(self):
        super().__init__(name='partial1')

    def attach(self, backbone):
        *_, (_, last_block, _) = self.blocks(backbone)
        self.selected.update(id(p) for p in last_block.parameters())


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
class Adapter(BasePETLMethod):
    """Houlsby adapters, sequential on the attention output and on the MLP output, before their residual adds."""

    def __init__(self, bottleneck: int = 64, dropout: float = 0.1):
        super().__init__(name='adapter')
        self.bottleneck = check_int(self, 'bottleneck', bottleneck, minimum=1)
        self.dropout = check_probability(self, 'dropout', dropout)

    def attach_block(self, name, block, spec, index):
        channels = spec.channels(block)
        self.add(block, 'attn_branch', 'attn', SequentialAdapter(channels, self.bottleneck, self.dropout))
        self.add(block, 'mlp_branch', 'mlp', SequentialAdapter(channels, self.bottleneck, self.dropout))


@PETL_METHODS.register_module()
class AdaptFormer(BasePETLMethod):
    """AdaptFormer: one bottleneck per block, parallel to the MLP, scaled by ``scale`` (0.1)."""

    def __init__(self, bottleneck: int = 64, dropout: float = 0.1, scale: float = 0.1):
        super().__init__(name='adaptformer')
        self.bottleneck = check_int(self, 'bottleneck', bottleneck, minimum=1)
        self.dropout = check_probability(self, 'dropout', dropout)
        # 0 would silence the adapter (and its gradient) for good; the paper's scale is a positive factor.
        self.scale = check_float(self, 'scale', scale, low=0.0, low_inclusive=False)

    def attach_block(self, name, block, spec, index):
        self.add(block, 'mlp_branch', 'mlp',
                 ParallelAdapter(spec.channels(block), self.bottleneck, self.dropout, self.scale))


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

    def __init__(self, subspaces: int = 4, rank: int = 8):
        super().__init__(name='lorand')
        self.subspaces = check_int(self, 'subspaces', subspaces, minimum=1)
        self.rank = check_int(self, 'rank', rank, minimum=1)

    def attach_block(self, name, block, spec, index):
        channels = spec.channels(block)
        self.add(block, 'attn_branch', 'attn', LoRandAdapter(channels, self.subspaces, self.rank))
        self.add(block, 'mlp_branch', 'mlp', LoRandAdapter(channels, self.subspaces, self.rank))
