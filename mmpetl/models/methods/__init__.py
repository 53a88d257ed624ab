from .adapter import Adapter, Bottleneck
from .adaptformer import AdaptFormer
from .base import REPORTED_COLUMNS, BasePETLMethod, PETLModule, Reported
from .bitfit import BitFit
from .colin import CoLin, CoLinAdapter
from .e3va import E3VA, E3VAAdapter, E3VANorm, E3VAStreamTap
from .fixed import Fixed
from .full import Full
from .hst import HST, HSTMetaToken, HSTTap
from .hst_side import HSTSideNetwork
from .lntune import LNTune
from .lora import LoRA, LoRAQV
from .lorand import LoRand, LoRandAdapter
from .mona import Mona, MonaAdapter, MonaConv
from .options import PETLConfigError
from .partial1 import Partial1

__all__ = [
    'BasePETLMethod', 'PETLModule', 'Reported', 'REPORTED_COLUMNS', 'Full', 'Fixed', 'BitFit', 'LNTune', 'Partial1',
    'Adapter', 'AdaptFormer', 'Bottleneck', 'CoLin', 'CoLinAdapter', 'LoRand', 'LoRandAdapter', 'LoRA', 'LoRAQV', 'Mona', 'MonaAdapter',
    'MonaConv', 'E3VA', 'E3VAAdapter', 'E3VANorm', 'E3VAStreamTap', 'HST', 'HSTMetaToken', 'HSTSideNetwork', 'HSTTap',
    'PETLConfigError'
]
