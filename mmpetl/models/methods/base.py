"""The base of every PETL method: find the blocks, insert modules, say what trains."""
from typing import Iterator, List, Tuple

from torch import nn

from ..blocks import BlockSpec, add_to_point, make_petl_block, spec_for


class PETLModule(nn.Module):
    """A module a PETL method inserts into a backbone.

    Upstream ``init_weights()`` methods re-initialise every ``nn.Linear`` below them (mmdet/mmseg Swin), so the PETL
    backbone calls :meth:`init_weights` of every PETLModule after the upstream one: each module owns its initialisation.
    """

    def init_weights(self) -> None:
        raise NotImplementedError


class BasePETLMethod:
    """Attaches one parameter-efficient method to an upstream backbone.

    A method is one subclass, registered in ``mmpetl.registry.PETL_METHODS``. The hooks it may override:

    - :meth:`attach_block` — called once per transformer block the core knows (see :mod:`mmpetl.models.blocks`);
      insert modules at the block's insertion points with :meth:`add`.
    - :meth:`attach` — the whole-backbone version, for methods that wrap layers (LoRA) or add a side network.
    - :meth:`backbone_forward` — wraps the upstream backbone's forward (a highway or side network beside it).
    - :meth:`trains_upstream` — which *upstream* parameters train (BitFit, LN-tune, full); default none.

    Every parameter of a module inserted with :meth:`add` trains; everything else is frozen at construction time.

    Args:
        name (str): prefix of the attribute names of the inserted modules (a Mona module is ``...blocks.0.mona_attn``).
    """
    #: A method that legitimately trains nothing inside the backbone (the 'fixed' baseline) sets this to False.
    requires_trainable = True
    #: Whether the method needs transformer blocks to attach to (False for methods that only select upstream params).
    requires_blocks = True

    def __init__(self, name: str):
        self.name = name
        self.inserted: List[Tuple[str, nn.Module]] = []

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

    def add(self, block: nn.Module, point: str, suffix: str, module: PETLModule) -> None:
        """Insert ``module`` as ``block.<name>_<suffix>`` at insertion ``point``."""
        attr = f'{self.name}_{suffix}'
        add_to_point(block, point, attr, module)
        self.inserted.append((attr, module))

    def trains_upstream(self, name: str, param: nn.Parameter) -> bool:
        return False

    def backbone_forward(self, forward, *args, **kwargs):
        return forward(*args, **kwargs)
