"""Mona: the multi-cognitive visual adapter (Yin et al., CVPR 2025).

Two adapters per block, each sequential on the residual stream, after the attention residual and after the MLP
residual::

    x = x + attn(norm1(x)); x = mona_attn(x)
    x = x + mlp(norm2(x));  x = mona_mlp(x)

Parameters per adapter: 133*C + 9728 for bottleneck 64 (see :meth:`MonaAdapter.num_parameters`); Swin-B: 3,667,456.

By default the adapter computes the same function more cheaply (``fused=True``): the three depthwise convolutions and
the identity run as one re-parameterised 7x7 depthwise convolution on a channels-last view (:class:`MonaConv`), and
the adapter keeps for backward only its output (which the next LayerNorm keeps anyway), the bottleneck input, the
norm's statistics and a one-byte dropout mask (:class:`FusedMona`): per adapter and token, 64 + 2 floats and 64
bytes beyond what the block keeps without it, instead of 3·C + 5·64 floats. The trained parameters, their names and
count are those of the reference; ``dict(type='Mona', fused=False)`` runs the reference formulation. Measured in
``docs/benchmark.md``.
"""
import contextlib
from typing import Tuple

import torch
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor, nn

from ...registry import PETL_METHODS
from .base import BasePETLMethod, PETLModule, block_widths, v_petl_bench
from .options import check_bool, check_int, check_probability


class MonaConv(nn.Module):
    """The multi-cognitive convolution: depthwise 3x3, 5x5 and 7x7 averaged plus identity, then a 1x1 projector
    with a residual::

        y = (dw3(x) + dw5(x) + dw7(x)) / 3 + x;   out = y + projector(y)          x, out: (B, C, H, W)

    The trained parameters are ``dw3``, ``dw5``, ``dw7`` and ``projector`` (checkpoints and counts are those of the
    reference). By default (``fused=True``) the forward is re-parameterised, exactly: the three depthwise kernels and
    the identity are one 7x7 depthwise kernel ``(pad(k3) + pad(k5) + k7) / 3 + delta`` with bias
    ``(b3 + b5 + b7) / 3``, and ``y + projector(y)`` is one 1x1 convolution with kernel ``P + I``. Both kernels are
    built from the parameters at every call, so the gradients reach the three kernels as in the reference, while one
    depthwise convolution runs instead of three and no (B, C, H, W) sum or residual is materialised. It is fastest on
    a channels-last input, which is what :class:`MonaAdapter` passes (a free view of its (B, N, C) tokens).
    ``fused=False`` runs the reference formulation (three convolutions), for comparison.

    Args:
        channels (int): C.
        fused (bool): use the re-parameterised forward (True) or the reference formulation (False).
    """

    def __init__(self, channels: int, fused: bool = True):
        super().__init__()
        self.fused = fused
        self.dw3 = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.dw5 = nn.Conv2d(channels, channels, 5, padding=2, groups=channels)
        self.dw7 = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.projector = nn.Conv2d(channels, channels, 1)

    def merged_kernels(self) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """The re-parameterised kernels, differentiable w.r.t. the trained ones.

        Returns:
            tuple: depthwise weight (C, 1, 7, 7) and bias (C,), then projector weight (C, C, 1, 1) with the identity
            added and its bias (C,).
        """
        depthwise = (F.pad(self.dw3.weight, (2, 2, 2, 2)) + F.pad(self.dw5.weight, (1, 1, 1, 1)) + self.dw7.weight) / 3
        depthwise = depthwise + F.pad(depthwise.new_ones(1, 1, 1, 1), (3, 3, 3, 3))  # + x: a 1 at the centre
        depthwise_bias = (self.dw3.bias + self.dw5.bias + self.dw7.bias) / 3
        channels = self.projector.out_channels
        identity = torch.eye(channels, dtype=depthwise.dtype, device=depthwise.device).view(channels, channels, 1, 1)
        return depthwise, depthwise_bias, self.projector.weight + identity, self.projector.bias

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, H, W) -> (B, C, H, W), in the memory format of x."""
        if not self.fused:
            x = (self.dw3(x) + self.dw5(x) + self.dw7(x)) / 3.0 + x
            return x + self.projector(x)
        depthwise, depthwise_bias, projector, projector_bias = self.merged_kernels()
        y = F.conv2d(x, depthwise, depthwise_bias, padding=3, groups=depthwise.shape[0])
        return F.conv2d(y, projector, projector_bias)

    def reset_parameters(self) -> None:
        for conv in (self.dw3, self.dw5, self.dw7, self.projector):
            conv.reset_parameters()  # the reference keeps PyTorch's default conv init


class FusedMona(torch.autograd.Function):
    """One Mona adapter, ``y = x + tail(z)`` with ``z = down_proj(LayerNorm(x) * gamma + x * gammax)``, keeping for
    backward only its output y, the bottleneck input z, the norm's statistics and the dropout mask.

    Plain autograd keeps, per adapter and token, x, ``LayerNorm(x)`` and the scaled norm ``x'`` (C floats each) and five
    bottleneck-wide tensors. Here:

    - ``tail`` (convolution path, GELU, dropout, up-projection) is recomputed from z in backward, under the forward's
      autocast state (a few bottleneck-wide operations), for its own gradients and z's;
    - x is not kept: the adapter is a residual, so backward gets it back from its output, ``x = y - tail(z)`` (exact up
      to the rounding of the forward's add, half an ulp of y). y is the input of the next layer (the block's
      LayerNorm, or the next block's), which keeps it for its own backward anyway: after the forward, the adapter's
      input costs no memory at all;
    - ``LayerNorm(x)`` and ``x'`` are recomputed from x, mean and rstd (elementwise; gamma is folded into the norm's
      affine, ``x' = x_hat * (w * gamma) + b * gamma + x * gammax``). Backward computes in x's dtype.

    ``tail`` must be deterministic given z and the tensors it closes over (the dropout mask is drawn outside and passed
    in ``kept``), and read only ``tail_params`` as trainable tensors.

    Inputs: tail, x (B, N, C), kept (tuple of tensors tail closes over), norm weight, norm bias, gamma, gammax (C,),
    down weight (D, C), down bias (D,), eps, then tail's parameters. Output: y (B, N, C).
    """

    @staticmethod
    def forward(ctx, tail, x, kept, norm_weight, norm_bias, gamma, gammax, weight, bias, eps, *tail_params):
        normed, mean, rstd = torch.native_layer_norm(x, x.shape[-1:], None, None, eps)
        scaled = torch.addcmul(normed * (norm_weight * gamma) + norm_bias * gamma, x, gammax)
        z = F.linear(scaled, weight, bias)
        y = x + tail(z)
        ctx.tail, ctx.tail_params = tail, tail_params
        ctx.device_type = x.device.type
        # the autocast state to recompute tail under; none on a device without autocast (meta)
        ctx.autocast = ((torch.is_autocast_enabled(ctx.device_type), torch.get_autocast_dtype(ctx.device_type))
                        if torch.amp.is_autocast_available(ctx.device_type) else None)
        ctx.save_for_backward(y, z, mean, rstd, norm_weight, norm_bias, gamma, gammax, weight, *kept)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        y, z, mean, rstd, norm_weight, norm_bias, gamma, gammax, weight = ctx.saved_tensors[:9]
        needs = ctx.needs_input_grad
        # tail, recomputed with autograd: the gradients of its parameters and of z
        wanted = [p for p, needed in zip(ctx.tail_params, needs[10:]) if needed]
        autocast = (torch.autocast(ctx.device_type, dtype=ctx.autocast[1], enabled=ctx.autocast[0]) if ctx.autocast
                    else contextlib.nullcontext())
        with torch.enable_grad(), autocast:
            z = z.detach().requires_grad_()
            out = ctx.tail(z)
        grads = iter(torch.autograd.grad(out, [z, *wanted], grad_y, allow_unused=True))
        grad_z = next(grads)
        grad_tail = [next(grads) if needed else None for needed in needs[10:]]
        # the adapter's input, back from its output
        x = y - out.detach().to(y.dtype)
        normed = (x - mean) * rstd
        scale = norm_weight * gamma
        grad_z = grad_z.to(x.dtype)
        tokens = grad_z.reshape(-1, grad_z.shape[-1])  # (B*N, D)
        grad_scaled = grad_z @ weight.to(x.dtype)  # (B, N, C)
        grad_weight = grad_bias = None
        if needs[7]:
            scaled = torch.addcmul(normed * scale + norm_bias * gamma, x, gammax)
            # under autocast x (and so tokens) may be float16/bfloat16 while scaled is float32 (the norm's affine)
            grad_weight = (tokens.t() @ scaled.reshape(-1, scaled.shape[-1]).to(tokens.dtype)).to(weight.dtype)
        if needs[8]:
            grad_bias = tokens.sum(0).to(weight.dtype)
        flat = grad_scaled.reshape(-1, grad_scaled.shape[-1])
        grad_scale = (flat * normed.reshape(flat.shape)).sum(0)  # d/d(w * gamma)
        grad_shift = flat.sum(0)  # d/d(b * gamma)
        grad_gammax = (flat * x.reshape(flat.shape)).sum(0)
        grad_x = None
        if needs[1]:
            # LayerNorm input gradient for the upstream gradient g = grad_scaled * scale, the gammax path, the residual
            g = grad_scaled * scale
            grad_x = rstd * (g - g.mean(-1, keepdim=True) - normed * (g * normed).mean(-1, keepdim=True))
            grad_x = grad_x + grad_scaled * gammax + grad_y.to(x.dtype)
        return (None, grad_x, None, grad_scale * gamma, grad_shift * gamma,
                grad_scale * norm_weight + grad_shift * norm_bias, grad_gammax, grad_weight, grad_bias, None,
                *grad_tail)


class MonaAdapter(PETLModule):
    """One Mona adapter on a (B, N, C) token stream whose patch tokens lie on an (H, W) grid.

    ``x' = LayerNorm(x) * gamma + x * gammax`` (gamma = 1e-6, gammax = 1 at init, so x' ~ x), then
    down-projection C -> bottleneck, :class:`MonaConv` on the grid, GELU, dropout, up-projection, residual on ``x``.

    With ``fused=True`` (default) the same function is computed with less memory and time: the adapter is one
    :class:`FusedMona`, which keeps its output (kept by the next LayerNorm anyway), the bottleneck input, the norm's
    statistics and the dropout mask (bool), and gets its input back from its output in backward; :class:`MonaConv`
    runs its re-parameterised kernels on a channels-last view. The dropout draws its own mask (the same distribution
    as ``nn.Dropout``, not the same random numbers). ``fused=False`` is the reference formulation, for comparison.
    Parameters and their names are the same either way.

    Args:
        channels (int): C.
        bottleneck (int): width of the adapter (64 in every reference config).
        dropout (float): dropout after the GELU.
        fused (bool): the memory- and time-lean computation (True) or the reference formulation (False).
    """

    def __init__(self, channels: int, bottleneck: int = 64, dropout: float = 0.1, fused: bool = True):
        super().__init__()
        self.fused = fused
        self.norm = nn.LayerNorm(channels)
        self.gamma = nn.Parameter(torch.full((channels,), 1e-6))
        self.gammax = nn.Parameter(torch.ones(channels))
        self.down_proj = nn.Linear(channels, bottleneck)
        self.conv = MonaConv(bottleneck, fused=fused)
        self.dropout = nn.Dropout(dropout)
        self.up_proj = nn.Linear(bottleneck, channels)
        self.init_weights()

    @staticmethod
    def num_parameters(channels: int, bottleneck: int = 64) -> int:
        """Closed form of the parameter count: 133*C + 9728 for bottleneck 64."""
        norm_and_scales = 4 * channels
        projections = (channels * bottleneck + bottleneck) + (bottleneck * channels + channels)
        depthwise = bottleneck * (9 + 25 + 49) + 3 * bottleneck
        projector = bottleneck * bottleneck + bottleneck
        return norm_and_scales + projections + depthwise + projector

    def init_weights(self) -> None:
        nn.init.ones_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)
        nn.init.constant_(self.gamma, 1e-6)
        nn.init.ones_(self.gammax)
        for linear in (self.down_proj, self.up_proj):
            trunc_normal_(linear.weight, std=0.02)
            nn.init.zeros_(linear.bias)
        self.conv.reset_parameters()

    def forward(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        """x: (B, N, C) with N = P + H*W, where the first P tokens (a ViT's cls token; P = 0 in Swin) bypass the
        convolution path; hw_shape: (H, W). Returns (B, N, C)."""
        B, N, _ = x.shape
        H, W = hw_shape
        num_prefix = N - H * W
        if num_prefix < 0:
            raise ValueError(f'MonaAdapter: {N} tokens cannot hold the patch grid {H}x{W}')
        if not self.fused:
            return x + self.up_proj(self.dropout(F.gelu(self.conv_path(self.scaled_down(x), hw_shape))))
        keep = None
        if self.training and self.dropout.p > 0:  # one byte per element
            keep = torch.rand((*x.shape[:-1], self.down_proj.out_features), device=x.device) >= self.dropout.p

        def tail(z):
            h = F.gelu(self.conv_path(z, hw_shape))
            if keep is not None:
                h = h * keep / (1 - self.dropout.p)
            return self.up_proj(h)

        params = [self.norm.weight, self.norm.bias, self.gamma, self.gammax, self.down_proj.weight,
                  self.down_proj.bias]
        tail_params = [*self.conv.parameters(), *self.up_proj.parameters()]
        if not (torch.is_grad_enabled() and any(t.requires_grad for t in (x, *params, *tail_params))):
            return x + tail(self.scaled_down(x))
        return FusedMona.apply(tail, x, () if keep is None else (keep,), *params, self.norm.eps, *tail_params)

    def scaled_down(self, x: Tensor) -> Tensor:
        """``down_proj(LayerNorm(x) * gamma + x * gammax)``, as the reference writes it (B, N, C) -> (B, N, D)."""
        return self.down_proj(self.norm(x) * self.gamma + x * self.gammax)

    def conv_path(self, z: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        """:class:`MonaConv` on the patch tokens of z (B, N, D); the first N - H*W tokens pass unchanged."""
        B, N, _ = z.shape
        H, W = hw_shape
        num_prefix = N - H * W
        prefix, patches = z[:, :num_prefix], z[:, num_prefix:]
        # (B, P, D) -> (B, D, H, W): a view with channels-last strides (no copy); the convolutions keep that layout
        # and the way back is a view again.
        patches = self.conv(patches.transpose(1, 2).reshape(B, -1, H, W)).flatten(2).transpose(1, 2)
        return torch.cat([prefix, patches], dim=1) if num_prefix else patches


@PETL_METHODS.register_module()
class Mona(BasePETLMethod):
    """Mona after the attention and the MLP residual of every block.

    Args:
        bottleneck (int): adapter width (64).
        dropout (float): adapter dropout (0.1).
        fused (bool): the memory- and time-lean computation (default) or the reference formulation (False); the
            same function and the same parameters (see :class:`MonaAdapter`).
    """
    reported = v_petl_bench('4.16 M / 53.4 / 46.0', '87.3 / 51.36')

    def __init__(self, bottleneck: int = 64, dropout: float = 0.1, fused: bool = True):
        super().__init__(name='mona')
        self.bottleneck = check_int(self, 'bottleneck', bottleneck, minimum=1)
        self.dropout = check_probability(self, 'dropout', dropout)  # the fused adapter divides by 1 - dropout
        self.fused = check_bool(self, 'fused', fused)

    def attach_block(self, name, block, spec, index):
        channels = spec.channels(block)
        self.add(block, 'attn_residual', 'attn', MonaAdapter(channels, self.bottleneck, self.dropout, self.fused))
        self.add(block, 'mlp_residual', 'mlp', MonaAdapter(channels, self.bottleneck, self.dropout, self.fused))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        """Two adapters per block (:meth:`MonaAdapter.num_parameters`: ``133 * C + 9728`` each at bottleneck 64)."""
        bottleneck = cls.with_defaults(**options)['bottleneck']
        return sum(2 * MonaAdapter.num_parameters(c, bottleneck) for c in block_widths(backbone))
