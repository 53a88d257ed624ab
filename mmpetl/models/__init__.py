from .methods import *  # noqa: F401,F403  (registers the PETL methods)
from .petl_backbone import available_methods, build_petl_backbone

__all__ = ['build_petl_backbone', 'available_methods']
