"""Lean frozen blocks: a frozen block keeps for backward only what its input gradient needs.

A PETL method that inserts modules inside a frozen backbone (Mona, Adapter, LoRA, AdaptFormer, LoRand, CoLin, BitFit,
LN-tune, Partial-1's frozen stages) backpropagates through every frozen block to reach the modules below. Autograd
does not keep a frozen ``nn.Linear``'s input (no weight gradient), but it still keeps, per token and block, what the
input gradient passes through: the MLP's hidden (4C floats, the GELU's input) and, in the attention, the scaled query
and the attention probabilities (C + heads * window floats in a Swin) besides q, k and v. Two parts here compute the
same functions and keep less:

- ``'mlp'`` (:class:`LeanMLP`): the MLP branch ``fc2(GELU(fc1(LayerNorm(x))))`` as one autograd function that keeps
  its input x (which the LayerNorm kept anyway) and the norm's statistics, and recomputes ``fc1`` in backward for the
  GELU's derivative: the 4C hidden is never kept, at the cost of one ``fc1`` matmul in backward. mmcv's ``FFN`` (two
  Linear layers, GELU, no layer scale) of mmdet's, mmseg's and mmpretrain's Swin and ViT blocks.
- ``'attention'``, Swin (:class:`WindowAttention`): a Swin window attention's core ``softmax(q k^T * scale + bias + mask)
  v`` as one autograd function that keeps q, k and v (views of the qkv projection's output, which the upstream code
  keeps too), the relative position bias and the shift mask, and recomputes the probabilities in backward; its forward
  runs the upstream operations in the upstream order (the same output, bit for bit). mmdet's, mmseg's and
  mmpretrain's ``WindowMSA``, whose forward is re-expressed with its own submodules (:class:`LeanWindowMSAMixin`):
  the ``qkv`` projection is called as a module, so LoRA's update at its output applies.
- ``'attention'``, mmseg's ViT (:class:`LeanMultiheadAttentionMixin`): its global attention (torch's
  ``nn.MultiheadAttention``, which keeps the probabilities) through ``scaled_dot_product_attention``. mmpretrain's
  ViT attention already runs ``scaled_dot_product_attention`` upstream.

Each applies only where the block's weights on that path are frozen and its dropouts inactive (p = 0 or eval) — so a
Partial-1 stage that trains, Full, or a ``ffn_drop`` in training run the upstream code — and only when something needs
a gradient. Gradients of trained LayerNorm parameters (LN-tune) and biases (BitFit, the relative position bias table
included) are computed. Outputs and gradients equal the upstream blocks' to float32 rounding
(``tests/test_lean.py``, every block family and method). ``mmpetl.PETLBackbone(lean=...)`` chooses the parts; none by
default, since the recomputation costs time (measured in ``docs/benchmark.md``, "Lean frozen blocks").
"""
import contextlib
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: The parts that can be lean, in the order of :data:`LEAN_FAMILIES`' entries.
LEAN_PARTS = ('mlp', 'attention')


def _autocast_state(device_type: str):
    """The autocast state to recompute under in backward (None where the device has no autocast: meta)."""
    if not torch.amp.is_autocast_available(device_type):
        return None
    return torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type)


def _autocast(device_type: str, state):
    return (torch.autocast(device_type, dtype=state[1], enabled=state[0]) if state is not None
            else contextlib.nullcontext())


def _sum_to(grad: Tensor, like: Optional[Tensor], needed: bool) -> Optional[Tensor]:
    """``grad`` summed over its leading dimensions to ``like``'s shape and dtype (a bias's gradient), if needed."""
    if not needed or like is None:
        return None
    return grad.reshape(-1, *like.shape).sum(0).to(like.dtype)


class LeanMLP(torch.autograd.Function):
    """``fc2(GELU(fc1(LayerNorm(x))))`` (exact GELU), keeping x, the norm's statistics and the parameters only.

    Inputs: x (..., C), norm weight, norm bias (C or None), eps, fc1 weight (D, C), fc1 bias (D or None), fc2 weight
    (C, D), fc2 bias (C or None). The fc weights must be frozen; the norm's parameters and the biases may train.
    """

    @staticmethod
    def forward(ctx, x, norm_weight, norm_bias, eps, weight1, bias1, weight2, bias2):
        normed, mean, rstd = torch.native_layer_norm(x, x.shape[-1:], norm_weight, norm_bias, eps)
        out = F.linear(F.gelu(F.linear(normed, weight1, bias1)), weight2, bias2)
        ctx.device_type = x.device.type
        ctx.autocast = _autocast_state(ctx.device_type)
        ctx.save_for_backward(x, mean, rstd, norm_weight, norm_bias, weight1, bias1, weight2, bias2)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, mean, rstd, norm_weight, norm_bias, weight1, bias1, weight2, bias2 = ctx.saved_tensors
        needs = ctx.needs_input_grad
        with torch.no_grad(), _autocast(ctx.device_type, ctx.autocast):
            normed = (x - mean) * rstd
            if norm_weight is not None:
                normed = normed * norm_weight
            if norm_bias is not None:
                normed = normed + norm_bias
            hidden = F.linear(normed.to(x.dtype), weight1, bias1)  # recomputed: the one matmul lean costs
            del normed
            grad_act = F.linear(grad_out, weight2.t())
            grad_hidden = torch.ops.aten.gelu_backward(grad_act.to(hidden.dtype), hidden)
            del hidden, grad_act
            grad_normed = F.linear(grad_hidden, weight1.t())
        grad_bias1 = _sum_to(grad_hidden, bias1, needs[5])
        grad_bias2 = _sum_to(grad_out, bias2, needs[7])
        del grad_hidden
        grad_x, grad_norm_weight, grad_norm_bias = torch.ops.aten.native_layer_norm_backward(
            grad_normed.to(x.dtype), x, x.shape[-1:], mean, rstd, norm_weight, norm_bias,
            [needs[0], needs[1] and norm_weight is not None, needs[2] and norm_bias is not None])
        return grad_x, grad_norm_weight, grad_norm_bias, None, None, grad_bias1, None, grad_bias2


def _window_scores(q: Tensor, k: Tensor, bias: Tensor, mask: Optional[Tensor], scale: float) -> Tensor:
    """``q * scale @ k^T + bias (+ mask per window)``, as the upstream ``WindowMSA`` adds them: (B_, heads, N, N)."""
    attn = (q * scale) @ k.transpose(-2, -1) + bias.unsqueeze(0)
    if mask is not None:
        windows, heads, n = mask.shape[0], attn.shape[1], attn.shape[2]
        attn = (attn.view(-1, windows, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)).view(-1, heads, n, n)
    return attn


class WindowAttention(torch.autograd.Function):
    """``softmax(q * scale @ k^T + bias (+ mask)) @ v`` of a Swin window attention, keeping q, k, v, the bias and the
    mask only; the probabilities are recomputed in backward.

    Inputs: q, k, v (B_, heads, N, d), bias (heads, N, N; may train: BitFit's relative position bias table), mask
    (windows, N, N, or None; B_ is a multiple of windows), scale. Output (B_, heads, N, d).
    """

    @staticmethod
    def forward(ctx, q, k, v, bias, mask, scale):
        # the upstream WindowMSA's operations, in its order: the same output, bit for bit
        out = torch.softmax(_window_scores(q, k, bias, mask, scale), dim=-1) @ v
        ctx.scale = scale
        ctx.device_type = q.device.type
        ctx.autocast = _autocast_state(ctx.device_type)
        ctx.save_for_backward(q, k, v, bias, mask)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, bias, mask = ctx.saved_tensors
        scale = ctx.scale
        with torch.no_grad(), _autocast(ctx.device_type, ctx.autocast):
            attn = _window_scores(q, k, bias, mask, scale)
            probs = torch.softmax(attn, dim=-1, dtype=torch.float32 if attn.dtype != torch.float64 else None)
            del attn
            grad_out = grad_out.to(v.dtype)
            grad_v = probs.to(v.dtype).transpose(-2, -1) @ grad_out
            grad_probs = grad_out @ v.transpose(-2, -1)
            grad_scores = torch._softmax_backward_data(grad_probs.to(probs.dtype), probs, -1, probs.dtype)
            del probs, grad_probs
            grad_q = (grad_scores.to(q.dtype) @ k) * scale
            grad_k = grad_scores.to(q.dtype).transpose(-2, -1) @ (q * scale)
        grad_bias = grad_scores.sum(0).to(bias.dtype) if ctx.needs_input_grad[3] else None
        return grad_q, grad_k, grad_v, grad_bias, None, None


class LeanWindowMSAMixin:
    """The forward of mmdet's, mmseg's and mmpretrain's ``WindowMSA`` (identical in all three), with its core as
    :class:`WindowAttention` when its path is frozen and its attention dropout inactive; otherwise the upstream forward.
    Mixed in front of the upstream class (:func:`~mmpetl.models.blocks.petl_subclass`): same parameters and names."""

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        if not (torch.is_grad_enabled() and not self.qkv.weight.requires_grad and not self.proj.weight.requires_grad
                and not (self.training and self.attn_drop.p > 0)):
            return super().forward(x, mask)
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(N, N, -1)
        bias = bias.permute(2, 0, 1).contiguous()
        if not (q.requires_grad or bias.requires_grad):
            return super().forward(x, mask)
        out = WindowAttention.apply(q, k, v, bias, mask, self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, N, C)))


class LeanMultiheadAttentionMixin:
    """The forward of mmcv's ``MultiheadAttention`` (the attention of mmseg's ViT layer) with the torch
    ``nn.MultiheadAttention`` inside it computed through ``torch.nn.functional.scaled_dot_product_attention``, for
    self-attention without masks or positional encodings, when its projections are frozen and its attention dropout
    inactive; otherwise the upstream forward (so also without a graph: inference is the upstream code). Mixed in front
    of the upstream class (:func:`~mmpetl.models.blocks.petl_subclass`): same parameters and names.

    torch's attention keeps the (heads, N, N) probabilities for backward (and, before them, the scaled query);
    ``scaled_dot_product_attention`` keeps q, k, v (views of the input projection's output), its output and one
    log-sum-exp per row and query, and recomputes the probabilities in backward. The output and gradients equal the
    upstream ones to float rounding (the scale is applied inside the kernel, not to the query).
    """

    def forward(self, query, key=None, value=None, identity=None, query_pos=None, key_pos=None, attn_mask=None,
                key_padding_mask=None, **kwargs):
        mha = self.attn
        if not (key is None and value is None and query_pos is None and key_pos is None and attn_mask is None
                and key_padding_mask is None and not kwargs and query.dim() == 3 and torch.is_grad_enabled()
                and mha._qkv_same_embed_dim and mha.bias_k is None and not mha.add_zero_attn
                and not mha.in_proj_weight.requires_grad and not mha.out_proj.weight.requires_grad
                and not (mha.training and mha.dropout > 0)):
            return super().forward(query, key, value, identity, query_pos, key_pos, attn_mask, key_padding_mask,
                                   **kwargs)
        x = query if self.batch_first else query.transpose(0, 1)  # (B, N, C)
        B, N, C = x.shape
        qkv = F.linear(x, mha.in_proj_weight, mha.in_proj_bias)
        qkv = qkv.view(B, N, 3, mha.num_heads, C // mha.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        out = mha.out_proj(out.transpose(1, 2).reshape(B, N, C))
        if not self.batch_first:
            out = out.transpose(0, 1)
        return (query if identity is None else identity) + self.dropout_layer(self.proj_drop(out))


def lean_ffn(ffn: nn.Module, norm: nn.LayerNorm, x: Tensor) -> Optional[Tensor]:
    """``ffn(norm(x), identity=0)`` of an mmcv ``FFN`` through :class:`LeanMLP`, or None where it does not apply
    (trainable fc weights, active dropout, layer scale, not GELU, nothing needing a gradient)."""
    layers = ffn.layers
    fc1, drop1 = layers[0][0], layers[0][2]
    fc2, drop2 = layers[1], layers[2]
    if fc1.weight.requires_grad or fc2.weight.requires_grad or not torch.is_grad_enabled():
        return None
    if ffn.training and (drop1.p > 0 or drop2.p > 0):
        return None
    if not (x.requires_grad or any(p is not None and p.requires_grad
                                   for p in (norm.weight, norm.bias, fc1.bias, fc2.bias))):
        return None
    out = LeanMLP.apply(x, norm.weight, norm.bias, norm.eps, fc1.weight, fc1.bias, fc2.weight, fc2.bias)
    return ffn.dropout_layer(out)


def ffn_is_lean_capable(ffn: nn.Module, norm: nn.Module) -> Tuple[bool, str]:
    """Whether :func:`lean_ffn` can compute this mmcv ``FFN`` (fixed at build time), and why not."""
    layers = getattr(ffn, 'layers', None)
    if getattr(ffn, 'num_fcs', None) != 2 or layers is None or len(layers) != 3:
        return False, 'its FFN is not two Linear layers'
    act = layers[0][1]
    if not (isinstance(act, nn.GELU) and act.approximate == 'none'):
        return False, f'its FFN activation is {type(act).__name__}, not the exact GELU'
    if not isinstance(getattr(ffn, 'gamma2', nn.Identity()), nn.Identity):
        return False, 'its FFN has a layer scale'
    if not isinstance(norm, nn.LayerNorm) or len(norm.normalized_shape) != 1:
        return False, 'its MLP norm is not a LayerNorm over the channels'
    return True, ''


def check_lean_parts(parts) -> Optional[Tuple[str, ...]]:
    """``lean`` as PETLBackbone takes it: None (every part that applies) or a sequence of :data:`LEAN_PARTS`."""
    from .methods.options import PETLConfigError
    if parts is None:
        return None
    if isinstance(parts, str) or not isinstance(parts, Sequence) or \
            any(not isinstance(p, str) or p not in LEAN_PARTS for p in parts):
        raise PETLConfigError(f'PETLBackbone: lean must be None (every part that applies to the backbone) or a list '
                              f'of {", ".join(map(repr, LEAN_PARTS))} ([] turns it off); got {parts!r}')
    return tuple(parts)
