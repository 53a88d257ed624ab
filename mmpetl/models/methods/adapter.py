"""Houlsby adapters (Houlsby et al., 2019), and the bottleneck they share with AdaptFormer (``adaptformer.py``);
the definitions of the Mona reference code and V-PETL Bench.

Reference code read (not copied): github Leiyi-Hu/mona, ``Swin-Transformer-Object-Detection/mmdet/models/backbones/
swin_transformer_adapter.py`` (the ``Adapter`` module, its placement in ``SwinTransformerBlock.forward``, the
backbone's ``init_weights``), and github VisionXLab/STAR-MMRotate, ``mmrotate/models/backbones/swin_adapter.py``.
"""
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor, nn

from ...registry import PETL_METHODS
from ..lean import bottleneck
from .base import BasePETLMethod, PETLModule, block_widths, v_petl_bench
from .options import check_choice, check_int, check_probability

#: The initialisations of the bottleneck: ``'trunc_normal'`` (the reference code) and ``'identity'``.
INITS = ('trunc_normal', 'identity')
#: Where the Houlsby adapter sits relative to the branch's drop-path, and the insertion point of each placement.
PLACEMENTS = {'before_drop_path': ('attn_pre_drop_path', 'mlp_pre_drop_path'),
              'after_drop_path': ('attn_branch', 'mlp_branch')}


class Bottleneck(PETLModule):
    """``Linear(C -> r) -> GELU -> Dropout -> Linear(r -> C)`` on (B, N, C) tokens. 2*r*C + r + C parameters.

    ``init='trunc_normal'`` (the reference code): both weights trunc-normal with std 0.02, both biases 0, as the
    reference backbone's ``init_weights`` leaves every ``nn.Linear`` below it (the adapters' included: they are not in
    the pretrained checkpoint loaded afterwards), so an adapter does not start as the identity.
    ``init='identity'`` (Houlsby et al.; AdaptFormer's paper): the up-projection starts at zero, so an adapter built on
    it starts as the identity.
    """

    def __init__(self, channels: int, bottleneck: int = 64, dropout: float = 0.1, init: str = 'trunc_normal'):
        super().__init__()
        self.init = init
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
        if self.init == 'identity':
            nn.init.zeros_(self.up_proj.weight)
        else:
            trunc_normal_(self.up_proj.weight, std=0.02)
        nn.init.zeros_(self.up_proj.bias)

    #: Set by ``PETLBackbone(lean=...)`` (part ``'bottleneck'``): keep for backward x, the GELU's input and the
    #: dropout mask only (:func:`~mmpetl.models.lean.bottleneck`; the same function).
    lean_bottleneck = False

    def forward(self, x: Tensor) -> Tensor:
        if self.lean_bottleneck:
            return bottleneck(x, self.down_proj.weight, self.down_proj.bias, self.up_proj.weight, self.up_proj.bias,
                              self.dropout.p if self.training else 0.0)
        return self.up_proj(self.dropout(F.gelu(self.down_proj(x))))


class SequentialAdapter(PETLModule):
    """Houlsby adapter on a branch output h (before the residual add): ``h + bottleneck(h)``."""

    def __init__(self, channels: int, bottleneck: int = 64, dropout: float = 0.1, init: str = 'trunc_normal'):
        super().__init__()
        self.bottleneck = Bottleneck(channels, bottleneck, dropout, init)

    def init_weights(self):
        self.bottleneck.init_weights()

    def forward(self, h: Tensor, x: Tensor, hw_shape) -> Tensor:
        return h + self.bottleneck(h)


@PETL_METHODS.register_module()
class Adapter(BasePETLMethod):
    """Houlsby adapters, sequential on the attention output and on the MLP output, before their drop-paths and
    residual adds.

    The defaults reproduce the Mona repository's adapter (github Leiyi-Hu/mona,
    ``Swin-Transformer-Object-Detection/mmdet/models/backbones/swin_transformer_adapter.py``), the code behind
    V-PETL Bench's and the Mona paper's Adapter figures:

    - ``placement='before_drop_path'``: ``SwinTransformerBlock.forward`` applies the adapter to the attention output
      and to the MLP output and then the block's drop-path to the adapter's output,
      ``x = shortcut + drop_path(adapter(attn_out))``: the adapter is dropped with the branch. mmpetl inserts it at
      the ``*_pre_drop_path`` points (``mmpetl/models/blocks.py``). ``'after_drop_path'`` is STAR-MMRotate's order
      (github VisionXLab/STAR-MMRotate, ``mmrotate/models/backbones/swin_adapter.py``, ``SwinBlock.forward``: the
      adapter runs on the output of mmcv's ``ShiftWindowMSA``/``FFN``, which apply their drop-path themselves), and
      mmpetl's first placement. The two agree in eval mode and with drop-path 0; they differ in training
      with drop-path > 0 (0.3 in the COCO configs).
    - ``init='trunc_normal'``: the reference backbone's ``init_weights`` gives every ``nn.Linear`` trunc-normal std
      0.02 and bias 0 before loading the checkpoint, the adapters' up-projections included, so the adapter does not
      start as the identity. ``init='identity'``: the up-projection starts at zero (Houlsby et al.; mmpetl's init
      at first). (STAR-MMRotate, loading a checkpoint, leaves the adapters at PyTorch's default ``nn.Linear``
      init: not the identity either; not offered.)

    As published, the Mona repository's file builds ``Adapter(dim, 2)`` against a one-argument constructor; the
    adapter read here is the one its ``Adapter`` class defines: ``Linear(C -> 64) -> GELU -> Dropout(0.1) ->
    Linear(64 -> C)`` plus the residual.

    Args:
        bottleneck (int): r, the bottleneck width (64).
        dropout (float): dropout after the GELU (0.1).
        init (str): ``'trunc_normal'`` (default, the reference) or ``'identity'``.
        placement (str): ``'before_drop_path'`` (default, the Mona repository) or ``'after_drop_path'`` (STAR-MMRotate).
    """
    reported = v_petl_bench('3.11 M / 50.9 / 43.8', '87.1 / 50.78')

    def __init__(self, bottleneck: int = 64, dropout: float = 0.1, init: str = 'trunc_normal',
                 placement: str = 'before_drop_path'):
        super().__init__(name='adapter')
        self.bottleneck = check_int(self, 'bottleneck', bottleneck, minimum=1)
        self.dropout = check_probability(self, 'dropout', dropout)
        self.init = check_choice(self, 'init', init, INITS)
        self.placement = check_choice(self, 'placement', placement, tuple(PLACEMENTS))

    @classmethod
    def is_identity_at_init(cls, **options):
        return cls.with_defaults(**options)['init'] == 'identity'

    def attach_block(self, name, block, spec, index):
        channels = spec.channels(block)
        attn_point, mlp_point = PLACEMENTS[self.placement]
        self.add(block, attn_point, 'attn', SequentialAdapter(channels, self.bottleneck, self.dropout, self.init))
        self.add(block, mlp_point, 'mlp', SequentialAdapter(channels, self.bottleneck, self.dropout, self.init))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """Two bottlenecks per block: ``2 * (2 * r * C + r + C)``."""
        bottleneck = cls.with_defaults(**options)['bottleneck']
        return sum(2 * Bottleneck.num_parameters(c, bottleneck) for c in block_widths(backbone))
