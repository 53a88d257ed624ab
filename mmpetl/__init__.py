"""mmpetl: parameter-efficient transfer learning for OpenMMLab 2.x backbones.

Importing mmpetl changes nothing outside mmpetl: its modules are registered in mmpetl's registries
(:mod:`mmpetl.registry`, children of mmengine's), which configs reach as ``type='mmpetl.<Name>'``: mmengine then
imports the modules the registries list in their ``locations``. mmengine's file backends, checkpoint loaders and
hooks stay as they are; atomic checkpoint writes and safe checkpoint loading are hooks that a config names
(``configs/_base_/petl_runtime.py``). The import is light: nothing from mmdet, mmseg, mmpretrain or mmrotate (their
imports are slow and run version asserts).
"""
from .version import __version__

__all__ = ['__version__']
