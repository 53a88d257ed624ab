"""HST: hierarchical side-tuning (Lin et al., arXiv 2310.05393; reference code github AFeng-x/HST, timm).

A hierarchical side network (HSN) beside a plain ViT whose weights stay frozen except the LayerNorms inside its blocks.
Each ViT block ``i`` gets a learnable *meta token*, prepended to its input and removed from its output; the output meta
token and the block's patch-token map feed the side network (design, figures and usage in ``docs/hst.md``)::

    ViT:   x_i = block_i([meta_i; x_{i-1}]);  meta_i' = x_i[:, 0];  x_i = x_i[:, 1:]     (cls token, if any, kept)
    side:  stem(image) -> stage 1 (stride 4) -> patch embed -> stage 2 (8) -> ... -> stage 4 (32)
    side block j of stage s, consuming ViT block i = groups[s][j]:
           v  = resize(bridge_s(patches_i), side grid)                  (B, N_s, C_s)
           kv = [meta_norm_sj(bridge_s(meta_i')), mean(v)]              (B, 2, C_s)
           x  = x + cross_attn(norm1(x), kv);  x = x + v;  x = x + mlp(norm2(x))

The ViT blocks are split into one group per side stage (:func:`vit_block_groups`). The ViT's own outputs are replaced by
the side network's: four maps at strides 4/8/16/32 (``out_type='featmap'``) or one pooled vector (``'pooled'``).
Trainable parameters with ViT-B: 764,840 (:meth:`HST.num_parameters`; the classifier head is not included).
"""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from ...registry import PETL_METHODS
from ..blocks import ForwardRecord
from .base import BasePETLMethod, PETLModule, Reported, block_widths
from .hst_side import HSTSideNetwork
from .options import (PETLConfigError, check_choice, check_float, check_int_sequence, check_norm_cfg,
                      check_probability, fail)


def vit_block_groups(num_vit_blocks: int, depths: Sequence[int]) -> List[List[int]]:
    """The ViT block each side block consumes, per side stage.

    The ViT blocks are cut into ``S = len(depths)`` consecutive groups, group ``s`` holding blocks
    ``floor(s*L/S) .. floor((s+1)*L/S) - 1`` (equal groups when S divides L: 3 blocks for ViT-B, 6 for ViT-L). A group
    of ``g`` blocks is cut again into ``d = depths[s]`` equal sub-groups and side block ``j`` consumes the *last* ViT
    block of sub-group ``j``: block ``start + ceil((j + 1) * g / d) - 1``. With g = d this is the reference's one-to-one
    assignment (ViT-B: ``[[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]``); ViT-L gives every other block,
    ``[[1, 3, 5], [7, 9, 11], [13, 15, 17], [19, 21, 23]]``, so the last side block of each stage still sees the
    deepest block of its group. With g < d a ViT block feeds several side blocks.

    Raises:
        ValueError: fewer ViT blocks than side stages, or a stage without side blocks.
    """
    num_stages = len(depths)
    if num_vit_blocks < num_stages or min(depths) < 1:
        raise ValueError(f'HST needs at least one ViT block per side stage and one side block per stage; got '
                         f'{num_vit_blocks} ViT blocks for side depths {tuple(depths)}')
    groups = []
    for stage, depth in enumerate(depths):
        start = stage * num_vit_blocks // num_stages
        size = (stage + 1) * num_vit_blocks // num_stages - start
        groups.append([start + ((j + 1) * size + depth - 1) // depth - 1 for j in range(depth)])
    return groups


class HSTMetaToken(PETLModule):
    """A block's learnable meta token, prepended at the block's ``block_input`` point: (B, N, D) -> (B, 1 + N, D).

    Initialised xavier-uniform as in the reference (a (1, 1, D) tensor: bound sqrt(6 / 2D)).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.token = nn.Parameter(torch.empty(1, 1, channels))
        self.init_weights()

    def init_weights(self) -> None:
        nn.init.xavier_uniform_(self.token)

    def forward(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


class HSTTap(PETLModule):
    """At a block's ``mlp_residual`` point (its output): removes the meta token, (B, 1 + P + H*W, D) -> (B, P + H*W, D),
    where the P prefix tokens (the cls token, if any) stay in the ViT stream.

    If ``keep`` (the side network consumes this block), it also records the output meta token (B, 1, D), the patch
    tokens (B, H*W, D) and (H, W) in the call's :class:`~mmpetl.models.blocks.ForwardRecord`
    (:data:`~mmpetl.models.methods.hst_side.Kept`), not detached: gradients flow back through the frozen ViT, as in the
    reference.
    """

    def __init__(self, keep: bool):
        super().__init__()
        self.keep = keep

    def init_weights(self) -> None:
        """No parameters."""

    def extra_repr(self) -> str:
        return f'keep={self.keep}'

    def forward(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        H, W = hw_shape
        num_prefix = x.shape[1] - 1 - H * W
        if num_prefix < 0:
            raise ValueError(f'HSTTap: {x.shape[1]} tokens cannot hold a meta token and the patch grid {H}x{W}')
        if self.keep:
            ForwardRecord.put(self, (x[:, :1], x[:, 1 + num_prefix:], (H, W)))
        return x[:, 1:]


@PETL_METHODS.register_module()
class HST(BasePETLMethod):
    """Hierarchical side-tuning of a plain ViT (mmseg's or mmpretrain's ``VisionTransformer``, with or without cls
    token).

    Inserts in every ViT block ``hst_meta`` (:class:`HSTMetaToken`, at ``block_input``) and ``hst_tap``
    (:class:`HSTTap`, at ``mlp_residual``), and on the backbone ``hst_side`` (:class:`HSTSideNetwork`). Trainable: these
    and the LayerNorms inside the ViT blocks; everything else in the ViT stays frozen (its final norm included).
    The backbone's outputs are the side network's (see :meth:`backbone_forward`).

    Args:
        embed_dims (sequence of int): side stage widths ([32, 48, 64, 72]).
        depths (sequence of int): side blocks per stage ([3, 3, 3, 3]).
        num_heads (sequence of int): heads per stage ([2, 4, 8, 12]).
        mlp_ratio (float): side FFN width / stage width (4).
        out_type (str): 'featmap' (four maps for FPN / UperNet) or 'pooled' (one vector for a classifier head).
        drop_path_rate (float): largest drop-path rate of the side blocks (0).
        norm_cfg (dict): side-block and stage-output norms (LN, eps 1e-6, as the reference).
        stem_norm_cfg (dict): the stem's norm (BN; SyncBN for multi-GPU training).

    Raises:
        ValueError (at build time): fewer ViT blocks than side stages, or inconsistent per-stage settings (a backbone
            other than these ViTs is refused by the PETL backbone).
    """
    OUT_TYPES = ('featmap', 'pooled')
    # The plain ViTs (blocks of ViTBlockSpec: one token grid through all blocks).
    supported_backbones = ('mmseg.VisionTransformer', 'mmpretrain.VisionTransformer')
    replaces_outputs = True
    reported = {'coco': Reported('ViT-B: 49.7 / 43.2 (HST paper, test-dev)',
                                 'HST paper (Lin et al., arXiv 2310.05393): ViT-B, COCO test-dev box / mask AP')}

    def __init__(self, embed_dims: Sequence[int] = (32, 48, 64, 72), depths: Sequence[int] = (3, 3, 3, 3),
                 num_heads: Sequence[int] = (2, 4, 8, 12), mlp_ratio: float = 4., out_type: str = 'featmap',
                 drop_path_rate: float = 0., norm_cfg: dict = dict(type='LN', eps=1e-6),
                 stem_norm_cfg: dict = dict(type='BN')):
        super().__init__(name='hst')
        for option, value in (('embed_dims', embed_dims), ('depths', depths), ('num_heads', num_heads)):
            check_int_sequence(self, option, value, minimum=1)
        if not len(embed_dims) == len(depths) == len(num_heads):
            raise PETLConfigError(f'HST: embed_dims, depths and num_heads need one entry per side stage; got '
                                  f'{tuple(embed_dims)}, {tuple(depths)}, {tuple(num_heads)}')
        for stage, (width, heads) in enumerate(zip(embed_dims, num_heads)):  # else torch's attention asserts
            if width % heads:
                fail(self, 'embed_dims', embed_dims, f'divisible by num_heads={tuple(num_heads)} stage by stage',
                     f': stage {stage} has width {width} and {heads} heads')
        check_float(self, 'mlp_ratio', mlp_ratio, low=0.0, low_inclusive=False)
        check_choice(self, 'out_type', out_type, self.OUT_TYPES)
        check_probability(self, 'drop_path_rate', drop_path_rate)
        check_norm_cfg(self, 'norm_cfg', norm_cfg, embed_dims)
        check_norm_cfg(self, 'stem_norm_cfg', stem_norm_cfg, embed_dims[:1])
        self.embed_dims, self.depths, self.num_heads = list(embed_dims), list(depths), list(num_heads)
        self.mlp_ratio, self.out_type, self.drop_path_rate = mlp_ratio, out_type, drop_path_rate
        self.norm_cfg, self.stem_norm_cfg = dict(norm_cfg), dict(stem_norm_cfg)
        self.groups: List[List[int]] = []
        #: The names of the taps (``layers.<i>.hst_tap``), in block order; backbone_forward reads them on its backbone.
        self.tap_names: List[str] = []
        self._block_norms = set()

    def attach(self, backbone: nn.Module) -> None:
        blocks = list(self.blocks(backbone))
        widths = {spec.channels(block) for _, block, spec in blocks}
        if len(widths) != 1:
            raise ValueError(f'HST: the ViT blocks must share one width; got {sorted(widths)}')
        self.groups = vit_block_groups(len(blocks), self.depths)
        super().attach(backbone)  # attach_block() for every ViT block, in forward order
        side = HSTSideNetwork(backbone.patch_embed.projection.in_channels, widths.pop(), self.groups, self.embed_dims,
                              self.num_heads, self.mlp_ratio, self.drop_path_rate, self.out_type, self.norm_cfg,
                              self.stem_norm_cfg)
        self.add(backbone, None, 'side', side)

    def attach_block(self, name, block, spec, index):
        # The reference trains the LayerNorms inside the ViT blocks (not the ViT's final norm).
        self._block_norms.update(id(p) for m in block.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters())
        self.add(block, 'block_input', 'meta', HSTMetaToken(spec.channels(block)))
        self.add(block, 'mlp_residual', 'tap', HSTTap(keep=any(index in group for group in self.groups)))
        self.tap_names.append(f'{name}.{self.name}_tap')

    def trains_upstream(self, name, param):
        return id(param) in self._block_norms

    def backbone_forward(self, backbone, record, forward, *args, **kwargs):
        """Run the ViT (its taps record the meta tokens and maps in ``record``), then the side network on the raw
        image.

        The ViT's own outputs are discarded: the backbone returns the side network's tuple (see
        :meth:`HSTSideNetwork.forward`).
        """
        images = args[0] if args else next(iter(kwargs.values()))
        forward(*args, **kwargs)
        taps = [backbone.get_submodule(name) for name in self.tap_names]
        kept = [record.take(tap, 'HST side network') if tap.keep else None for tap in taps]
        return getattr(backbone, f'{self.name}_side')(images, kept)

    @staticmethod
    def parameter_counts(vit_channels: int, num_vit_blocks: int, embed_dims: Sequence[int] = (32, 48, 64, 72),
                         depths: Sequence[int] = (3, 3, 3, 3), mlp_ratio: float = 4.,
                         in_channels: int = 3) -> Dict[str, int]:
        """Trainable parameters by part, in closed form (D = ViT width, L = ViT blocks, C_s / d_s per stage,
        h_s = int(C_s * mlp_ratio)):

        - ``meta_tokens``: L * D;
        - ``vit_block_norms`` (upstream, unfrozen): 4 * D * L (two LayerNorms per block);
        - ``bridges``: sum_s (D * C_s + C_s + 2 * C_s * d_s) (shared Linear + one LayerNorm per side block);
        - ``stem``: 9 * in_channels * C_1 + 2 * C_1 (conv, BN) + 4 * C_1^2 + C_1 + 2 * C_1 (conv 2x2, LN);
        - ``patch_embeds``: sum_{s>1} (9 * C_{s-1} * C_s + 3 * C_s) (conv 3x3 with bias, LN);
        - ``side_blocks``: sum_s d_s * (4 C_s^2 + 4 C_s (attention) + 4 C_s (norms) + 2 C_s h_s + h_s + C_s (FFN));
        - ``stage_norms``: sum_s 2 * C_s.

        ``out_type`` does not change it (the pooled BatchNorm1d has no affine parameters); no classifier head in it.
        """
        vit_block_groups(num_vit_blocks, depths)  # validates
        hidden = [int(c * mlp_ratio) for c in embed_dims]
        first = embed_dims[0]
        return dict(
            meta_tokens=num_vit_blocks * vit_channels,
            vit_block_norms=4 * vit_channels * num_vit_blocks,
            bridges=sum(vit_channels * c + c + 2 * c * d for c, d in zip(embed_dims, depths)),
            stem=9 * in_channels * first + 2 * first + 4 * first * first + 3 * first,
            patch_embeds=sum(9 * cin * c + 3 * c for cin, c in zip(embed_dims[:-1], embed_dims[1:])),
            side_blocks=sum(d * (4 * c * c + 8 * c + 2 * c * h + h + c) for c, d, h in zip(embed_dims, depths, hidden)),
            stage_norms=sum(2 * c for c in embed_dims))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """:meth:`num_parameters` on the ViT's width, block count and image channels, with the side network's options.
        """
        widths, options = block_widths(backbone), cls.with_defaults(**options)
        side = {k: options[k] for k in ('embed_dims', 'depths', 'mlp_ratio')}
        return cls.num_parameters(widths[0], len(widths), in_channels=backbone.patch_embed.projection.in_channels,
                                  **side)

    @staticmethod
    def num_parameters(vit_channels: int, num_vit_blocks: int, **kwargs) -> int:
        """Total trainable backbone parameters (:meth:`parameter_counts` summed): 764,840 for ViT-B (D 768, L 12)
        and 896,936 for ViT-L (D 1024, L 24) with the default side network."""
        return sum(HST.parameter_counts(vit_channels, num_vit_blocks, **kwargs).values())
