"""mmpetl: parameter-efficient transfer learning for OpenMMLab 2.x backbones.

Importing mmpetl is light: it registers nothing from mmdet, mmseg, mmpretrain or mmrotate (their imports are slow and
run version asserts). Configs reach mmpetl's modules as ``type='mmpetl.<Name>'``; see :mod:`mmpetl.registry`.
"""
from .engine.atomic_backend import register_atomic_local_backend
from .utils.checkpoint import register_checkpoint_loader
from .version import __version__

register_checkpoint_loader()
register_atomic_local_backend()  # checkpoints, deltas and last_checkpoint of any Runner are written atomically

__all__ = ['__version__', 'register_atomic_local_backend', 'register_checkpoint_loader']
