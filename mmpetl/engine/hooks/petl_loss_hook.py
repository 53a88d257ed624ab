"""``PETLLossHook``: the losses a PETL method adds to the task's (CoLin's orthogonality loss), without changing the
upstream detector, segmentor or classifier."""
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn
from torch.utils.hooks import RemovableHandle

from ...models.delta import petl_backbones
from ...registry import HOOKS


def add_petl_losses(backbones: Dict[str, nn.Module], module: nn.Module, args: tuple, kwargs: dict, output):
    """A forward hook (``with_kwargs=True``) of the whole model: in ``mode='loss'`` (how mmengine's ``train_step``
    calls it) add each backbone's :meth:`petl_losses` to the returned losses dict, named ``<name>`` (``<backbone
    attribute>.<name>`` when the model has more than one PETL backbone)."""
    if kwargs.get('mode') != 'loss' or not isinstance(output, dict):
        return None
    for prefix, backbone in backbones.items():
        for name, value in backbone.petl_losses().items():
            key = f'{prefix}.{name}' if len(backbones) > 1 else name
            if key in output:
                raise KeyError(f'PETLLossHook: the model already returns a loss named {key!r}')
            output[key] = value
    return output


@HOOKS.register_module()
class PETLLossHook(Hook):
    """Adds the extra losses of the model's PETL methods to the losses the model returns in training.

    A backbone cannot return a loss through mmdet, mmseg or mmpretrain. This hook registers, before training, a forward
    hook on the model (the one inside a DDP wrapper): when the model is called with ``mode='loss'``, what each PETL
    backbone's method returns from ``extra_losses`` (computed from the current weights) joins the losses dict, so that
    mmengine's ``parse_losses`` sums those named ``loss_*`` into the loss it backpropagates and logs them all under
    their own names. Models whose methods add nothing are unchanged. ``configs/_base_/petl_runtime.py`` lists it.
    """
    priority = 'NORMAL'

    def __init__(self):
        self._handle: Optional[RemovableHandle] = None
        self._backbones: Dict[str, nn.Module] = {}

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._backbones = dict(petl_backbones(model))
        if not self._backbones:
            return
        backbones = self._backbones
        self._handle = model.register_forward_hook(
            lambda module, args, kwargs, output: add_petl_losses(backbones, module, args, kwargs, output),
            with_kwargs=True)
        for backbone in backbones.values():
            backbone.petl_losses_collected = True

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        for backbone in self._backbones.values():
            backbone.petl_losses_collected = False
