"""LoRand (Yin et al., CVPR 2023): adapters whose projections are sums of low-rank products (the definition of the
Mona reference code and V-PETL Bench).

Reference code read (not copied): github VisionXLab/STAR-MMRotate, ``mmrotate/models/backbones/swin_lorand.py``
(``Lorand_Multi``, ``Lorand``, ``SwinBlock.forward``); the Mona repository (github Leiyi-Hu/mona) has no LoRand file.
"""
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...registry import PETL_METHODS
from ..lean import bottleneck
from .base import BasePETLMethod, PETLModule, block_widths, v_petl_bench
from .options import check_choice, check_int

#: The initialisations of the LoRand projections' biases: ``'uniform'`` (the reference code) and ``'zeros'``.
BIAS_INITS = ('uniform', 'zeros')


class LoRandLinear(nn.Module):
    """A linear map whose weight is a sum of ``subspaces`` small products: ``W = sum_i A_i G_i B_i`` with shapes
    (in x rank)(rank x rank)(rank x out), plus a bias. Applied to (..., in) tokens.

    Each factor is drawn with ``kaiming_uniform_(a=sqrt(5))`` on its own 2-D matrix, as the reference's
    ``Lorand_Multi.__init__``. ``bias_init='uniform'`` draws the bias uniformly in ±1/sqrt(in_features), as the
    reference's ``Lorand_Multi.reset_parameters`` (the bound of PyTorch's ``nn.Linear``, with the fan-in of the summed
    weight, i.e. ``in_features``); ``bias_init='zeros'`` starts it at zero.
    """

    def __init__(self, in_features: int, out_features: int, subspaces: int = 4, rank: int = 8,
                 bias_init: str = 'uniform'):
        super().__init__()
        self.bias_init = bias_init
        self.A = nn.Parameter(torch.empty(subspaces, in_features, rank))
        self.G = nn.Parameter(torch.empty(subspaces, rank, rank))
        self.B = nn.Parameter(torch.empty(subspaces, rank, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self):
        for factor in (self.A, self.G, self.B):
            for i in range(factor.shape[0]):
                nn.init.kaiming_uniform_(factor.data[i], a=math.sqrt(5))
        if self.bias_init == 'zeros':
            nn.init.zeros_(self.bias)
        else:
            bound = 1 / math.sqrt(self.A.shape[1])
            nn.init.uniform_(self.bias, -bound, bound)

    def weight(self) -> Tensor:
        """The summed (in, out) weight ``sum_i A_i G_i B_i``."""
        return torch.einsum('sir,srq,sqo->io', self.A, self.G, self.B)

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight() + self.bias


class LoRandAdapter(PETLModule):
    """LoRand on a branch output h: ``h + up(GELU(down(h)))`` with C -> C/2 -> C LoRand projections."""

    def __init__(self, channels: int, subspaces: int = 4, rank: int = 8, bias_init: str = 'uniform'):
        super().__init__()
        self.down_proj = LoRandLinear(channels, channels // 2, subspaces, rank, bias_init)
        self.up_proj = LoRandLinear(channels // 2, channels, subspaces, rank, bias_init)

    @staticmethod
    def num_parameters(channels: int, subspaces: int = 4, rank: int = 8) -> int:
        hidden = channels // 2
        factors = subspaces * (channels * rank + rank * rank + rank * hidden) * 2
        return factors + hidden + channels

    def init_weights(self):
        self.down_proj.reset_parameters()
        self.up_proj.reset_parameters()

    #: Set by ``PETLBackbone(lean=...)`` (part ``'bottleneck'``): keep for backward h and the GELU's input only
    #: (:func:`~mmpetl.models.lean.bottleneck`; the same function).
    lean_bottleneck = False

    def forward(self, h: Tensor, x: Tensor, hw_shape) -> Tensor:
        down, up = self.down_proj, self.up_proj
        if self.lean_bottleneck:
            return h + bottleneck(h, down.weight(), down.bias, up.weight(), up.bias, right=True)
        return h + up(F.gelu(down(h)))


@PETL_METHODS.register_module()
class LoRand(BasePETLMethod):
    """LoRand adapters on the attention output and on the MLP output, after their drop-paths, before their residual
    adds.

    The definition of STAR-MMRotate (github VisionXLab/STAR-MMRotate, ``mmrotate/models/backbones/swin_lorand.py``),
    the only published LoRand code for these backbones: ``Lorand(embed_dims, 2)`` (C -> C/2 -> GELU -> C, 4 subspaces
    of rank 8, no dropout, plus the residual) on the output of mmcv's ``ShiftWindowMSA`` and ``FFN``, which apply
    their drop-path themselves, so LoRand sits after the drop-path (``SwinBlock.forward``), at the ``*_branch``
    points. ``bias_init='uniform'`` (default) reproduces its initialisation: the factors kaiming-uniform, each
    projection's bias uniform in ±1/sqrt(fan_in) (``Lorand_Multi.reset_parameters``; ``init_weights`` only touches
    ``nn.Linear`` modules, and LoRand's are not in the checkpoint). ``bias_init='zeros'``: zero biases (mmpetl's init
    at first). Neither starts as the identity.

    Args:
        subspaces (int): the number of summed products per projection (4).
        rank (int): their rank (8).
        bias_init (str): ``'uniform'`` (default, the reference) or ``'zeros'``.
    """
    reported = v_petl_bench('1.20 M / 51.0 / 43.9', '86.8 / 50.76')

    def __init__(self, subspaces: int = 4, rank: int = 8, bias_init: str = 'uniform'):
        super().__init__(name='lorand')
        self.subspaces = check_int(self, 'subspaces', subspaces, minimum=1)
        self.rank = check_int(self, 'rank', rank, minimum=1)
        self.bias_init = check_choice(self, 'bias_init', bias_init, BIAS_INITS)

    def attach_block(self, name, block, spec, index):
        channels = spec.channels(block)
        for point, suffix in (('attn_branch', 'attn'), ('mlp_branch', 'mlp')):
            self.add(block, point, suffix, LoRandAdapter(channels, self.subspaces, self.rank, self.bias_init))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """Two LoRand adapters per block (:meth:`LoRandAdapter.num_parameters`)."""
        options = cls.with_defaults(**options)
        return sum(2 * LoRandAdapter.num_parameters(c, options['subspaces'], options['rank'])
                   for c in block_widths(backbone))
