"""HST's hierarchical side network (HSN): the trainable network beside the frozen ViT (the method: ``hst.py``).

Stages at strides 4, 8, 16, 32: a stem from the raw image, then patch embeddings; each side block cross-attends to the
meta token and the patch tokens a ViT block left (:data:`Kept`), bridged to the stage width.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmcv.cnn.bricks.transformer import FFN, MultiheadAttention, PatchEmbed
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .base import PETLModule

#: What a consumed ViT block leaves for the side network: its output meta token (B, 1, D), its patch tokens
#: (B, H*W, D) and their grid (H, W).
Kept = Tuple[Tensor, Tensor, Tuple[int, int]]

class HSTStem(nn.Module):
    """Stage-1 patch embedding from the raw image: Conv3x3 s2 (no bias) + BN + ReLU, then Conv2x2 s2 + LayerNorm.

    (B, in_channels, H, W) -> tokens (B, H/4 * W/4, C) and their grid (H/4, W/4) (rounding as the convolutions do).
    """

    def __init__(self, in_channels: int, channels: int, norm_cfg: dict):
        super().__init__()
        self.conv = ConvModule(in_channels, channels, 3, stride=2, padding=1, bias=False, norm_cfg=norm_cfg,
                               act_cfg=dict(type='ReLU'))
        self.embed = PatchEmbed(channels, channels, kernel_size=2, stride=2, padding=0, norm_cfg=dict(type='LN'))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        return self.embed(self.conv(x))


class HSTSideBlock(nn.Module):
    """A side block: cross-attention of the side tokens to two ViT tokens, the ViT map added, then an MLP.

    ``x = x + cross_attn(norm1(x), kv); x = x + vit_map; x = x + mlp(norm2(x))`` with mmcv's MultiheadAttention (torch's
    underneath) and FFN, each with a drop-path on its branch.

    Args:
        channels (int): C. num_heads (int): attention heads. mlp_ratio (float): FFN width / C.
        drop_path (float): drop-path rate of both branches. norm_cfg (dict): norm1 / norm2.
    """

    def __init__(self, channels: int, num_heads: int, mlp_ratio: float, drop_path: float, norm_cfg: dict):
        super().__init__()
        drop = dict(type='DropPath', drop_prob=drop_path)
        self.norm1 = build_norm_layer(norm_cfg, channels)[1]
        self.attn = MultiheadAttention(channels, num_heads, dropout_layer=drop, batch_first=True)
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]
        self.ffn = FFN(channels, int(channels * mlp_ratio), act_cfg=dict(type='GELU'), dropout_layer=drop)

    def forward(self, x: Tensor, kv: Tensor, vit_map: Tensor) -> Tensor:
        """x: (B, N, C) side tokens; kv: (B, 2, C) keys and values; vit_map: (B, N, C) bridged ViT map.

        Returns (B, N, C).
        """
        x = self.attn(self.norm1(x), key=kv, value=kv, identity=x)
        x = x + vit_map
        return self.ffn(self.norm2(x), identity=x)


class HSTSideStage(nn.Module):
    """One side stage: patch embedding (stride 2, or the stem), side blocks fed by their ViT blocks, output norm.

    The transformation bridge ``Linear(D -> C)`` is shared by the stage; each side block has its own LayerNorm for the
    bridged meta token.

    Args:
        embed (nn.Module): (B, C_in, H, W) -> ((B, N, C), (H', W')).
        channels (int): C. vit_channels (int): D, the ViT width.
        vit_blocks (list[int]): the ViT block each side block consumes (see :func:`vit_block_groups`).
        num_heads (int), mlp_ratio (float), norm_cfg (dict): of the side blocks.
        drop_paths (list[float]): drop-path rate of each side block.
    """

    def __init__(self, embed: nn.Module, channels: int, vit_channels: int, vit_blocks: Sequence[int], num_heads: int,
                 mlp_ratio: float, drop_paths: Sequence[float], norm_cfg: dict):
        super().__init__()
        self.vit_blocks = list(vit_blocks)
        self.embed = embed
        self.bridge = nn.Linear(vit_channels, channels)
        self.meta_norms = nn.ModuleList(nn.LayerNorm(channels) for _ in self.vit_blocks)
        self.blocks = nn.ModuleList(
            HSTSideBlock(channels, num_heads, mlp_ratio, drop_path, norm_cfg) for drop_path in drop_paths)
        self.norm = build_norm_layer(norm_cfg, channels)[1]

    def bridged_map(self, patches: Tensor, vit_hw: Tuple[int, int], hw: Tuple[int, int]) -> Tensor:
        """ViT patch tokens (B, h*w, D) on grid ``vit_hw`` -> bridged map resized to ``hw``, as tokens (B, H*W, C).

        The reference resizes the D-channel map, then bridges it. Both maps are linear and bilinear weights sum to 1,
        so bridging first is the same function, and it resizes C instead of D channels (32 instead of 768 at stride 4).
        """
        B = patches.shape[0]
        x = self.bridge(patches).transpose(1, 2).reshape(B, -1, *vit_hw)
        x = F.interpolate(x, size=hw, mode='bilinear', align_corners=False)
        return x.flatten(2).transpose(1, 2)

    def forward(self, x: Tensor, kept: Sequence[Optional[Kept]]) -> Tuple[Tensor, Tuple[int, int]]:
        """x: (B, C_in, H, W); kept: per ViT block, what its tap recorded.

        Returns the normalised tokens (B, H'*W', C) and their grid (H', W').
        """
        x, hw = self.embed(x)
        for block, meta_norm, index in zip(self.blocks, self.meta_norms, self.vit_blocks):
            meta, patches, vit_hw = kept[index]
            vit_map = self.bridged_map(patches, vit_hw, hw)
            kv = torch.cat([meta_norm(self.bridge(meta)), vit_map.mean(dim=1, keepdim=True)], dim=1)
            x = block(x, kv, vit_map)
        return self.norm(x), hw


class HSTSideNetwork(PETLModule):
    """The hierarchical side network: ``len(embed_dims)`` stages at strides 4, 8, 16, 32, ...

    Args:
        in_channels (int): image channels. vit_channels (int): D. groups (list[list[int]]): :func:`vit_block_groups`.
        embed_dims, num_heads (sequence of int): per stage. mlp_ratio (float). drop_path_rate (float): the drop-path
            rate rises linearly from 0 to it over the side blocks. out_type (str): 'featmap' or 'pooled'.
        norm_cfg (dict): side-block and stage-output norms. stem_norm_cfg (dict): the stem's norm (BN; SyncBN for DDP).
    """

    def __init__(self, in_channels: int, vit_channels: int, groups: Sequence[Sequence[int]], embed_dims: Sequence[int],
                 num_heads: Sequence[int], mlp_ratio: float, drop_path_rate: float, out_type: str, norm_cfg: dict,
                 stem_norm_cfg: dict):
        super().__init__()
        self.out_type = out_type
        drop_paths = torch.linspace(0, drop_path_rate, sum(len(g) for g in groups)).tolist()
        self.stages = nn.ModuleList()
        for s, (channels, heads, vit_blocks) in enumerate(zip(embed_dims, num_heads, groups)):
            if s == 0:
                embed = HSTStem(in_channels, channels, stem_norm_cfg)
            else:
                embed = PatchEmbed(embed_dims[s - 1], channels, kernel_size=3, stride=2, padding=1,
                                   norm_cfg=dict(type='LN'))
            first = sum(len(g) for g in groups[:s])
            self.stages.append(HSTSideStage(embed, channels, vit_channels, vit_blocks, heads, mlp_ratio,
                                            drop_paths[first:first + len(vit_blocks)], norm_cfg))
        # The reference's classifier input: BatchNorm1d without affine parameters on the pooled last stage.
        self.pool_norm = nn.BatchNorm1d(embed_dims[-1], affine=False, eps=1e-6) if out_type == 'pooled' else None
        self.init_weights()

    def init_weights(self) -> None:
        """As the reference: Linear trunc-normal(0.02) with zero bias, convs kaiming-normal (fan-out, ReLU) with zero
        bias, norms weight 1 and bias 0 (and fresh running statistics)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):  # also the attention's out_proj
                trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.MultiheadAttention):  # its fused q/k/v projection is not an nn.Linear
                trunc_normal_(m.in_proj_weight, std=0.02)
                nn.init.zeros_(m.in_proj_bias)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.LayerNorm, _BatchNorm)):
                m.reset_parameters()

    def forward(self, images: Tensor, kept: Sequence[Optional[Kept]]) -> Tuple[Tensor, ...]:
        """images: (B, in_channels, H, W); kept: per ViT block, what its tap recorded (None if not consumed).

        Returns:
            'featmap': a tuple of (B, C_s, H_s, W_s), one per stage (strides 4, 8, 16, 32);
            'pooled': a tuple with one (B, C_last) tensor, the mean of the last stage's tokens through BatchNorm1d.
        """
        B = images.shape[0]
        x, outs = images, []
        for stage in self.stages:
            tokens, hw = stage(x, kept)
            x = tokens.transpose(1, 2).reshape(B, -1, *hw)
            outs.append(x)
        if self.out_type == 'pooled':
            return (self.pool_norm(tokens.mean(dim=1)), )
        return tuple(outs)
