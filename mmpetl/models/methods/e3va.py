"""E³VA: the parameter, memory and time efficient visual adapter (Yin et al., ACM MM 2023; arXiv 2306.09729).

No public code exists; this is our reading of the paper (design and figures in ``docs/e3va.md``). The frozen Swin runs
without an autograd graph; its blocks' attention-branch and MLP-branch outputs are tapped (detached) and fed to
low-rank adapters on a *gradient-backpropagation highway* beside it::

    frozen:   x_s  --blocks (no graph)-->  x_s'  --PatchMerging_s-->  x_{s+1}        out_s = norm_s(x_s')
    highway:  h = x_0.detach();  per block  h = h + A_attn(attn_out) + A_mlp(mlp_out)
              at each stage boundary        h = PatchMerging_s(h)     (the backbone's own module: shared weights)
    output:   out_s + E3VANorm_s(h_s)       (B, C_s, H_s, W_s), the upstream shapes

Gradients reach the adapters through the highway only, so nothing the frozen backbone computes is saved for backward.
Parameters: ``(2 * rank + 1) * C + rank`` per adapter (:meth:`E3VAAdapter.num_parameters`), two per block, plus
``2 * C_s`` per output norm; rank 24 gives 1,184,128 on Swin-B and 1,775,616 on Swin-L.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor, nn

from ...registry import PETL_METHODS
from ..blocks import ForwardRecord
from .base import BasePETLMethod, PETLModule, block_widths, v_petl_bench
from .options import fail, is_int

# The taps record views, not clones, in the call's ForwardRecord: the frozen forward never modifies a branch output or
# a block input in place (each residual add makes a new tensor), and the taps are the only copies E3VA keeps alive for
# backward.


class E3VAStreamTap(PETLModule):
    """At the ``block_input`` point of the first block: records the start of the token stream, the highway's start.

    Called as ``module(x, hw_shape) -> x`` with x (B, N, C); returns x unchanged and records
    ``(x.detach(), (H, W))`` in the call's :class:`~mmpetl.models.blocks.ForwardRecord`.
    """

    def init_weights(self) -> None:
        """No parameters."""

    def forward(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        ForwardRecord.put(self, (x.detach(), tuple(hw_shape)))
        return x


class E3VAAdapter(PETLModule):
    """The dual low-rank adapter, at a block's ``attn_branch`` or ``mlp_branch`` point.

    Two parallel low-rank paths of rank ``rank / 2`` each, one linear and one through a GELU::

        A(x) = U_lin (D_lin x + b_lin) + U_act GELU(D_act x + b_act) + b_up        x: (B, N, C) -> (B, N, C)

    stored fused as one C -> rank projection ``down`` (rows ``[D_lin; D_act]``) and one rank -> C projection ``up``
    (columns ``[U_lin, U_act]``). The linear path is a plain low-rank map of the tapped branch output; the GELU path a
    bottleneck adapter. ``up`` starts at zero, so the adapter starts at zero.

    In the frozen forward the module only taps: ``module(branch_out, branch_in, hw_shape)`` records the detached
    (B, N, C) branch output in the call's :class:`~mmpetl.models.blocks.ForwardRecord` and returns it unchanged.
    :meth:`adapt` computes the adapter on the highway.

    Args:
        channels (int): C.
        rank (int): total rank of the two paths (even; 24 by default).
    """

    def __init__(self, channels: int, rank: int = 24):
        super().__init__()
        if rank < 2 or rank % 2:
            raise ValueError(f'E3VAAdapter: rank must be an even number >= 2 (two paths of rank / 2), got {rank}')
        self.rank = rank
        self.down = nn.Linear(channels, rank)
        self.up = nn.Linear(rank, channels)
        self.init_weights()

    @staticmethod
    def num_parameters(channels: int, rank: int = 24) -> int:
        """Closed form of the parameter count: ``(2 * rank + 1) * C + rank`` (``49 * C + 24`` for rank 24)."""
        return (channels * rank + rank) + (rank * channels + channels)

    def init_weights(self) -> None:
        trunc_normal_(self.down.weight, std=0.02)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, branch_out: Tensor, branch_in: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        ForwardRecord.put(self, branch_out.detach())
        return branch_out

    def hidden(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """The two paths' inner activations, ``(D_lin x + b_lin, GELU(D_act x + b_act))``: (B, N, C) -> two
        (B, N, rank / 2), which ``up`` maps back (its input is their concatenation)."""
        z = self.down(x)
        half = self.rank // 2
        return z[..., :half], F.gelu(z[..., half:])

    def adapt(self, x: Tensor) -> Tensor:
        """(B, N, C) -> (B, N, C)."""
        return self.up(torch.cat(self.hidden(x), dim=-1))


class E3VANorm(PETLModule):
    """The trainable LayerNorm joining the highway to one output level; (B, N, C) -> (B, N, C).

    Its affine weight and bias start at zero: the highway's stream is not zero at init (it starts from the frozen
    stream), so the norm is what makes the highway contribute exactly nothing at init. The weight still receives a
    gradient at init (that of the normalised highway stream), after which the adapters do.
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def init_weights(self) -> None:
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


@PETL_METHODS.register_module()
class E3VA(BasePETLMethod):
    """E³VA: dual low-rank adapters on a gradient highway beside a frozen Swin.

    Inserts, in every block of the stages that reach an output (stage ``<= max(out_indices)``), ``e3va_attn`` and
    ``e3va_mlp`` (:class:`E3VAAdapter`, at ``attn_branch`` / ``mlp_branch``), in the first block ``e3va_input``
    (:class:`E3VAStreamTap`), and on the backbone one ``e3va_norm<i>`` (:class:`E3VANorm`) per out index. It needs
    Swin stages (blocks joined by patch merging): the Swin transformers of mmdet, mmseg and mmpretrain.

    Args:
        rank (int): total rank of each dual low-rank adapter (even). 24 puts the trainable count near the paper's
            (1.18 M on Swin-B, 1.78 M on Swin-L).
    """
    supported_backbones = ('mmdet.SwinTransformer', 'mmseg.SwinTransformer', 'mmpretrain.SwinTransformer')
    identity_at_init = True  # the output norms start at zero
    reported = v_petl_bench('1.20 M / 50.5 / 43.8', '86.5 / 49.64')

    def __init__(self, rank: int = 24):
        super().__init__(name='e3va')
        if not is_int(rank) or rank < 2 or rank % 2:
            fail(self, 'rank', rank, 'an even integer >= 2 (two low-rank paths of rank / 2 each)')
        self.rank = rank
        # Set by attach(): the stages the highway runs through (those up to the last output), the stages it outputs,
        # and where mmpretrain takes an output (after the stage's patch merging or before it, as mmdet and mmseg).
        self.num_stages = 0
        self.out_indices: List[int] = []
        self.out_after_downsample = False

    def attach(self, backbone: nn.Module) -> None:
        self.out_indices = self._out_indices(backbone)
        self.out_after_downsample = bool(getattr(backbone, 'out_after_downsample', False))
        # Adapters in a stage after the last output would never reach an output (and never get a gradient).
        self.num_stages = max(self.out_indices) + 1
        self._highway_blocks = {id(block) for stage in backbone.stages[:self.num_stages] for block in stage.blocks}
        super().attach(backbone)  # attach_block() for every Swin block, in forward order
        del self._highway_blocks
        for index in self.out_indices:
            self.add(backbone, None, f'norm{index}', E3VANorm(backbone.num_features[index]))

    def attach_block(self, name, block, spec, index):
        if id(block) not in self._highway_blocks:
            return
        if index == 0:  # the first block: the highway starts from its input
            self.add(block, 'block_input', 'input', E3VAStreamTap())
        for point, suffix in (('attn_branch', 'attn'), ('mlp_branch', 'mlp')):
            self.add(block, point, suffix, E3VAAdapter(spec.channels(block), self.rank))

    @staticmethod
    def _out_indices(backbone: nn.Module) -> List[int]:
        # The upstream forwards output stage i iff ``i in self.out_indices``; mirror that exactly.
        out_indices = [index for index in range(len(backbone.stages)) if index in backbone.out_indices]
        if not out_indices:
            raise ValueError(f'E3VA: out_indices={backbone.out_indices} selects no stage of the backbone; the highway '
                             'joins the outputs')
        return out_indices

    @staticmethod
    def num_parameters(embed_dims: int, depths: Sequence[int], out_indices: Sequence[int] = (0, 1, 2, 3),
                       rank: int = 24) -> int:
        """Closed form of the trainable count on a Swin (stage s has width ``C_s = embed_dims * 2**s``).

        Two adapters in each block of the stages up to ``max(out_indices)`` and one norm per output::

            (2 * rank + 1) * 2 * sum_s(depth_s * C_s) + 2 * rank * sum_s(depth_s) + 2 * sum_{s in out}(C_s)

        Rank 24: Swin-B (128, (2, 2, 18, 2)) 1,184,128; Swin-L (192, (2, 2, 18, 2)) 1,775,616.
        (With mmpretrain's ``out_after_downsample=True`` the norm of output s has width ``C_{s+1}`` instead.)
        """
        stages = range(max(out_indices) + 1)
        widths = [embed_dims * 2**s for s in stages]
        adapters = sum(2 * depths[s] * E3VAAdapter.num_parameters(widths[s], rank) for s in stages)
        return adapters + sum(2 * widths[s] for s in set(out_indices))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """:meth:`num_parameters` on the backbone's first width, depths and out indices; None with mmpretrain's
        ``out_after_downsample=True`` (the output norms are then one stage wider)."""
        if getattr(backbone, 'out_after_downsample', False):
            return None
        depths = [len(stage.blocks) for stage in backbone.stages]
        out_indices = [i for i in range(len(depths)) if i in backbone.out_indices]
        return cls.num_parameters(block_widths(backbone)[0], depths, out_indices, cls.with_defaults(**options)['rank'])

    def backbone_forward(self, backbone, record, forward, *args, **kwargs):
        """Frozen upstream forward without a graph (its taps record in ``record``), then the highway; the upstream
        container and shapes."""
        with torch.no_grad():
            frozen = forward(*args, **kwargs)
        highway = self.highway(backbone, record)
        if len(highway) != len(frozen):
            raise RuntimeError(f'E3VA: the backbone returned {len(frozen)} outputs, the highway {len(highway)} '
                               f'(out_indices {self.out_indices}); has the upstream output logic changed?')
        outs = [out + extra for out, extra in zip(frozen, highway)]
        return tuple(outs) if isinstance(frozen, tuple) else outs

    def highway(self, backbone: nn.Module, record: ForwardRecord) -> List[Tensor]:
        """The highway's contribution to each output of ``backbone``, from what its taps recorded in ``record`` during
        the frozen forward of the same call: (B, C_s, H_s, W_s) per output stage s."""
        stages = backbone.stages[:self.num_stages]
        h, hw_shape = record.take(getattr(stages[0].blocks[0], f'{self.name}_input'), 'E3VA highway')
        outs = []
        for index, stage in enumerate(stages):
            h = h + self._stage_sum(stage, record)
            # The backbone's own patch merging: frozen weights, differentiable w.r.t. the highway stream.
            if self.out_after_downsample and stage.downsample is not None:
                h, hw_shape = stage.downsample(h, hw_shape)
            if index in self.out_indices:
                out = getattr(backbone, f'{self.name}_norm{index}')(h)
                outs.append(out.view(-1, *hw_shape, out.shape[-1]).permute(0, 3, 1, 2))
            if not self.out_after_downsample and stage.downsample is not None and index + 1 < len(stages):
                h, hw_shape = stage.downsample(h, hw_shape)
        return outs

    def _stage_sum(self, stage: nn.Module, record: ForwardRecord) -> Tensor:
        """``sum_j A_j(tap_j)`` over the adapters of one stage, (B, N, C_s).

        Computed as one up-projection of all their inner activations side by side, ``[U_1 ... U_k] [a_1; ...; a_k] +
        sum_j b_j``: the same sum as adding each adapter's output in turn (up to the order of float additions), in one
        large matrix product forward and two in backward instead of k small ones and k additions of (B, N, C)
        tensors (every adapter of a stage receives the same output gradient, that of the highway stream).
        """
        adapters = [getattr(block, f'{self.name}_{suffix}') for block in stage.blocks for suffix in ('attn', 'mlp')]
        inner = [part for adapter in adapters for part in adapter.hidden(record.take(adapter, 'E3VA highway'))]
        weight = torch.cat([adapter.up.weight for adapter in adapters], dim=1)
        bias = torch.stack([adapter.up.bias for adapter in adapters]).sum(0)
        return F.linear(torch.cat(inner, dim=-1), weight, bias)
