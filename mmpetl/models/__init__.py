from .methods import *  # noqa: F401,F403  (registers the PETL methods)
from .petl_backbone import PETLBackbone, available_methods

__all__ = ['PETLBackbone', 'available_methods']
