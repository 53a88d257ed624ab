from .base import BasePETLMethod, PETLModule
from .baselines import (AdaptFormer, Adapter, BitFit, Bottleneck, Fixed, Full, LNTune, LoRand, LoRandAdapter,
                        Partial1)
from .e3va import E3VA, E3VAAdapter, E3VANorm, E3VAStreamTap
from .hst import HST, HSTMetaToken, HSTSideNetwork, HSTTap
from .lora import LoRA, LoRAQV
from .mona import Mona, MonaAdapter, MonaConv
from .options import PETLConfigError

__all__ = [
    'BasePETLMethod', 'PETLModule', 'Full', 'Fixed', 'BitFit', 'LNTune', 'Partial1', 'Adapter', 'AdaptFormer',
    'Bottleneck', 'LoRand', 'LoRandAdapter', 'LoRA', 'LoRAQV', 'Mona', 'MonaAdapter', 'MonaConv', 'E3VA',
    'E3VAAdapter', 'E3VANorm', 'E3VAStreamTap', 'HST', 'HSTMetaToken', 'HSTSideNetwork', 'HSTTap', 'PETLConfigError'
]
