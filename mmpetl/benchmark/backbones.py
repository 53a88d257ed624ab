"""The standard backbones of the PETL papers, as upstream configs: the one table every count on them starts from."""
from typing import Dict

#: Name -> upstream backbone config (mmdet's SwinTransformer; mmpretrain's VisionTransformer at 224 input), as the
#: papers use them. The parameter table (:mod:`mmpetl.benchmark.params`) counts every method on each of them.
STANDARD_BACKBONES: Dict[str, dict] = {
    'Swin-B': dict(type='mmdet.SwinTransformer', embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    'Swin-L': dict(type='mmdet.SwinTransformer', embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
    'ViT-B': dict(type='mmpretrain.VisionTransformer', arch='base', img_size=224, patch_size=16),
    'ViT-L': dict(type='mmpretrain.VisionTransformer', arch='large', img_size=224, patch_size=16),
}
