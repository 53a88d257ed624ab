"""The base of every PETL method: find the blocks, insert modules, say what trains, and the facts each method carries
about itself (its description, its documented trainable count, the figures papers reported for it)."""
import inspect
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from torch import nn

from ..blocks import BlockSpec, ForwardRecord, add_to_point, make_petl_block, spec_for


@dataclass(frozen=True)
class Reported:
    """A figure a paper reported (``value``, as printed in tables) and where (``source``); never measured here."""
    value: str
    source: str


#: The columns of paper-reported figures: key of :attr:`BasePETLMethod.reported` -> column header.
REPORTED_COLUMNS: Dict[str, str] = {
    'coco': 'COCO, Swin-B: params / box AP / mask AP',
    'swin_l': 'Swin-L: VOC AP / ADE20K mIoU',
}
#: Where the baselines', Mona's and E3VA's reported figures come from (V-PETL Bench, per column).
V_PETL_BENCH = {
    'coco': 'V-PETL Bench: Cascade Mask R-CNN, Swin-B, COCO',
    'swin_l': 'V-PETL Bench: Swin-L, RetinaNet on VOC / UperNet on ADE20K',
}


def v_petl_bench(coco: str, swin_l: str) -> Dict[str, Reported]:
    """A method's :attr:`~BasePETLMethod.reported` figures from V-PETL Bench (one value per column)."""
    return {'coco': Reported(coco, V_PETL_BENCH['coco']), 'swin_l': Reported(swin_l, V_PETL_BENCH['swin_l'])}


def block_widths(backbone: nn.Module) -> List[int]:
    """The width C of every transformer block of ``backbone`` the core knows, in forward order."""
    return [spec.channels(module) for module in backbone.modules() for spec in [spec_for(module)] if spec is not None]


class PETLModule(nn.Module):
    """A module a PETL method inserts into a backbone.

    Upstream ``init_weights()`` methods re-initialise every ``nn.Linear`` below them (mmdet/mmseg Swin), so the PETL
    backbone calls :meth:`init_weights` of every PETLModule after the upstream one: each module owns its initialisation.
    """

    #: Whether :meth:`fold` can add this module's update to the upstream weights: a linear update (LoRA) can, a
    #: module with a non-linearity (an adapter) cannot.
    can_fold = False

    def init_weights(self) -> None:
        raise NotImplementedError

    #: Whether :meth:`fold_branches` can rewrite this module's own tensors into a cheaper inference form that the
    #: method builds with ``folded=True`` (CoLin: one weight per projection instead of its factors and gates).
    can_fold_branches = False

    def fold_branches(self, name: str, state_dict: dict) -> None:
        """Rewrite this module's entries of ``state_dict`` (``name`` is this module's) into its ``folded=True``
        form, in place (``mmpetl.models.delta.fold_branches``). Only modules with ``can_fold_branches`` implement it."""
        raise NotImplementedError(f'{type(self).__name__} has no folded inference form')

    def fold(self, name: str, state_dict: dict) -> None:
        """Add this module's update to the upstream weights in ``state_dict`` (model-level names, changed in place;
        ``name`` is this module's), so that the upstream model computes what the PETL model does. The caller then drops
        this module's own entries (``mmpetl.models.delta.fold_lora``). Only modules with ``can_fold`` implement it."""
        raise NotImplementedError(f'{type(self).__name__} cannot be folded into the upstream weights')


class BasePETLMethod:
    """Attaches one parameter-efficient method to an upstream backbone.

    A method is one subclass, registered in ``mmpetl.registry.PETL_METHODS``. The hooks it may override:

    - :meth:`attach_block` — called once per transformer block the core knows (see :mod:`mmpetl.models.blocks`);
      insert modules at the block's insertion points with :meth:`add`.
    - :meth:`attach` — the whole-backbone version, for methods that also add modules outside the blocks (a side
      network), again with :meth:`add`.
    - :meth:`backbone_forward` — wraps the upstream backbone's forward (a highway or side network beside it).
    - :meth:`trains_upstream` — which *upstream* parameters train (BitFit, LN-tune, full); default none.
    - :meth:`extra_losses` — terms the method adds to the task's losses (CoLin's orthogonality loss); default none.
      ``mmpetl.PETLLossHook`` puts them into the losses dict the whole model returns in training.

    Every module a method inserts goes through :meth:`add`, and every parameter of those modules trains; everything
    else is frozen at construction time. The method object holds configuration and names, never modules used in the
    forward nor tensors: :meth:`backbone_forward` finds its modules on the backbone it is handed (a replica's own),
    and what they record during the forward in the call's :class:`~mmpetl.models.blocks.ForwardRecord`.

    What a method says about itself (read by the generic tests, ``tests/test_methods.py``, and the parameter table):
    :meth:`expected_trainable` (its documented trainable count), :meth:`description`, :attr:`reported`,
    :attr:`identity_at_init` (per options: :meth:`is_identity_at_init`), :attr:`replaces_outputs` and
    :attr:`supported_backbones`.

    Args:
        name (str): prefix of the attribute names of the inserted modules (a Mona module is ``...blocks.0.mona_attn``).
    """
    #: A method that legitimately trains nothing inside the backbone (the 'fixed' baseline) sets this to False.
    requires_trainable = True
    #: Whether the backbone computes exactly the upstream function right after construction and ``init_weights()``.
    identity_at_init = False
    #: Whether the backbone's outputs are the method's own (a side network's) rather than the upstream ones, with
    #: their container and shapes.
    replaces_outputs = False
    #: The upstream backbones (config types with scope, ``'mmdet.SwinTransformer'``) the method attaches to. None: every
    #: backbone with blocks the core knows (:func:`~mmpetl.models.blocks.supported_blocks`). The PETL backbone refuses
    #: any other at build time, naming the method, the backbone and these.
    supported_backbones: Optional[Tuple[str, ...]] = None
    #: Figures papers reported for the method (keys of :data:`REPORTED_COLUMNS`); never measured here.
    reported: Dict[str, Reported] = {}

    def __init__(self, name: str):
        self.name = name
        self.inserted: List[Tuple[str, nn.Module]] = []

    @classmethod
    def description(cls) -> str:
        """One line: the first paragraph of the class docstring."""
        return (inspect.getdoc(cls) or '').split('\n\n')[0].replace('\n', ' ')

    @classmethod
    def is_identity_at_init(cls, **options) -> bool:
        """Whether the backbone computes exactly the upstream function at init with ``options`` (the constructor's
        defaults for the others): :attr:`identity_at_init`, unless an option decides it (Adapter's ``init``)."""
        return cls.identity_at_init

    @classmethod
    def with_defaults(cls, **options) -> Dict[str, Any]:
        """``options`` completed with the defaults of the constructor's signature (the one place they are written)."""
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # without self
        return {**{p.name: p.default for p in params if p.default is not p.empty}, **options}

    @classmethod
    def expected_trainable(cls, backbone: nn.Module, **options) -> Optional[int]:
        """The documented closed-form count of trainable parameters of ``backbone``, a built PETL backbone carrying
        this method with ``options`` (its config without ``type``; the constructor's defaults for the others), or
        None where the method documents none. Computed from the formula, not from what the method marked trainable.
        """
        return None

    def blocks(self, backbone: nn.Module) -> Iterator[Tuple[str, nn.Module, BlockSpec]]:
        for name, module in backbone.named_modules():
            spec = spec_for(module)
            if spec is not None:
                yield name, module, spec

    def attach(self, backbone: nn.Module) -> None:
        for index, (name, block, spec) in enumerate(list(self.blocks(backbone))):
            self.attach_block(name, make_petl_block(backbone, block, spec), spec, index)

    def attach_block(self, name: str, block: nn.Module, spec: BlockSpec, index: int) -> None:
        """Insert this method's modules into one block (``index`` counts blocks through the whole backbone)."""

    def add(self, target: nn.Module, point: Optional[str], suffix: Optional[str], module: PETLModule) -> None:
        """Insert ``module`` as ``target.<name>_<suffix>`` (``target.<name>`` when ``suffix`` is None) at ``point``:

        - a block point (:data:`~mmpetl.models.blocks.POINTS`), ``target`` a block from :meth:`attach_block`;
        - ``'output'``: ``target`` any submodule, whose output ``module(output, *inputs)`` replaces (LoRA on a qkv
          projection);
        - None: a child that the method calls itself in :meth:`backbone_forward` (E3VA's norms, HST's side network).
        """
        attr = self.name if suffix is None else f'{self.name}_{suffix}'
        add_to_point(target, point, attr, module)
        self.inserted.append((attr, module))

    def trains_upstream(self, name: str, param: nn.Parameter) -> bool:
        return False

    def extra_losses(self, backbone: nn.Module) -> Dict[str, Any]:
        """``{name: scalar tensor}`` to add to the model's losses at each training step, from the modules of
        ``backbone`` (this method's PETL backbone). mmengine sums the entries whose name contains ``loss`` and logs
        them all (a name without ``loss`` is logged only)."""
        return {}

    def backbone_forward(self, backbone: nn.Module, record: ForwardRecord, forward, *args, **kwargs):
        """The PETL backbone's forward: ``forward(*args, **kwargs)`` is the upstream one of ``backbone`` (the module
        being called, a replica's own); ``record`` holds what its modules record during this call."""
        return forward(*args, **kwargs)


class SelectedUpstream(BasePETLMethod):
    """A method that trains a set of upstream parameters chosen in :meth:`attach` (by identity, not by name)."""

    def __init__(self, name: str):
        super().__init__(name=name)
        self.selected: Set[int] = set()

    def trains_upstream(self, name, param):
        return id(param) in self.selected
