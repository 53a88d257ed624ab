"""BitFit (Ben Zaken et al., 2022), as the reference code of V-PETL Bench's Swin figures defines it: every backbone
parameter whose name contains ``bias`` trains."""
from ...registry import PETL_METHODS
from .base import BasePETLMethod, v_petl_bench
from .options import check_choice

#: ``scope`` -> which upstream parameter names train.
SCOPES = {
    'bias_in_name': lambda name: 'bias' in name,
    'bias_only': lambda name: name.rsplit('.', 1)[-1] == 'bias',
}


@PETL_METHODS.register_module()
class BitFit(BasePETLMethod):
    """Every backbone parameter whose name contains ``bias`` trains: the biases (the norms' included) and Swin's
    relative position bias tables; ``scope='bias_only'``: the biases alone.

    The default, ``scope='bias_in_name'``, is the rule of the reference code that produced V-PETL Bench's BitFit
    figures (0.20 M on Swin-B): the Mona repository (github Leiyi-Hu/mona,
    ``Swin-Transformer-Object-Detection/mmdet/models/backbones/swin_transformer_bitfit.py``, ``init_weights``: every
    parameter whose name does not contain ``bias`` is frozen; the same in its mmseg and mmcls copies and in
    VisionXLab/STAR-MMRotate ``mmrotate/models/backbones/swin_bitfit.py``). On a Swin this also trains each
    attention's ``relative_position_bias_table``: 201,656 parameters on Swin-B. On a plain ViT (no such tables) the two
    scopes train the same parameters.

    ``scope='bias_only'`` trains only the parameters named ``bias`` (BitFit in the strict sense, and what mmpetl
    trained at first): 138,112 on Swin-B.

    Args:
        scope (str): ``'bias_in_name'`` (default, the reference) or ``'bias_only'``.
    """
    identity_at_init = True
    reported = v_petl_bench('0.20 M / 47.9 / 41.9', '85.7 / 48.37')

    def __init__(self, scope: str = 'bias_in_name'):
        super().__init__(name='bitfit')
        self.scope = check_choice(self, 'scope', scope, tuple(SCOPES))
        self._selects = SCOPES[scope]

    def trains_upstream(self, name, param):
        return self._selects(name)

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """``scope='bias_in_name'``: the parameters whose name contains ``bias``; ``'bias_only'``: those named
        ``bias``."""
        selects = SCOPES[cls.with_defaults(**options)['scope']]
        return sum(p.numel() for n, p in backbone.named_parameters() if selects(n))
