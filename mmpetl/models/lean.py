"""Lean frozen blocks: a frozen block keeps for backward only what its input gradient needs.

A PETL method that inserts modules inside a frozen backbone (Mona, Adapter, LoRA, AdaptFormer, LoRand, CoLin, BitFit,
LN-tune, Partial-1's frozen stages) backpropagates through every frozen block to reach the modules below. Autograd
does not keep a frozen ``nn.Linear``'s input (no weight gradient), but it still keeps, per token and block, what the
input gradient passes through: the MLP's hidden (4C floats, the GELU's input) and, in the attention, the scaled query
and the attention probabilities (C + heads * window floats in a Swin) besides q, k and v. The parts here compute the
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
- ``'qkv'``, Swin (:class:`WindowQKVAttention`, :func:`lean_window_attention`; the attention is then lean too): the
  block's ``norm1`` and window attention as one function from the block's input, which the norm keeps anyway: q, k
  and v (3C floats per token) are not kept, nor the norm's shifted, partitioned output (C); in backward the window
  tokens are rebuilt (the norm, then a gather by an index that the upstream ``ShiftWindowMSA`` computes itself,
  :func:`window_index`) and q, k and v recomputed, at the cost of the qkv projection once more. LoRA's q and v
  updates are computed inside (``LoRAQV.low_rank_factors``); a qkv projection whose output anything else transforms
  keeps q, k and v (the ``'attention'`` function).
- ``'attention'``, mmseg's ViT (:class:`LeanMultiheadAttentionMixin`): its global attention (torch's
  ``nn.MultiheadAttention``, which keeps the probabilities) through ``scaled_dot_product_attention``. mmpretrain's
  ViT attention already runs ``scaled_dot_product_attention`` upstream.
- ``'bottleneck'`` (:class:`LeanBottleneck`): not a frozen part but the method's own bottleneck, ``up(dropout(GELU(
  down(x))))`` of the Houlsby adapter and AdaptFormer and LoRand's ``C -> C/2 -> C``, keeping x, the GELU's input and
  the dropout mask (as booleans), where autograd also keeps the GELU's output and the dropout's output (and the
  dropout's float noise on the CPU): those are recomputed in backward, elementwise. The same dropout draws as
  ``nn.Dropout``.

Each frozen part applies only where the block's weights on that path are frozen and its dropouts inactive (p = 0 or
eval) — so a Partial-1 stage that trains, Full, or a ``ffn_drop`` in training run the upstream code — and only when
something needs a gradient. Gradients of trained LayerNorm parameters (LN-tune) and biases (BitFit, the relative
position bias table included) are computed. Outputs and gradients equal the upstream blocks' to float32 rounding
(``tests/test_lean.py``, every block family and method). ``mmpetl.PETLBackbone(lean=...)`` chooses the parts; none by
default, since the recomputation costs time (measured in ``docs/benchmark.md``, "Lean frozen blocks and
bottlenecks").
"""
import contextlib
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: The parts that can be lean, in the order of :data:`LEAN_FAMILIES`' entries.
LEAN_PARTS = ('mlp', 'attention', 'qkv', 'bottleneck')


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
        with torch.no_grad(), _autocast(ctx.device_type, ctx.autocast):
            grad_q, grad_k, grad_v, grad_bias = _window_attention_backward(
                q, k, v, bias, mask, ctx.scale, grad_out, ctx.needs_input_grad[3])
        return grad_q, grad_k, grad_v, grad_bias, None, None


def _window_attention_backward(q, k, v, bias, mask, scale, grad_out, bias_needed):
    """The gradients of :class:`WindowAttention`'s output with respect to q, k, v and the bias (None if not
    ``bias_needed``), the probabilities recomputed. Call without a graph, under the forward's autocast state."""
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
    grad_bias = grad_scores.sum(0).to(bias.dtype) if bias_needed else None
    return grad_q, grad_k, grad_v, grad_bias


def _project_qkv(x, weight, bias, lora, scaling):
    """A window attention's ``qkv(x)`` (B_, N, 3C), with LoRA's q and v updates where ``lora`` holds its four
    weights (``q_down, q_up, v_down, v_up``), in the operations and order of ``LoRAQV.forward``; also the updates'
    rank-r inner activations (None without LoRA)."""
    qkv = F.linear(x, weight, bias)
    if lora[0] is None:
        return qkv, None
    q_down, q_up, v_down, v_up = lora
    inner_q, inner_v = F.linear(x, q_down), F.linear(x, v_down)
    q, k, v = qkv.chunk(3, dim=-1)
    q = q + scaling * F.linear(inner_q, q_up)
    v = v + scaling * F.linear(inner_v, v_up)
    return torch.cat((q, k, v), dim=-1), (inner_q, inner_v)


def _heads(qkv: Tensor, num_heads: int) -> Tensor:
    """(B_, N, 3C) -> (3, B_, heads, N, C / heads), as the upstream ``WindowMSA`` splits q, k and v."""
    B, N, C3 = qkv.shape
    return qkv.reshape(B, N, 3, num_heads, C3 // (3 * num_heads)).permute(2, 0, 3, 1, 4)


def _windows(normed: Tensor, index: Tensor) -> Tensor:
    """The (B * windows, N, C) window tokens of a (B, L, C) map: ``index`` (windows, N) holds each window token's
    position in one image's map, or L for padding (a zero token); the upstream pad, shift and partition."""
    B, L, C = normed.shape
    flat = torch.cat((normed.reshape(B * L, C), normed.new_zeros(1, C)))
    return flat[_batch_index(index, B, L)]


def _batch_index(index: Tensor, batch: int, length: int) -> Tensor:
    """:func:`_windows`' index for ``batch`` images: image b's tokens at b * L + position, padding at B * L."""
    offsets = torch.arange(batch, device=index.device).view(batch, 1, 1) * length
    return torch.where(index < length, index + offsets, batch * length).flatten(0, 1)


class WindowQKVAttention(torch.autograd.Function):
    """A Swin window attention from its input: ``softmax(q * scale @ k^T + bias (+ mask)) @ v`` with
    ``q, k, v = qkv(x)`` (plus LoRA's q and v updates), keeping x only (C floats per token, where
    :class:`WindowAttention` keeps q, k and v, 3C): q, k, v and the probabilities are recomputed in backward, at the
    cost of the qkv projection once more.

    With ``source`` (the block's norm input, the norm's weight, bias, eps and statistics, and the window index of
    :func:`window_index`), x is the upstream ``norm1`` output shifted and partitioned into windows (computed without
    a graph), and what is kept is the norm's input instead, which the norm keeps anyway: x is rebuilt in backward
    from it (the norm, then a gather), and the gradient goes through the norm to its input and parameters.

    Inputs: x (B_, N, C), the qkv weight (3C, C; frozen) and bias (3C or None; may train: BitFit), the relative
    position bias (heads, N, N; may train), mask (windows, N, N, or None), LoRA's q_down (r, C), q_up (C, r), v_down,
    v_up (all four None without LoRA), scale, heads, LoRA's scaling, then the source: the norm input (B, L, C) (or
    None: no source), its weight and bias (may train: LN-tune), eps, mean and rstd (B, L, 1), the index. Output
    (B_, heads, N, C / heads), the upstream operations in the upstream order (the same output, bit for bit).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, rel_bias, mask, q_down, q_up, v_down, v_up, scale, num_heads, scaling,
                source, norm_weight, norm_bias, eps, mean, rstd, index):
        lora = (q_down, q_up, v_down, v_up)
        q, k, v = _heads(_project_qkv(x, weight, bias, lora, scaling)[0], num_heads)
        out = torch.softmax(_window_scores(q, k, rel_bias, mask, scale), dim=-1) @ v
        ctx.scale, ctx.num_heads, ctx.scaling, ctx.eps = scale, num_heads, scaling, eps
        ctx.device_type = x.device.type
        ctx.autocast = _autocast_state(ctx.device_type)
        kept = x if source is None else source
        ctx.save_for_backward(kept, weight, bias, rel_bias, mask, *lora, norm_weight, norm_bias, mean, rstd, index)
        ctx.has_source = source is not None
        return out

    @staticmethod
    def backward(ctx, grad_out):
        kept, weight, bias, rel_bias, mask, *lora, norm_weight, norm_bias, mean, rstd, index = ctx.saved_tensors
        lora = tuple(lora)
        needs = ctx.needs_input_grad
        need_x = needs[0] or (ctx.has_source and any(needs[12:15]))
        with torch.no_grad(), _autocast(ctx.device_type, ctx.autocast):
            if ctx.has_source:  # the window tokens rebuilt from the norm's input
                normed = (kept - mean) * rstd
                if norm_weight is not None:
                    normed = normed * norm_weight
                if norm_bias is not None:
                    normed = normed + norm_bias
                x = _windows(normed.to(kept.dtype), index)
                del normed
            else:
                x = kept
            qkv, inner = _project_qkv(x, weight, bias, lora, ctx.scaling)  # recomputed: the matmul this part costs
            q, k, v = _heads(qkv, ctx.num_heads)
            del qkv
            grad_q, grad_k, grad_v, grad_rel_bias = _window_attention_backward(
                q, k, v, rel_bias, mask, ctx.scale, grad_out, needs[3])
            del q, k, v
            B, N, C = x.shape
            grad_qkv = torch.stack((grad_q, grad_k, grad_v)).permute(1, 3, 0, 2, 4).reshape(B, N, 3 * C)
            del grad_q, grad_k, grad_v
            grad_x = F.linear(grad_qkv, weight.t().to(grad_qkv.dtype)) if need_x else None
            grad_lora = [None] * 4
            if inner is not None:
                flat_x = x.reshape(-1, C)
                for third, (down, up), hidden in zip((0, 2), ((0, 1), (2, 3)), inner):
                    grad_part = grad_qkv[..., third * C:(third + 1) * C] * ctx.scaling
                    grad_hidden = F.linear(grad_part, lora[up].t().to(grad_part.dtype))
                    if needs[5 + up]:
                        grad_lora[up] = (grad_part.reshape(-1, C).t() @ hidden.reshape(-1, hidden.shape[-1]))
                    if needs[5 + down]:
                        grad_lora[down] = grad_hidden.reshape(-1, hidden.shape[-1]).t() @ flat_x.to(grad_hidden.dtype)
                    if grad_x is not None:
                        grad_x = grad_x + F.linear(grad_hidden, lora[down].t().to(grad_hidden.dtype))
            del x
        grad_bias = _sum_to(grad_qkv, bias, needs[2])
        grad_lora = [g.to(w.dtype) if g is not None else None for g, w in zip(grad_lora, lora)]
        grad_source = grad_norm_weight = grad_norm_bias = None
        if ctx.has_source and grad_x is not None:  # back through the gather and the norm
            batch, length = kept.shape[:2]
            grad_normed = grad_x.new_zeros(batch * length + 1, C).index_add_(
                0, _batch_index(index, batch, length).flatten(), grad_x.reshape(-1, C))
            del grad_x
            grad_source, grad_norm_weight, grad_norm_bias = torch.ops.aten.native_layer_norm_backward(
                grad_normed[:-1].view(kept.shape).to(kept.dtype), kept, kept.shape[-1:], mean, rstd, norm_weight,
                norm_bias, [needs[12], needs[13] and norm_weight is not None, needs[14] and norm_bias is not None])
            grad_x = None
        elif grad_x is not None:
            grad_x = grad_x.to(kept.dtype)
        return (grad_x, None, grad_bias, grad_rel_bias, None, *grad_lora, None, None, None,
                grad_source, grad_norm_weight, grad_norm_bias, None, None, None, None)


class _WindowsCaptured(Exception):
    """Raised by a lean ``WindowMSA`` in :func:`window_index`'s call: the upstream forward stops there."""


def window_index(attn: nn.Module, hw_shape: Tuple[int, int]) -> Tensor:
    """For a Swin ``ShiftWindowMSA`` ``attn`` (mmdet's, mmseg's or mmpretrain's) on an (H, W) map: a (windows, N) long
    tensor, each window token's position in one image's map (L = H * W for padding), found by running the upstream
    forward on the positions themselves, up to its window attention (its own pad, shift and partition), once per
    map shape and device."""
    cache = attn.__dict__.setdefault('petl_window_index', {})
    key = (tuple(hw_shape), attn.w_msa.qkv.weight.device)
    if key not in cache:
        H, W = hw_shape
        positions = torch.arange(1, H * W + 1, dtype=torch.float64, device=key[1]).view(1, H * W, 1)
        attn.w_msa.petl_capture = True
        try:
            with torch.no_grad():
                attn(positions, hw_shape)
            raise RuntimeError(f'{type(attn).__name__} did not call its window attention')
        except _WindowsCaptured as captured:
            index = captured.args[0][..., 0].round().long() - 1  # padding (0) -> -1
        finally:
            del attn.w_msa.petl_capture
        cache[key] = torch.where(index < 0, H * W, index)
    return cache[key]


def lean_window_attention(attn: nn.Module, norm: nn.Module, x: Tensor, hw_shape) -> Optional[Tensor]:
    """``attn(norm(x), hw_shape)`` of a Swin block whose window attention runs lean with ``'qkv'``, keeping the
    norm's input only (:class:`WindowQKVAttention` with a source), or None where that does not apply (then the
    caller runs the upstream code)."""
    w_msa = attn.w_msa
    if not (isinstance(w_msa, LeanWindowMSAMixin) and w_msa.petl_lean_qkv and w_msa.lean_applies()
            and isinstance(norm, nn.LayerNorm) and len(norm.normalized_shape) == 1):
        return None
    lora = w_msa._lora()
    if lora is None:
        return None
    trained = [norm.weight, norm.bias, w_msa.qkv.bias, w_msa.relative_position_bias_table, *lora[0]]
    if not (x.requires_grad or any(t is not None and t.requires_grad for t in trained)):
        return None
    with torch.no_grad():
        normed, mean, rstd = torch.native_layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    w_msa.petl_source = (x, norm, mean, rstd, window_index(attn, hw_shape))
    try:
        return attn(normed, hw_shape)
    finally:
        del w_msa.petl_source


class LeanWindowMSAMixin:
    """The forward of mmdet's, mmseg's and mmpretrain's ``WindowMSA`` (identical in all three), with its core as
    :class:`WindowAttention` when its path is frozen and its attention dropout inactive; otherwise the upstream forward.
    Mixed in front of the upstream class (:func:`~mmpetl.models.blocks.petl_subclass`): same parameters and names."""

    #: Set by the block spec: q, k and v recomputed from the input too (:class:`WindowQKVAttention`, lean part 'qkv').
    petl_lean_qkv = False

    def lean_applies(self) -> bool:
        """Whether this call can run lean: a graph is built, the projections are frozen, no attention dropout."""
        return (torch.is_grad_enabled() and not self.qkv.weight.requires_grad and not self.proj.weight.requires_grad
                and not (self.training and self.attn_drop.p > 0))

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        if getattr(self, 'petl_capture', False):  # window_index(): the window tokens are the positions
            raise _WindowsCaptured(x)
        source = getattr(self, 'petl_source', None)  # set by lean_window_attention() for this call
        if source is None and not self.lean_applies():
            return super().forward(x, mask)
        B, N, C = x.shape
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(N, N, -1)
        bias = bias.permute(2, 0, 1).contiguous()
        lora = self._lora() if self.petl_lean_qkv else None
        if lora is not None:
            factors, scaling = lora
            trained = [bias, self.qkv.bias, *factors]
            if source is None and not (x.requires_grad or any(t is not None and t.requires_grad for t in trained)):
                return super().forward(x, mask)
            norm_input, norm, mean, rstd, index = source if source is not None else (None, None, None, None, None)
            out = WindowQKVAttention.apply(
                x, self.qkv.weight, self.qkv.bias, bias, mask, *factors, self.scale, self.num_heads, scaling,
                norm_input, getattr(norm, 'weight', None), getattr(norm, 'bias', None), getattr(norm, 'eps', None),
                mean, rstd, index)
        else:
            q, k, v = _heads(self.qkv(x), self.num_heads)  # a module call: a transform at its output applies
            if not (q.requires_grad or bias.requires_grad):
                return super().forward(x, mask)
            out = WindowAttention.apply(q, k, v, bias, mask, self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, N, C)))

    def _lora(self):
        """``((q_down, q_up, v_down, v_up), scaling)`` for :class:`WindowQKVAttention`: four Nones and 1 when nothing
        transforms the qkv projection's output, LoRA's weights when LoRA alone does; None when something else does
        (then q, k and v are kept: :class:`WindowAttention`)."""
        names = getattr(self.qkv, 'petl_output_modules', [])
        if not names:
            return (None, ) * 4, 1.0
        factors = getattr(getattr(self.qkv, names[0]), 'low_rank_factors', None) if len(names) == 1 else None
        return factors() if factors is not None else None


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


def _product(a: Tensor, weight: Tensor, right: bool) -> Tensor:
    """``a @ weight`` (``right``: weight (in, out)) or ``F.linear(a, weight)`` (weight (out, in)), without bias."""
    return a @ weight.to(a.dtype) if right else F.linear(a, weight.to(a.dtype))


def _weight_grad(grad: Tensor, a: Tensor, right: bool) -> Tensor:
    """The gradient of the weight of :func:`_product` from its output gradient and its input, summed over tokens."""
    grad, a = grad.reshape(-1, grad.shape[-1]), a.reshape(-1, a.shape[-1]).to(grad.dtype)
    return a.t() @ grad if right else grad.t() @ a


def _bottleneck(x, down_weight, down_bias, up_weight, up_bias, dropout, right):
    """``(output, the GELU's input, the dropout's keep mask or None)`` of :class:`LeanBottleneck`'s function, in the
    upstream modules' operations and order; the dropout (``dropout`` > 0: training) drawn by ``F.dropout`` on a
    tensor shaped like the GELU's output, so from the same random numbers as ``nn.Dropout`` there."""
    inner = _product(x, down_weight, right) + down_bias if right else F.linear(x, down_weight, down_bias)
    act = F.gelu(inner)
    keep = None
    if dropout > 0:
        noise = F.dropout(torch.ones_like(act), dropout, True)
        act, keep = act * noise, noise != 0
        del noise
    out = _product(act, up_weight, right) + up_bias if right else F.linear(act, up_weight, up_bias)
    return out, inner, keep


class LeanBottleneck(torch.autograd.Function):
    """A method's bottleneck ``up(dropout(GELU(down(x))))`` (exact GELU) keeping x, the GELU's input and the dropout
    mask (as booleans): the GELU's output and the dropout's output, which autograd keeps as well, are recomputed in
    backward (elementwise; no matmul). The bottleneck of the Houlsby adapter and AdaptFormer
    (``methods/adapter.py``) and LoRand's (``methods/lorand.py``, whose weights are products of trained factors).

    Inputs: x (..., C), the down weight and bias, the up weight and bias, the dropout probability (0: none, or not
    training), ``right``: the weights are (in, out), applied as ``a @ weight + bias`` (LoRand's code), rather than
    ``F.linear``'s (out, in). The forward runs the upstream modules' operations in their order (the same output, bit
    for bit, and the same dropout draws).
    """

    @staticmethod
    def forward(ctx, x, down_weight, down_bias, up_weight, up_bias, dropout, right):
        out, inner, keep = _bottleneck(x, down_weight, down_bias, up_weight, up_bias, dropout, right)
        ctx.right, ctx.dropout = right, dropout
        ctx.device_type = x.device.type
        ctx.autocast = _autocast_state(ctx.device_type)
        ctx.save_for_backward(x, inner, keep, down_weight, down_bias, up_weight, up_bias)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, inner, keep, down_weight, down_bias, up_weight, up_bias = ctx.saved_tensors
        needs, right = ctx.needs_input_grad, ctx.right
        with torch.no_grad(), _autocast(ctx.device_type, ctx.autocast):
            act = F.gelu(inner)  # recomputed, with the dropout: elementwise
            grad_out = grad_out.to(act.dtype)
            grad_act = _product(grad_out, up_weight.t(), right)
            if keep is not None:
                noise = keep.to(act.dtype) / (1 - ctx.dropout)  # F.dropout's values
                act, grad_act = act * noise, grad_act * noise
                del noise
            grad_up = _weight_grad(grad_out, act, right) if needs[3] else None
            del act
            grad_inner = torch.ops.aten.gelu_backward(grad_act.to(inner.dtype), inner)
            del grad_act
            grad_down = _weight_grad(grad_inner, x, right) if needs[1] else None
            grad_x = _product(grad_inner, down_weight.t(), right) if needs[0] else None
        grads = (grad_x, grad_down, _sum_to(grad_inner, down_bias, needs[2]), grad_up,
                 _sum_to(grad_out, up_bias, needs[4]))
        return (*(g.to(like.dtype) if g is not None else None
                  for g, like in zip(grads, (x, down_weight, down_bias, up_weight, up_bias))), None, None)


def bottleneck(x: Tensor, down_weight: Tensor, down_bias: Tensor, up_weight: Tensor, up_bias: Tensor,
               dropout: float = 0.0, right: bool = False) -> Tensor:
    """``up(dropout(GELU(down(x))))`` (``dropout``: the probability in training, else 0) through
    :class:`LeanBottleneck` when it builds a graph, else the same operations without one."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x, down_weight, down_bias, up_weight, up_bias)):
        return LeanBottleneck.apply(x, down_weight, down_bias, up_weight, up_bias, dropout, right)
    return _bottleneck(x, down_weight, down_bias, up_weight, up_bias, dropout, right)[0]


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


def bottleneck_support(block: nn.Module) -> str:
    """'' if ``block`` holds a method bottleneck that can be lean (a module with a ``lean_bottleneck`` attribute:
    the Houlsby adapter's, AdaptFormer's, LoRand's), else why not."""
    if any(hasattr(module, 'lean_bottleneck') for module in block.modules()):
        return ''
    return "it holds no method bottleneck (the part applies to Adapter's, AdaptFormer's and LoRand's)"


def make_bottlenecks_lean(block: nn.Module, lean: bool) -> None:
    """Set whether the method bottlenecks of ``block`` run through :func:`bottleneck`."""
    for module in block.modules():
        if hasattr(module, 'lean_bottleneck'):
            module.lean_bottleneck = lean


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
