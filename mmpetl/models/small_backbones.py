"""The small pretrained backbones that mmpetl ships in ``checkpoints/`` (made by ``tools/misc/pretrain_backbone.py``).

Each is published as mmpretrain publishes its models, an ``ImageClassifier`` state dict (``backbone.*``, ``head.*``)
with a ``meta``, and, where a library's backbone cannot load that file through ``init_cfg=dict(type='Pretrained',
checkpoint=...)`` without a missing or unexpected key, one backbone file for that library:

- Swin: mmdet's, mmseg's and mmpretrain's ``SwinTransformer`` name their tensors alike. mmpretrain loads the release
  with ``prefix='backbone.'``; mmdet's ``init_weights()`` keeps the keys that start with ``backbone.`` (the release
  loads as it is); mmseg's strips that prefix but keeps every other key, so it gets the backbone alone
  (``<release>_mmseg.pth``).
- ViT: mmseg's ``VisionTransformer`` keeps the attention in ``nn.MultiheadAttention`` (``attn.attn.in_proj_weight``,
  ``attn.attn.out_proj``), mmpretrain's in ``attn.qkv`` / ``attn.proj``, and mmseg's ``init_weights()`` reads bare keys:
  ``<release>_mmseg.pth`` has them renamed.
"""
import os.path as osp
import re
from typing import Dict

from torch import Tensor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHECKPOINT_DIR = osp.join(ROOT, 'checkpoints')

#: name -> the mmpretrain release (relative to the repository) and the libraries that get a backbone file of their own
SMALL_BACKBONES = {
    'swin-mini': dict(release='checkpoints/swin-mini_scenes-128px.pth', libraries=('mmseg', )),
    'vit-mini': dict(release='checkpoints/vit-mini-p8_scenes-128px.pth', libraries=('mmseg', )),
}


def library_checkpoint(release: str, library: str) -> str:
    """The file that ``library``'s backbone loads: the release itself (mmpretrain; mmdet's Swin) or
    ``<release>_<library>.pth``."""
    if library in ('mmpretrain', 'mmdet'):
        return release
    return f'{osp.splitext(release)[0]}_{library}.pth'


def _backbone(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {k[len('backbone.'):]: v for k, v in state_dict.items() if k.startswith('backbone.')}


def swin_mmpretrain_to(state_dict: Dict[str, Tensor], library: str) -> Dict[str, Tensor]:
    """An mmpretrain ``ImageClassifier`` state dict with a Swin backbone to the bare backbone keys of mmseg's Swin."""
    if library != 'mmseg':
        raise ValueError(f'swin_mmpretrain_to: {library!r} loads the release itself (a backbone file: mmseg)')
    return _backbone(state_dict)


def vit_mmpretrain_to(state_dict: Dict[str, Tensor], library: str) -> Dict[str, Tensor]:
    """An mmpretrain ``ImageClassifier`` state dict with a ViT backbone to the bare keys of mmseg's ViT."""
    if library != 'mmseg':
        raise ValueError(f'vit_mmpretrain_to: no ViT backbone layout for {library!r} (valid: mmseg)')
    out = {}
    for key, value in _backbone(state_dict).items():
        key = re.sub(r'\.attn\.qkv\.(weight|bias)$', r'.attn.attn.in_proj_\1', key)
        key = re.sub(r'\.attn\.proj\.', '.attn.attn.out_proj.', key)
        out[key] = value
    return out


CONVERTERS = {'swin-mini': swin_mmpretrain_to, 'vit-mini': vit_mmpretrain_to}
