"""LoRA on the query and value parts of each block's fused qkv projection (Hu et al., 2022).

``qkv(x) + scaling * [B_q A_q x, 0, B_v A_v x]`` with A kaiming-uniform and B zero (the block starts as the frozen
one), rank 64 and ``scaling = alpha / rank`` with alpha 1 (the Mona reference baseline). The low-rank factors are a
child ``lora`` of the ``qkv`` Linear, at its ``'output'`` insertion point (``BasePETLMethod.add``; a forward hook of
the core applies it to the projection's output): the projection keeps its parameter names
(``attn.w_msa.qkv.weight``) and gains ``attn.w_msa.qkv.lora.q_down.weight``, ... Parameters per block: 4 * rank * C.
"""
import math
from typing import Optional

import torch
from torch import Tensor, nn

from ...registry import PETL_METHODS
from ..blocks import OUTPUT_POINT, upstream_class
from .base import BasePETLMethod, PETLModule, block_widths, v_petl_bench
from .options import check_float, check_int


class LoRAQV(PETLModule):
    """The low-rank updates of the q and v thirds of a fused (C -> 3C) qkv projection."""
    can_fold = True  # a linear update: see fold()

    def __init__(self, channels: int, rank: int = 64, alpha: float = 1.0):
        super().__init__()
        self.scaling = alpha / rank
        self.q_down = nn.Linear(channels, rank, bias=False)
        self.q_up = nn.Linear(rank, channels, bias=False)
        self.v_down = nn.Linear(channels, rank, bias=False)
        self.v_up = nn.Linear(rank, channels, bias=False)
        self.init_weights()

    @staticmethod
    def num_parameters(channels: int, rank: int = 64) -> int:
        return 4 * rank * channels

    def init_weights(self):
        for down, up in ((self.q_down, self.q_up), (self.v_down, self.v_up)):
            nn.init.kaiming_uniform_(down.weight, a=math.sqrt(5))
            nn.init.zeros_(up.weight)

    def forward(self, qkv_out: Tensor, x: Tensor) -> Tensor:
        """At the output of the qkv Linear: its (..., 3C) output ``qkv_out`` plus the q and v updates computed from its
        (..., C) input ``x``; (..., 3C)."""
        q, k, v = qkv_out.chunk(3, dim=-1)
        q = q + self.scaling * self.q_up(self.q_down(x))
        v = v + self.scaling * self.v_up(self.v_down(x))
        return torch.cat((q, k, v), dim=-1)

    def low_rank_factors(self):
        """``((q_down, q_up, v_down, v_up) weights, scaling)``: the update as the lean window attention computes it
        (:class:`~mmpetl.models.lean.WindowQKVAttention`, the same operations as :meth:`forward`)."""
        return (self.q_down.weight, self.q_up.weight, self.v_down.weight, self.v_up.weight), self.scaling

    def fold(self, name: str, state_dict: dict) -> None:
        """``W_q += scaling * B_q A_q`` and ``W_v += scaling * B_v A_v`` on the q and v thirds of the parent qkv weight
        (``name`` is ``<qkv>.lora``), computed in float64 from the tensors in ``state_dict``: the update is linear, so
        this is exact up to float rounding."""
        qkv = name.rsplit('.', 1)[0]
        weight = state_dict[f'{qkv}.weight']
        channels = weight.shape[1]
        update = torch.zeros(weight.shape, dtype=torch.float64)
        for third, down, up in ((0, 'q_down', 'q_up'), (2, 'v_down', 'v_up')):
            product = state_dict[f'{name}.{up}.weight'].double() @ state_dict[f'{name}.{down}.weight'].double()
            update[third * channels:(third + 1) * channels] = self.scaling * product
        state_dict[f'{qkv}.weight'] = (weight.double() + update).to(weight.dtype)


def find_qkv(block: nn.Module) -> Optional[nn.Linear]:
    """The fused qkv nn.Linear (C -> 3C) of a block's attention, called as a module (so that a hook sees it)."""
    for name, module in block.named_modules():
        if name.split('.')[-1] == 'qkv' and isinstance(module, nn.Linear) \
                and module.out_features == 3 * module.in_features:
            return module
    return None


@PETL_METHODS.register_module()
class LoRA(BasePETLMethod):
    """LoRA on q and v of every block's fused qkv projection.

    Args:
        rank (int): 64. alpha (float): 1 (scaling alpha / rank).
    """
    identity_at_init = True
    # Not mmseg's VisionTransformer: its attention is torch's nn.MultiheadAttention, without a fused qkv nn.Linear.
    supported_backbones = ('mmdet.SwinTransformer', 'mmseg.SwinTransformer', 'mmpretrain.SwinTransformer',
                           'mmpretrain.VisionTransformer')
    reported = v_petl_bench('3.03 M / 51.2 / 44.3', '87.5 / 50.34')

    def __init__(self, rank: int = 64, alpha: float = 1.0):
        super().__init__(name='lora')
        self.rank = check_int(self, 'rank', rank, minimum=1)  # scaling = alpha / rank
        # alpha = 0 would zero the update and its gradient for good: a positive factor, as in the paper.
        self.alpha = check_float(self, 'alpha', alpha, low=0.0, low_inclusive=False)

    def attach_block(self, name, block, spec, index):
        qkv = find_qkv(block)
        if qkv is None:
            raise ValueError(f'LoRA needs a fused qkv nn.Linear in each attention; block {name!r} '
                             f'({upstream_class(block).__name__}) has none (mmseg.VisionTransformer uses torch\'s '
                             'nn.MultiheadAttention). Use mmpretrain.VisionTransformer, or a Swin.')
        # Named `lora`, without a suffix: `...qkv.lora.q_down.weight`, the keys of LoRA checkpoints.
        self.add(qkv, OUTPUT_POINT, None, LoRAQV(qkv.in_features, self.rank, self.alpha))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """The q and v updates of every block: ``4 * rank * C``."""
        rank = cls.with_defaults(**options)['rank']
        return sum(LoRAQV.num_parameters(c, rank) for c in block_widths(backbone))
