"""AdaptFormer (Chen et al., NeurIPS 2022): a scaled bottleneck parallel to each block's MLP (the definition of the
Mona reference code and V-PETL Bench).

Reference code read (not copied): github Leiyi-Hu/mona, ``Swin-Transformer-Object-Detection/mmdet/models/backbones/
swin_transformer_adaptformer.py``, and github VisionXLab/STAR-MMRotate, ``mmrotate/models/backbones/
swin_adaptformer.py``.
"""
from torch import Tensor

from ...registry import PETL_METHODS
from .adapter import INITS, Bottleneck
from .base import BasePETLMethod, PETLModule, block_widths, v_petl_bench
from .options import check_choice, check_float, check_int, check_probability


class ParallelAdapter(PETLModule):
    """AdaptFormer beside the MLP: the MLP branch becomes ``mlp(norm2(x)) + scale * bottleneck(x)``."""

    def __init__(self, channels: int, bottleneck: int = 64, dropout: float = 0.1, scale: float = 0.1,
                 init: str = 'trunc_normal'):
        super().__init__()
        self.scale = scale
        self.bottleneck = Bottleneck(channels, bottleneck, dropout, init)

    def init_weights(self):
        self.bottleneck.init_weights()

    def forward(self, h: Tensor, x: Tensor, hw_shape) -> Tensor:
        return h + self.scale * self.bottleneck(x)


@PETL_METHODS.register_module()
class AdaptFormer(BasePETLMethod):
    """AdaptFormer: one bottleneck per block, parallel to the MLP, scaled by ``scale`` (0.1).

    As in both reference code bases, the bottleneck reads the stream after the attention residual and its output is
    added outside the MLP's drop-path (Mona repository ``SwinTransformerBlock.forward``:
    ``x = identity + drop_path(mlp(norm2(x))) + 0.1 * adapter(identity)``; STAR-MMRotate ``SwinBlock.forward``: the
    same with mmcv's ``FFN`` applying the drop-path), so it sits at the ``mlp_branch`` point, after the drop-path.

    ``init='trunc_normal'`` (default) reproduces the reference initialisation: the Mona repository's backbone
    ``init_weights`` gives every ``nn.Linear`` below it, the bottleneck's up-projection included, trunc-normal std 0.02
    and bias 0 before loading the checkpoint, so AdaptFormer does not start as the identity. ``init='identity'``
    starts the up-projection at zero (AdaptFormer's paper; mmpetl's first init).

    Args:
        bottleneck (int): r, the bottleneck width (64).
        dropout (float): dropout after the GELU (0.1).
        scale (float): the factor on the bottleneck's output (0.1).
        init (str): ``'trunc_normal'`` (default, the reference) or ``'identity'``.
    """
    reported = v_petl_bench('3.11 M / 51.4 / 44.5', '87.3 / 50.83')

    def __init__(self, bottleneck: int = 64, dropout: float = 0.1, scale: float = 0.1, init: str = 'trunc_normal'):
        super().__init__(name='adaptformer')
        self.bottleneck = check_int(self, 'bottleneck', bottleneck, minimum=1)
        self.dropout = check_probability(self, 'dropout', dropout)
        # 0 would silence the adapter (and its gradient) for good; the paper's scale is a positive factor.
        self.scale = check_float(self, 'scale', scale, low=0.0, low_inclusive=False)
        self.init = check_choice(self, 'init', init, INITS)

    @classmethod
    def is_identity_at_init(cls, **options):
        return cls.with_defaults(**options)['init'] == 'identity'

    def attach_block(self, name, block, spec, index):
        self.add(block, 'mlp_branch', 'mlp',
                 ParallelAdapter(spec.channels(block), self.bottleneck, self.dropout, self.scale, self.init))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """One bottleneck per block: ``2 * r * C + r + C``."""
        bottleneck = cls.with_defaults(**options)['bottleneck']
        return sum(Bottleneck.num_parameters(c, bottleneck) for c in block_widths(backbone))
