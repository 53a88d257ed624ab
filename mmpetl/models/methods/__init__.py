from .base import BasePETLMethod, PETLModule
from .baselines import Fixed
from .mona import Mona, MonaAdapter, MonaConv

__all__ = ['BasePETLMethod', 'PETLModule', 'Fixed', 'Mona', 'MonaAdapter', 'MonaConv']
