"""CoLin: the adapter with complex linear projections (Yin, Yang, Fan and Hu, "1% > 100%: High-Efficiency Visual
Adapter with Complex Linear Projection Optimization", arXiv 2602.10513, 2026).

Two adapters per block, sequential on the residual stream, after the attention residual and after the MLP residual
(the places of Mona)::

    x = x + attn(norm1(x)); x = colin_attn(x)
    x = x + mlp(norm2(x));  x = colin_mlp(x)

    colin(x) = x + project2(GELU(mix(project1(x))))        project1: C -> 100, project2: 100 -> C
    mix(p)   = s * dwconv3x3(p) + (1 - s) * p              s = sigmoid(inner_scale), per channel, 1/2 at init

Each projection is a *complex linear projection*: its weight is a sum of ``branches`` low-rank products that share
their factors and differ by a diagonal gate, ``W = sum_i A diag(g_i) B`` (A: in x r, B: r x out, r = 28). The gates
``g_i`` are shared by the two projections of an adapter. An orthogonality penalty on the factors,
``sum_i loss_weight * (|A^T A - I|_F^2 + |B B^T - I|_F^2)`` over every projection, is the method's training loss.

Reference code read (not copied): github DongshuoYin/CoLin, ``MMDetection/mmdet/models/backbones/swin_colin.py``:

- the constants ``INNER_DIM = 100``, ``NUM_BRANCH = 4``, ``KERNEL_DIM = 28``, ``LOSS_WEIGHT = 0.5``,
  ``KERNEL_SIZE = 3`` (lines 26-30), the defaults here;
- ``orthogonal_loss`` (lines 33-43) and ``CLP_Multi`` (lines 47-278): the factors and gates (``__init__``, 53-97; the
  second projection's ``upProjection`` is the first, whose gates it reads), the SVD initialisation
  (``reset_parameters``, 140-207), the folding of the branches into one weight at evaluation (``train(False)``,
  99-138; ``forward``, 209-211) and the penalty (``forward``, 258-268);
- ``CoLin`` (lines 281-324): the adapter; ``SwinBlock`` (lines 679-680, 682-706): one after each residual add;
  ``SwinColin.init_weights`` (lines 1099-1102): every parameter whose name lacks ``colin`` is frozen, so CoLin's
  modules are all that trains.

Where the reference's behaviour is not what its names say, mmpetl computes what the code computes:

- **Initialisation.** Each projection draws ``branches`` kaiming-uniform weights (``a = sqrt(5)``), takes the SVD of
  each, and sets ``A`` to the mean of their first r left singular vectors and ``B`` to the mean of their first r right
  singular vectors; its bias is uniform in +-1/sqrt(in). The gates are the first r singular values of each branch's
  draw; the second projection's ``reset_parameters`` writes its own into the gates it shares with the first (line
  154), so the gates both use are the singular values of the *second* projection's draws. r is
  ``min(rank, C, inner_dim)`` (the SVD has no more vectors; the reference's tensors shrink the same way). The depthwise
  convolution keeps PyTorch's default initialisation and ``inner_scale`` starts at 0. The adapter is not the identity
  at initialisation.
- **The penalty's gradient.** The reference computes the penalty in every training forward and calls ``backward()``
  on it there, since an mmdet 2.x backbone cannot return a loss. Its recipes train with mmdet 2.28's
  ``Fp16OptimizerHook`` (``fp16 = dict()`` and ``optimizer_config = dict(loss_scale='dynamic')`` in both
  ``peft_config/config`` files; ``mmdet/apis/train.py`` lines 181-189), whose ``after_train_iter`` — like mmcv 1.x's
  plain ``OptimizerHook`` — calls ``zero_grad()`` after the forward and before the detection loss's backward: the
  penalty's gradients are cleared before any optimizer step, and the published figures were trained without them.
  ``orth_loss='reference'`` (default) trains what the reference's runs trained: the penalty is computed and logged
  (``colin_orth``, a name without ``loss``, which mmengine logs and does not add to the total) but not trained.
  ``orth_loss='paper'`` adds it to the model's losses as ``loss_colin_orth`` (the paper's tailored loss, as the code
  means it to act). Either way :class:`~mmpetl.engine.hooks.PETLLossHook` (in every mmpetl config's runtime) puts it
  into the losses dict the detector, segmentor or classifier returns: no upstream model changes.
- **Folding.** In training the reference forms each projection's weight from its factors at every forward; at
  evaluation it uses the weight folded once. Here every forward forms ``W = A diag(sum_i g_i) B`` (the same matrix
  in one product: the branches share A and B); ``folded=True`` builds the inference form, one ``nn.Linear`` weight and
  bias per projection and no factors or gates, which ``tools/model_converters/merge_delta.py --fold`` writes from a
  trained delta (:meth:`CoLinAdapter.fold_branches`).

mmpetl also attaches CoLin to ViTs (the reference has Swin only): tokens before the patch grid (the cls token) skip
the depthwise mixing, as in Mona.
"""
import contextlib
import logging
import math
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor, nn

from ...registry import PETL_METHODS
from .base import BasePETLMethod, PETLModule, Reported, block_widths
from .options import check_bool, check_choice, check_float, check_int, fail

#: The modes of the orthogonality penalty: computed and logged only (what the reference's runs trained), or trained.
ORTH_LOSS_MODES = ('reference', 'paper')
#: Where the paper-reported figures come from.
REPORTED_SOURCE = ('CoLin paper (Yin et al., arXiv 2602.10513), as listed by the wizwand.com summary of the paper '
                   '(third-party; the paper\'s tables were not on record)')


def orthogonality_penalty(A: Tensor, B: Tensor) -> Tensor:
    """``|A^T A - I|_F^2 + |B B^T - I|_F^2`` for A (in x r) and B (r x out): the reference's ``orthogonal_loss``."""
    eye = torch.eye(A.shape[1], dtype=A.dtype, device=A.device)
    return (A.t() @ A - eye).square().sum() + (B @ B.t() - eye).square().sum()


def svd_factors(in_features: int, out_features: int, rank: int, branches: int) -> Tuple[Tensor, Tensor, Tensor]:
    """The reference's SVD initialisation of one projection: for each branch, a kaiming-uniform (out x in) weight,
    transposed, decomposed ``U diag(S) V^T``. Returns the mean over branches of ``U[:, :r]`` (in x r) and of
    ``V^T[:r]`` (r x out), and every branch's ``S[:r]`` (branches x r)."""
    A = torch.zeros(in_features, rank)
    B = torch.zeros(rank, out_features)
    singular = []
    for _ in range(branches):
        weight = nn.init.kaiming_uniform_(torch.empty(out_features, in_features), a=math.sqrt(5)).t()
        U, S, Vh = torch.linalg.svd(weight, full_matrices=False)
        A += U[:, :rank]
        B += Vh[:rank]
        singular.append(S[:rank])
    return A / branches, B / branches, torch.stack(singular)


class CoLinProjection(nn.Module):
    """One complex linear projection, ``in_features -> out_features``: the factors ``A`` (in x r) and ``B``
    (r x out) and a bias; the gates are its adapter's. ``folded=True``: the inference form, one ``weight`` (out x in)
    and the bias."""

    def __init__(self, in_features: int, out_features: int, rank: int, folded: bool = False):
        super().__init__()
        self.in_features, self.out_features, self.folded = in_features, out_features, folded
        if folded:
            self.weight = nn.Parameter(torch.empty(out_features, in_features))
        else:
            self.A = nn.Parameter(torch.empty(in_features, rank))
            self.B = nn.Parameter(torch.empty(rank, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))

    def weight_with(self, gates: Tensor) -> Tensor:
        """The (out x in) weight ``sum_i (A diag(g_i) B)^T`` for ``gates`` (branches x r); ``folded``: ``weight``."""
        if self.folded:
            return self.weight
        return ((self.A * gates.sum(0)) @ self.B).t()

    def reset(self, A: Tensor, B: Tensor) -> None:
        """Set the factors (the folded form draws ``nn.Linear``'s init) and the bias, uniform in +-1/sqrt(in)."""
        with torch.no_grad():
            if self.folded:
                nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            else:
                self.A.copy_(A)
                self.B.copy_(B)
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)


class CoLinAdapter(PETLModule):
    """One CoLin adapter on a (B, N, C) token stream whose last H*W tokens lie on an (H, W) grid (see the module
    docstring): ``x + project2(GELU(mix(project1(x))))``.

    Args:
        channels (int): C.
        inner_dim (int): the projections' inner width (100).
        rank (int): r, the factors' rank (28; at most ``min(C, inner_dim)`` is used).
        branches (int): the gated branches per projection (4).
        kernel_size (int): the depthwise convolution's kernel (3, odd).
        folded (bool): the inference form (one weight per projection), loaded from :meth:`fold_branches`' output.
    """

    can_fold_branches = True  # see fold_branches()

    def __init__(self, channels: int, inner_dim: int = 100, rank: int = 28, branches: int = 4, kernel_size: int = 3,
                 folded: bool = False):
        super().__init__()
        self.rank = self.effective_rank(channels, inner_dim, rank)
        self.branches, self.folded = branches, folded
        self.project1 = CoLinProjection(channels, inner_dim, self.rank, folded)
        self.project2 = CoLinProjection(inner_dim, channels, self.rank, folded)
        if not folded:
            self.gates = nn.Parameter(torch.empty(branches, self.rank))  # the reference's g0..g3, shared
        self.inner_op = nn.Conv2d(inner_dim, inner_dim, kernel_size, padding=kernel_size // 2, groups=inner_dim)
        self.inner_scale = nn.Parameter(torch.zeros(1, inner_dim, 1, 1))
        self.init_weights()

    @staticmethod
    def effective_rank(channels: int, inner_dim: int = 100, rank: int = 28) -> int:
        """``min(rank, C, inner_dim)``: the SVD of a C x inner_dim matrix has no more singular vectors."""
        return min(rank, channels, inner_dim)

    @classmethod
    def num_parameters(cls, channels: int, inner_dim: int = 100, rank: int = 28, branches: int = 4,
                       kernel_size: int = 3, folded: bool = False) -> int:
        """Closed form: ``2 r (C + D) + branches r + D + C`` for the projections and gates (``2 C D + D + C``
        folded), ``D (k^2 + 1)`` for the depthwise convolution and D for ``inner_scale`` (D = inner_dim, r the
        effective rank). 57 C + 6912 at the defaults when C >= 28."""
        r = cls.effective_rank(channels, inner_dim, rank)
        projections = 2 * channels * inner_dim if folded else 2 * r * (channels + inner_dim) + branches * r
        return projections + inner_dim + channels + inner_dim * (kernel_size ** 2 + 1) + inner_dim

    def init_weights(self) -> None:
        r, branches = self.rank, self.branches
        A1, B1, _ = svd_factors(self.project1.in_features, self.project1.out_features, r, branches)
        # the second projection's singular values become the shared gates (the reference's line 154)
        A2, B2, gates = svd_factors(self.project2.in_features, self.project2.out_features, r, branches)
        self.project1.reset(A1, B1)
        self.project2.reset(A2, B2)
        if not self.folded:
            with torch.no_grad():
                self.gates.copy_(gates)
        self.inner_op.reset_parameters()  # PyTorch's default, as the reference
        nn.init.zeros_(self.inner_scale)

    def weights(self) -> Tuple[Tensor, Tensor]:
        """The two projections' (out x in) weights, formed from the factors and the summed gates."""
        gates = None if self.folded else self.gates
        return self.project1.weight_with(gates), self.project2.weight_with(gates)

    def forward(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        """x: (B, N, C) with N = P + H*W (the first P tokens skip the mixing; P = 0 in Swin); returns (B, N, C)."""
        H, W = hw_shape
        num_prefix = x.shape[1] - H * W
        if num_prefix < 0:
            raise ValueError(f'CoLinAdapter: {x.shape[1]} tokens cannot hold the patch grid {H}x{W}')
        weight1, weight2 = self.weights()
        p = F.linear(x, weight1, self.project1.bias)
        prefix, patches = p[:, :num_prefix], p[:, num_prefix:]
        # (B, H*W, D) -> (B, D, H, W): a view with channels-last strides, and back
        grid = patches.transpose(1, 2).reshape(p.shape[0], -1, H, W)
        scale = torch.sigmoid(self.inner_scale)
        grid = scale * self.inner_op(grid) + (1.0 - scale) * grid
        patches = grid.flatten(2).transpose(1, 2)
        p = torch.cat([prefix, patches], dim=1) if num_prefix else patches
        return x + F.linear(F.gelu(p), weight2, self.project2.bias)

    def orthogonality(self) -> Tensor:
        """The penalty before its weight: ``branches * (penalty(project1) + penalty(project2))``, in float32 or wider
        (the reference adds one term per branch, all equal, since the branches share the factors)."""
        if self.folded:
            raise RuntimeError('CoLinAdapter: the folded (inference) form has no factors to penalise; train with '
                               'folded=False')
        # in float32 at least, outside autocast (the training step runs the model under it)
        device = self.project1.A.device.type
        no_autocast = (torch.autocast(device, enabled=False) if torch.amp.is_autocast_available(device)
                       else contextlib.nullcontext())
        with no_autocast:
            terms = [orthogonality_penalty(p.A.to(torch.promote_types(p.A.dtype, torch.float32)),
                                           p.B.to(torch.promote_types(p.B.dtype, torch.float32)))
                     for p in (self.project1, self.project2)]
        return self.branches * (terms[0] + terms[1])

    def fold_branches(self, name: str, state_dict: Dict[str, Tensor]) -> None:
        """Rewrite this adapter's entries of ``state_dict`` (``name`` is the adapter's) into the folded form: each
        projection's ``A``, ``B`` and the gates become ``weight = (A diag(sum_i g_i) B)^T``, computed in float64 (exact
        up to float rounding); the biases, convolution and ``inner_scale`` are kept."""
        if self.folded:
            raise ValueError(f'CoLinAdapter {name}: already folded')
        gates = state_dict.pop(f'{name}.gates').double().sum(0)
        for projection in ('project1', 'project2'):
            A = state_dict.pop(f'{name}.{projection}.A')
            B = state_dict.pop(f'{name}.{projection}.B')
            state_dict[f'{name}.{projection}.weight'] = ((A.double() * gates) @ B.double()).t().to(A.dtype)


@PETL_METHODS.register_module()
class CoLin(BasePETLMethod):
    """CoLin adapters, whose projections are gated sums of shared low-rank factors, after the attention and the MLP
    residual of every block, with an orthogonality penalty on the factors.

    Everything else is frozen (the reference freezes every parameter whose name lacks ``colin``). See the module
    docstring for the reference code followed and what ``orth_loss`` and ``folded`` do.

    Args:
        inner_dim (int): the adapters' inner width (100, ``INNER_DIM``).
        rank (int): the factors' rank (28, ``KERNEL_DIM``; ``min(rank, C, inner_dim)`` is used).
        branches (int): gated branches per projection (4, ``NUM_BRANCH``).
        kernel_size (int): the depthwise convolution's kernel, odd (3, ``KERNEL_SIZE``).
        loss_weight (float): the penalty's weight per branch (0.5, ``LOSS_WEIGHT``).
        orth_loss (str): ``'reference'`` (default: logged as ``colin_orth``, not trained, as in the reference's runs)
            or ``'paper'`` (added to the losses as ``loss_colin_orth``).
        folded (bool): build the inference form (one weight per projection), for checkpoints written by
            ``merge_delta.py --fold``; it has no factors, gates nor penalty.
    """
    reported = {
        'coco': Reported('n/a / 52.9 / 45.5', REPORTED_SOURCE),
        'swin_l': Reported('87.5 / 51.28', REPORTED_SOURCE),
    }

    def __init__(self, inner_dim: int = 100, rank: int = 28, branches: int = 4, kernel_size: int = 3,
                 loss_weight: float = 0.5, orth_loss: str = 'reference', folded: bool = False):
        super().__init__(name='colin')
        self.inner_dim = check_int(self, 'inner_dim', inner_dim, minimum=1)
        self.rank = check_int(self, 'rank', rank, minimum=1)
        self.branches = check_int(self, 'branches', branches, minimum=1)
        self.kernel_size = check_int(self, 'kernel_size', kernel_size, minimum=1)
        if self.kernel_size % 2 == 0:
            fail(self, 'kernel_size', kernel_size, 'an odd int >= 1', ' (the convolution keeps the grid: padding k // 2)')
        self.loss_weight = check_float(self, 'loss_weight', loss_weight, low=0.0)
        self.orth_loss = check_choice(self, 'orth_loss', orth_loss, ORTH_LOSS_MODES)
        self.folded = check_bool(self, 'folded', folded)

    def attach_block(self, name, block, spec, index):
        channels = spec.channels(block)
        for point, suffix in (('attn_residual', 'attn'), ('mlp_residual', 'mlp')):
            self.add(block, point, suffix, CoLinAdapter(channels, self.inner_dim, self.rank, self.branches,
                                                        self.kernel_size, self.folded))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """Two adapters per block (:meth:`CoLinAdapter.num_parameters`: ``57 * C + 6912`` each at the defaults)."""
        options = cls.with_defaults(**options)
        sizes = {k: options[k] for k in ('inner_dim', 'rank', 'branches', 'kernel_size', 'folded')}
        return sum(2 * CoLinAdapter.num_parameters(c, **sizes) for c in block_widths(backbone))

    def extra_losses(self, backbone: nn.Module) -> Dict[str, Tensor]:
        """``{'colin_orth': penalty}`` (``orth_loss='reference'``: logged, detached) or ``{'loss_colin_orth':
        penalty}`` (``'paper'``: trained), the weighted sum over every adapter of ``backbone``; nothing when folded."""
        if self.folded:
            return {}
        adapters = [m for m in backbone.modules() if isinstance(m, CoLinAdapter)]
        if self.orth_loss == 'paper':
            return {'loss_colin_orth': self.loss_weight * sum(adapter.orthogonality() for adapter in adapters)}
        with torch.no_grad():
            return {'colin_orth': self.loss_weight * sum(adapter.orthogonality() for adapter in adapters)}

    def backbone_forward(self, backbone, record, forward, *args, **kwargs):
        if (self.orth_loss == 'paper' and not self.folded and backbone.training and torch.is_grad_enabled()
                and not getattr(backbone, 'petl_losses_collected', False)
                and not getattr(backbone, '_colin_warned', False)):
            backbone._colin_warned = True
            print_log("CoLin(orth_loss='paper') trains its orthogonality loss through mmpetl.PETLLossHook, which is "
                      "not registered on this model: add dict(type='mmpetl.PETLLossHook') to custom_hooks (every "
                      "mmpetl config has it through configs/_base_/petl_runtime.py), or add "
                      'backbone.petl_losses() to your loss.', logger='current', level=logging.WARNING)
        return forward(*args, **kwargs)
