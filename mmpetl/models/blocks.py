"""Upstream transformer blocks, re-expressed as two residual branches with insertion points.

mmpetl never copies an upstream backbone. To insert a method's modules *inside* a block (after a residual add, beside a
branch), it re-expresses the block's forward with the block's own submodules, once per upstream block family, in a
:class:`BlockSpec`. The PETL version of a block runs::

    x = block_input(x)                                 # point 'block_input'
    h = attn_branch(x)                                 # the upstream attention branch, without its residual;
                                                       # inside it, just before its drop-path (its last operation):
        h = attn_pre_drop_path_points(h, x)            #   point 'attn_pre_drop_path' (Adapter, by default)
    h = attn_branch_points(h, x)                       # point 'attn_branch'  (LoRand, E3VA taps, ...)
    x = x + h
    x = attn_residual_points(x)                        # point 'attn_residual' (Mona)
    h = mlp_branch(x)                                  # likewise, with point 'mlp_pre_drop_path' inside
    h = mlp_branch_points(h, x)                        # point 'mlp_branch'   (AdaptFormer, LoRand, ...)
    x = x + h
    x = mlp_residual_points(x)                         # point 'mlp_residual'  (Mona)

Modules registered at a point are called in registration order with these signatures:

- ``block_input``, ``attn_residual``, ``mlp_residual``: ``module(x, hw_shape) -> x``
- ``attn_pre_drop_path``, ``attn_branch``, ``mlp_pre_drop_path``, ``mlp_branch``:
  ``module(branch_out, branch_in, hw_shape) -> branch_out``

where ``x`` is the (B, N, C) token stream and ``hw_shape`` the (H, W) grid of its patch tokens. In a ViT the stream
may start with N - H*W extra tokens (the cls token). A block with no module at any point computes exactly what the
upstream block computes.

The ``*_pre_drop_path`` points see the branch output *before* the branch's drop-path (stochastic depth), so what they
return is dropped together with the branch (the Mona repository's adapter placement); the ``*_branch`` points see it
after (STAR-MMRotate's). Every upstream block family ends each branch with a drop-path module
(:meth:`BlockSpec.drop_path`); modules at a pre-drop-path point run in a forward pre-hook on that module, which
:func:`add_to_point` registers when the first module goes there (no hook, no change, while the point is empty).

Outside the blocks, :func:`add_to_point` knows two more places: :data:`OUTPUT_POINT`, the output of any submodule
(``module(output, *inputs) -> output`` in a forward hook: LoRA on a qkv projection), and ``None``, a plain child that
the method calls itself from its ``backbone_forward`` (E3VA's output norms, HST's side network).

What a module records during a forward for later in the same call (the patch grid, E3VA's and HST's taps) goes into
the call's :class:`ForwardRecord`, never into an attribute of a module.
"""
from contextvars import ContextVar
from typing import Any, Dict, List, Optional, Tuple

import torch.utils.checkpoint as cp
from torch import Tensor, nn

from .lean import (LeanMultiheadAttentionMixin, LeanWindowMSAMixin, ffn_is_lean_capable, lean_ffn,
                   lean_window_attention)

POINTS = ('block_input', 'attn_pre_drop_path', 'attn_branch', 'attn_residual', 'mlp_pre_drop_path', 'mlp_branch',
          'mlp_residual')
#: Pre-drop-path point -> its branch.
PRE_DROP_PATH_POINTS = {'attn_pre_drop_path': 'attn', 'mlp_pre_drop_path': 'mlp'}
#: The point on the output of any submodule (not only a block): ``module(output, *inputs) -> output``.
OUTPUT_POINT = 'output'

# The record of the innermost PETL backbone forward running in this thread (None outside one).
_OPEN_RECORD: ContextVar[Optional['ForwardRecord']] = ContextVar('mmpetl_forward_record', default=None)


class ForwardRecord:
    """What the modules of a PETL backbone record during one call of its forward, for later in the same call.

    The PETL backbone's forward opens one per call (``with ForwardRecord() as record:``) and hands it to its method's
    ``backbone_forward``. While it is open, modules that run inside the upstream forward, which can return nothing
    extra, store values with :meth:`put` under a key (themselves, or a shared key object); later in the same call the
    values are read with :meth:`get` or :meth:`take`: the patch grid a ViT's patch embedding recorded, by its blocks;
    E3VA's taps, by its highway; HST's kept tokens, by its side network. The record ends with the call, and what it
    holds with it.

    Why not attributes of the modules: a value left on a module between two moments of one call is overwritten by any
    other call of the same module in between (a forward run from a hook, another thread), outlives a call that raises,
    and is state that replicas and compiled graphs do not see. The open record is found through a
    :class:`contextvars.ContextVar`: a nested forward opens its own and restores the outer one when it ends, and each
    thread sees only its own.
    """

    def __init__(self):
        self._values: Dict[Any, Any] = {}
        self._token = None

    def __enter__(self) -> 'ForwardRecord':
        self._token = _OPEN_RECORD.set(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _OPEN_RECORD.reset(self._token)

    @staticmethod
    def put(key: Any, value: Any) -> None:
        """Store ``value`` under ``key`` in the open record. With none open, nothing is stored: no forward of a PETL
        backbone runs, so nothing would read it (a block re-run by activation checkpointing during backward)."""
        record = _OPEN_RECORD.get()
        if record is not None:
            record._values[key] = value

    @staticmethod
    def current(who: str) -> 'ForwardRecord':
        """The open record; ``who`` (the caller) is named in the error when there is none."""
        record = _OPEN_RECORD.get()
        if record is None:
            raise RuntimeError(f'{who} reads what was recorded earlier in the forward of its PETL backbone, and no '
                               'such forward is running: call the PETL backbone, not one of its parts on its own')
        return record

    def get(self, key: Any, who: str) -> Any:
        """The value stored under ``key`` in this call; ``who`` (the reader) is named in the error when there is none.
        """
        if key not in self._values:
            raise RuntimeError(f'{who}: nothing was recorded in this forward; it reads what the modules of the same '
                               'call recorded, after they ran')
        return self._values[key]

    def take(self, key: Any, who: str) -> Any:
        """:meth:`get`, and the value leaves the record (so that it is freed as soon as its reader is done)."""
        value = self.get(key, who)
        del self._values[key]
        return value


class BlockSpec:
    """How one family of upstream blocks splits into an attention branch and an MLP branch.

    Subclasses name the upstream classes they describe (``'package.module.Class'`` strings, so that no downstream
    library is imported to find them) and implement the two branches with the block's own submodules.
    """
    block_classes: Tuple[str, ...] = ()

    def channels(self, block: nn.Module) -> int:
        """Width C of the token stream."""
        raise NotImplementedError

    def bind(self, backbone: nn.Module, block: nn.Module) -> None:
        """Called once per block when it becomes a PETL block (a ViT block learns where to read its grid)."""

    def hw_shape(self, block: nn.Module, args: tuple, kwargs: dict) -> Tuple[int, int]:
        """The patch-token grid (H, W) of this forward; ``args``/``kwargs`` follow ``x`` in the upstream call."""
        raise NotImplementedError

    def attn_branch(self, block: nn.Module, x: Tensor, hw_shape) -> Tensor:
        raise NotImplementedError

    def mlp_branch(self, block: nn.Module, x: Tensor, hw_shape) -> Tensor:
        raise NotImplementedError

    def drop_path(self, block: nn.Module, branch: str) -> nn.Module:
        """The submodule that applies the drop-path of ``branch`` ('attn' or 'mlp'): the last operation of the branch,
        called once per branch call with the branch output as its only argument."""
        raise NotImplementedError

    def lean_support(self, block: nn.Module) -> Dict[str, str]:
        """For each part of :data:`~mmpetl.models.lean.LEAN_PARTS`, '' if this block can run it lean, else why not
        (:mod:`mmpetl.models.lean`)."""
        return {'mlp': 'no lean MLP for this block family', 'attention': 'no lean attention for this block family',
                'qkv': 'no lean qkv projection for this block family'}

    def make_lean(self, block: nn.Module, parts: Tuple[str, ...]) -> None:
        """Run ``parts`` of ``block`` lean from now on (each one supported, :meth:`lean_support`); ``'qkv'`` makes the
        attention lean too."""
        block.petl_lean = frozenset(parts)
        if 'attention' in parts or 'qkv' in parts:
            self.make_attention_lean(block)

    def make_attention_lean(self, block: nn.Module) -> None:
        raise NotImplementedError

    @staticmethod
    def run_mlp(block: nn.Module, ffn: nn.Module, norm: nn.Module, x: Tensor) -> Tensor:
        """``ffn(norm(x), identity=0)``: through :func:`~mmpetl.models.lean.lean_ffn` when the block's MLP is lean
        and it applies to this call."""
        if 'mlp' in getattr(block, 'petl_lean', ()):
            out = lean_ffn(ffn, norm, x)
            if out is not None:
                return out
        return ffn(norm(x), identity=0)


class SwinBlockSpec(BlockSpec):
    """The Swin block of mmdet, mmseg and mmpretrain (all three: ``norm1 -> attn(x, hw_shape)``, ``norm2 -> ffn``).

    ``attn`` (ShiftWindowMSA) applies its drop-path itself, last (``attn.drop``); mmcv's ``FFN`` adds its
    ``identity`` argument after its drop-path (``ffn.dropout_layer``), so ``identity=0`` yields the MLP branch alone.
    """
    block_classes = (
        'mmdet.models.backbones.swin.SwinBlock',
        'mmseg.models.backbones.swin.SwinBlock',
        'mmpretrain.models.backbones.swin_transformer.SwinBlock',
    )

    def channels(self, block):
        return block.norm1.normalized_shape[0]

    def hw_shape(self, block, args, kwargs):
        return kwargs['hw_shape'] if 'hw_shape' in kwargs else args[0]

    def attn_branch(self, block, x, hw_shape):
        if 'qkv' in getattr(block, 'petl_lean', ()):
            out = lean_window_attention(block.attn, block.norm1, x, hw_shape)
            if out is not None:
                return out
        return block.attn(block.norm1(x), hw_shape)

    def mlp_branch(self, block, x, hw_shape):
        return self.run_mlp(block, block.ffn, block.norm2, x)

    def drop_path(self, block, branch):
        return block.attn.drop if branch == 'attn' else block.ffn.dropout_layer

    #: The window attentions whose forward :class:`~mmpetl.models.lean.LeanWindowMSAMixin` re-expresses.
    window_attention_classes = ('mmdet.models.backbones.swin.WindowMSA', 'mmseg.models.backbones.swin.WindowMSA',
                                'mmpretrain.models.utils.attention.WindowMSA')

    def lean_support(self, block):
        ok, why = ffn_is_lean_capable(block.ffn, block.norm2)
        w_msa = getattr(block.attn, 'w_msa', None)
        attention = '' if w_msa is not None and class_path(upstream_class(w_msa)) in self.window_attention_classes \
            else 'its window attention is not one of ' + ', '.join(self.window_attention_classes)
        return {'mlp': '' if ok else why, 'attention': attention, 'qkv': attention}

    def make_attention_lean(self, block):
        w_msa = block.attn.w_msa
        if not isinstance(w_msa, LeanWindowMSAMixin):
            w_msa.__class__ = petl_subclass(LeanWindowMSAMixin, type(w_msa))
        w_msa.petl_lean_qkv = 'qkv' in block.petl_lean


class PatchGrid:
    """The key under which a ViT's patch grid (H, W) goes into the :class:`ForwardRecord` of each forward.

    ViT blocks are called with the tokens alone; the grid comes from the patch embedding, which returns
    ``(tokens, (H, W))`` in mmseg and mmpretrain: a forward hook on it records the grid (:meth:`record`), the blocks
    read it (:meth:`hw_shape`). One PatchGrid is shared by the backbone and its blocks; it holds nothing itself.
    """

    def record(self, module, args, output):
        ForwardRecord.put(self, tuple(output[1]))

    def hw_shape(self) -> Tuple[int, int]:
        """The grid of the running forward."""
        return ForwardRecord.current('A PETL ViT block').get(self, 'PatchGrid (the patch embedding runs first)')


class ViTBlockSpec(BlockSpec):
    """Shared part of the plain-ViT block specs: the grid comes from the backbone's ``patch_embed``."""

    def bind(self, backbone, block):
        if not hasattr(backbone, 'petl_patch_grid'):
            backbone.petl_patch_grid = PatchGrid()
            backbone.patch_embed.register_forward_hook(backbone.petl_patch_grid.record)
        block.petl_patch_grid = backbone.petl_patch_grid

    def hw_shape(self, block, args, kwargs):
        return block.petl_patch_grid.hw_shape()


#: Why a ViT's attention has no lean 'qkv' part.
SDPA_KEEPS_QKV = 'its attention runs torch.nn.functional.scaled_dot_product_attention, which keeps q, k and v'


class MMSegViTBlockSpec(ViTBlockSpec):
    """mmseg's ViT layer: ``x = attn(norm1(x), identity=x); x = ffn(norm2(x), identity=x)`` (mmcv bricks, which add
    ``identity`` after their drop-path: ``identity=0`` yields the branch alone)."""
    block_classes = ('mmseg.models.backbones.vit.TransformerEncoderLayer',)

    def channels(self, block):
        return block.norm1.normalized_shape[0]

    def attn_branch(self, block, x, hw_shape):
        return block.attn(block.norm1(x), identity=0)

    def mlp_branch(self, block, x, hw_shape):
        return self.run_mlp(block, block.ffn, block.norm2, x)

    def lean_support(self, block):
        ok, why = ffn_is_lean_capable(block.ffn, block.norm2)
        attention = '' if class_path(upstream_class(block.attn)) in self.attention_classes else \
            'its attention is not one of ' + ', '.join(self.attention_classes)
        return {'mlp': '' if ok else why, 'attention': attention, 'qkv': SDPA_KEEPS_QKV}

    #: The attentions whose forward :class:`~mmpetl.models.lean.LeanMultiheadAttentionMixin` re-expresses.
    attention_classes = ('mmcv.cnn.bricks.transformer.MultiheadAttention', )

    def make_attention_lean(self, block):
        if not isinstance(block.attn, LeanMultiheadAttentionMixin):
            block.attn.__class__ = petl_subclass(LeanMultiheadAttentionMixin, type(block.attn))

    def drop_path(self, block, branch):
        # mmseg builds the attention without a drop-path: its dropout_layer is mmcv's default Dropout(0).
        return block.attn.dropout_layer if branch == 'attn' else block.ffn.dropout_layer


class MMPretrainViTBlockSpec(ViTBlockSpec):
    """mmpretrain's ViT layer: ``x = x + attn(ln1(x)); x = ffn(ln2(x), identity=x)``."""
    block_classes = ('mmpretrain.models.backbones.vision_transformer.TransformerEncoderLayer',)

    def channels(self, block):
        return block.ln1.normalized_shape[0]

    def attn_branch(self, block, x, hw_shape):
        return block.attn(block.ln1(x))

    def mlp_branch(self, block, x, hw_shape):
        return self.run_mlp(block, block.ffn, block.ln2, x)

    def lean_support(self, block):
        ok, why = ffn_is_lean_capable(block.ffn, block.ln2)
        return {'mlp': '' if ok else why,
                'attention': 'its attention already runs torch.nn.functional.scaled_dot_product_attention',
                'qkv': SDPA_KEEPS_QKV}

    def drop_path(self, block, branch):
        return block.attn.out_drop if branch == 'attn' else block.ffn.dropout_layer


BLOCK_SPECS: List[BlockSpec] = [SwinBlockSpec(), MMSegViTBlockSpec(), MMPretrainViTBlockSpec()]


def class_path(obj_or_cls) -> str:
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return f'{cls.__module__}.{cls.__qualname__}'


def spec_for(module: nn.Module) -> Optional[BlockSpec]:
    """The spec describing ``module``'s upstream class, or None (PETL blocks are looked up by their upstream class)."""
    path = class_path(upstream_class(module))
    for spec in BLOCK_SPECS:
        if path in spec.block_classes:
            return spec
    return None


def supported_blocks() -> List[str]:
    return [path for spec in BLOCK_SPECS for path in spec.block_classes]


class PETLBlockMixin:
    """Forward of an upstream block with insertion points; mixed in front of the block's own class.

    Attributes set by :func:`make_petl_block`: ``petl_spec`` (the :class:`BlockSpec`) and ``petl_points`` (point name ->
    names of the block's child modules registered there).
    """
    petl_spec: BlockSpec
    petl_points: Dict[str, List[str]]

    def forward(self, x: Tensor, *args, **kwargs) -> Tensor:
        hw_shape = self.petl_spec.hw_shape(self, args, kwargs)

        def inner_forward(x):
            x = self._run_residual_point('block_input', x, hw_shape)
            h = self._run_branch('attn', x, hw_shape)
            x = x + self._run_branch_point('attn_branch', h, x, hw_shape)
            x = self._run_residual_point('attn_residual', x, hw_shape)
            h = self._run_branch('mlp', x, hw_shape)
            x = x + self._run_branch_point('mlp_branch', h, x, hw_shape)
            return self._run_residual_point('mlp_residual', x, hw_shape)

        # Honour the upstream block's activation checkpointing switch.
        if getattr(self, 'with_cp', False) and x.requires_grad:
            return cp.checkpoint(inner_forward, x, use_reentrant=False)
        return inner_forward(x)

    def _run_branch(self, branch, x, hw_shape):
        """The upstream ``branch`` ('attn' or 'mlp') on ``x``. If modules sit at its pre-drop-path point, the pre-hook
        on the branch's drop-path module (:func:`_before_drop_path`) runs them, with this call's ``x`` and grid."""
        run = self.petl_spec.attn_branch if branch == 'attn' else self.petl_spec.mlp_branch
        point = f'{branch}_pre_drop_path'
        if not self.petl_points[point]:
            return run(self, x, hw_shape)
        drop_path = self.petl_spec.drop_path(self, branch)
        # Restored afterwards, not cleared: a forward nested in the branch (run from a hook) leaves this call's intact.
        outer = getattr(drop_path, 'petl_before_drop_path', None)
        drop_path.petl_before_drop_path = lambda h: self._run_branch_point(point, h, x, hw_shape)
        try:
            return run(self, x, hw_shape)
        finally:
            drop_path.petl_before_drop_path = outer

    def _run_residual_point(self, point, x, hw_shape):
        for name in self.petl_points[point]:
            x = getattr(self, name)(x, hw_shape)
        return x

    def _run_branch_point(self, point, h, x, hw_shape):
        for name in self.petl_points[point]:
            h = getattr(self, name)(h, x, hw_shape)
        return h


_PETL_CLASSES: Dict[Tuple[type, type], type] = {}
_UPSTREAM_CLASSES: Dict[type, type] = {}  # PETL class -> its upstream class


def petl_subclass(mixin: type, cls: type) -> type:
    """``PETL<cls>``: a subclass of ``cls`` with ``mixin`` in front (cached; like torch's parametrize). Every PETL
    class, of a backbone (``PETLBackboneMixin``) or of a block (:class:`PETLBlockMixin`), is made here."""
    key = (mixin, cls)
    if key not in _PETL_CLASSES:
        _PETL_CLASSES[key] = type(f'PETL{cls.__name__}', (mixin, cls), {'__module__': cls.__module__})
        _UPSTREAM_CLASSES[_PETL_CLASSES[key]] = cls
    return _PETL_CLASSES[key]


def upstream_class(obj_or_cls) -> type:
    """The upstream class of a PETL class or of an instance of one (``PETLSwinTransformer`` -> the upstream
    ``SwinTransformer``), for backbones and blocks alike; any other class is its own upstream class."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return _UPSTREAM_CLASSES.get(cls, cls)


def upstream_type(obj_or_cls) -> str:
    """The upstream class as a config's ``type`` names it, with its library's scope (``'mmdet.SwinTransformer'``)."""
    cls = upstream_class(obj_or_cls)
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}"


def make_petl_block(backbone: nn.Module, block: nn.Module, spec: BlockSpec) -> nn.Module:
    """Turn ``block`` of ``backbone`` in place into its PETL version (same parameters, same names, same output until
    modules are added)."""
    if not isinstance(block, PETLBlockMixin):
        block.__class__ = petl_subclass(PETLBlockMixin, type(block))
        block.petl_spec = spec
        block.petl_points = {point: [] for point in POINTS}
        spec.bind(backbone, block)
    return block


def _before_drop_path(drop_path: nn.Module, args: tuple):
    """Forward pre-hook on a branch's drop-path module: the modules of the branch's pre-drop-path point transform the
    branch output before it is dropped (set up for each call by ``PETLBlockMixin._run_branch``)."""
    run = getattr(drop_path, 'petl_before_drop_path', None)
    if run is None:
        raise RuntimeError(f'{type(drop_path).__name__} carries a pre-drop-path insertion point and was called outside '
                           'the branch of its PETL block')
    return (run(args[0]), *args[1:])


def _after_output(target: nn.Module, args: tuple, output):
    """Forward hook of a module with modules at its :data:`OUTPUT_POINT`: they transform its output in turn."""
    for name in target.petl_output_modules:
        output = getattr(target, name)(output, *args)
    return output


def add_to_point(target: nn.Module, point: Optional[str], name: str, module: nn.Module) -> None:
    """Register ``module`` as child ``name`` of ``target`` and call it at ``point``.

    ``point`` is one of :data:`POINTS` (``target`` is a PETL block, :func:`make_petl_block`), :data:`OUTPUT_POINT`
    (``target`` is any module; ``module(output, *inputs)`` replaces its output, in a forward hook registered with the
    first module there) or None (a child only, called by the method itself).
    """
    if point is not None and point != OUTPUT_POINT and point not in POINTS:
        raise ValueError(f'Unknown insertion point {point!r}; valid points: {", ".join(POINTS)}, '
                         f'{OUTPUT_POINT!r} or None')
    if point in POINTS and not isinstance(target, PETLBlockMixin):
        raise ValueError(f'Insertion point {point!r} is a point of a PETL block; {type(target).__name__} is not one '
                         '(BasePETLMethod.attach_block receives the blocks)')
    if hasattr(target, name):
        raise ValueError(f'{type(target).__name__} already has an attribute {name!r}')
    if point in PRE_DROP_PATH_POINTS and not target.petl_points[point]:
        target.petl_spec.drop_path(target, PRE_DROP_PATH_POINTS[point]).register_forward_pre_hook(_before_drop_path)
    if point == OUTPUT_POINT and not hasattr(target, 'petl_output_modules'):
        target.petl_output_modules = []
        target.register_forward_hook(_after_output)
    target.add_module(name, module)
    if point == OUTPUT_POINT:
        target.petl_output_modules.append(name)
    elif point is not None:
        target.petl_points[point].append(name)
