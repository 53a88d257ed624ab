"""What the benchmark builds: method specs, the checked config, the model with one method, a synthetic batch per
library (mmdet, mmseg, mmpretrain), and the training step of one part (:class:`Workload`)."""
import ast
import copy
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, DefaultScope
from torch import Tensor, nn

from ..engine import load_config
from ..models import available_methods
from ..models.petl_backbone import build_method, init_options
from .measure import check_device, seed_everything, tensor_bytes

PARTS = ('backbone', 'whole')


def _split_options(text: str) -> List[str]:
    """``text`` split at the commas outside brackets: ``"a=1,b=['x','y']"`` -> ``['a=1', "b=['x','y']"]``."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += (char in '([{') - (char in ')]}')
        if char == ',' and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    return parts + [text[start:]]


def _parse_options(spec: str, text: str) -> Dict[str, Any]:
    """``'key=value,key=value'`` (values are Python literals, else strings; a list's commas are its own) as a
    dict."""
    options = {}
    for option in filter(None, _split_options(text)):
        key, sep, value = option.partition('=')
        if not sep:
            raise ValueError(f'method {spec!r}: options are key=value, got {option!r}')
        try:
            options[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = value.strip()
    return options


def parse_method(spec: str) -> Dict[str, Any]:
    """A method config from ``'Name'`` or ``'Name:key=value,key=value'`` (values are Python literals):
    ``'Mona:fused=False'`` -> ``dict(type='Mona', fused=False)``. An ``@...`` suffix (:func:`parse_backbone_options`)
    is not part of it."""
    name, _, options = spec.partition('@')[0].partition(':')
    return dict(type=name, **_parse_options(spec, options))


#: Options after ``@`` that belong to ``mmpetl.PETLBackbone`` itself rather than to the upstream backbone.
PETL_BACKBONE_OPTIONS = ('lean', )


def parse_backbone_options(spec: str) -> Dict[str, Any]:
    """Options of the backbone that a method spec sets after ``@``, for that method only: the upstream backbone's
    (``'Mona@with_cp=True'`` -> ``{'with_cp': True}``, Mona with the upstream activation checkpointing) and those of
    :data:`PETL_BACKBONE_OPTIONS` (``'Mona@lean=None'``: Mona with every lean part of its frozen blocks)."""
    return _parse_options(spec, spec.partition('@')[2])


def flatten_tensors(outputs) -> List[Tensor]:
    """The tensors of a backbone's output (a tensor, or nested tuples / lists of tensors)."""
    if isinstance(outputs, Tensor):
        return [outputs]
    return [t for out in outputs for t in flatten_tensors(out)]


def load_benchmark_config(config: str, overrides: Optional[Dict[str, Any]] = None):
    """The config with ``overrides`` merged (mmengine's ``--cfg-options`` syntax: ``{'model.backbone.x': 1}``),
    checked to have a PETL backbone, whose method the benchmark swaps."""
    cfg = load_config(config, overrides)
    backbone = cfg.get('model', {}).get('backbone', {})
    if backbone.get('type') != 'mmpetl.PETLBackbone':
        raise ValueError(f'{config}: model.backbone.type must be "mmpetl.PETLBackbone" (got '
                         f'{backbone.get("type")!r}); the benchmark swaps its `method`.')
    return cfg


def check_run(config: str, methods: Sequence[str], parts: Sequence[str] = PARTS, device: str = 'cpu',
              overrides: Optional[Dict[str, Any]] = None) -> None:
    """Everything about a run that can be wrong before anything is built: the config (a file with a PETL backbone),
    the device, each method spec (known method, known method options, known options of the upstream backbone), and on
    CUDA, for a detector's whole model, an mmcv built with its CUDA ops (RoIAlign, NMS).

    Raises:
        ValueError: what is wrong, with the valid choices.
    """
    if not os.path.isfile(config):
        raise ValueError(f'config {config!r}: no such file')
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f'parts {unknown}: valid parts are {", ".join(PARTS)}')
    device = check_device(device)
    cfg = load_benchmark_config(config, overrides)
    upstream = cfg.model.backbone.backbone
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        upstream_cls = MODELS.get(upstream.type)
    if upstream_cls is None:
        raise ValueError(f'{config}: the upstream backbone {upstream.type!r} is not registered')
    upstream_options = init_options(upstream_cls)
    for spec in methods:
        method = parse_method(spec)
        if method['type'] not in available_methods():
            raise ValueError(f'method {spec!r}: unknown method {method["type"]!r}; valid choices: '
                             f'{", ".join(available_methods())}')
        try:
            build_method(method)
        except TypeError as err:
            raise ValueError(f'method {spec!r}: {str(err).partition(": ")[2]}') from None
        wrong = sorted(set(parse_backbone_options(spec)) - set(upstream_options or ()) - set(PETL_BACKBONE_OPTIONS))
        if upstream_options is not None and wrong:
            raise ValueError(f'method {spec!r}: {upstream.type} has no option(s) {", ".join(wrong)} (after "@": '
                             f'options of the upstream backbone, e.g. with_cp=True, or of mmpetl.PETLBackbone: '
                             f'{", ".join(PETL_BACKBONE_OPTIONS)})')
    if device.type == 'cuda' and 'whole' in parts and cfg.get('default_scope') in ('mmdet', 'mmrotate'):
        from mmcv.ops import get_compiling_cuda_version  # mmcv's compiled ops: only for this check
        if get_compiling_cuda_version() == 'not available':
            raise ValueError('mmcv was built without its CUDA ops, which a detector needs on CUDA (RoIAlign, NMS): '
                             'rebuild it with its CUDA ops (MMPETL_CUDA=1 bash tools/setup_env.sh; docs/gpu.md, '
                             '"Building mmcv with its CUDA ops"), or measure the backbone alone (--backbone-only)')


def build_benchmark_model(cfg, method: Dict[str, Any], device: torch.device,
                          backbone_options: Optional[Dict[str, Any]] = None) -> nn.Module:
    """The config's model with ``backbone.method = method`` (``dict(type='Mona')``) and ``backbone_options`` set on
    the upstream backbone (``{'with_cp': True}``; those of :data:`PETL_BACKBONE_OPTIONS` on the PETL backbone), random
    weights, in training mode, on ``device``.

    Call inside the config's default scope. ``init_cfg`` of the upstream backbone is dropped (nothing is downloaded)
    and SyncBN becomes BN (one process).

    Raises:
        ValueError: the method does not apply to the backbone (PETLBackbone explains why).
    """
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.method = dict(method)
    model_cfg.backbone.backbone.init_cfg = None
    options = dict(backbone_options or {})
    model_cfg.backbone.update({k: options.pop(k) for k in PETL_BACKBONE_OPTIONS if k in options})
    model_cfg.backbone.backbone.update(options)
    model = revert_sync_batchnorm(MODELS.build(model_cfg)).to(device)
    model.train()
    return model


def _num_classes(model: nn.Module) -> int:
    """The smallest positive ``num_classes`` of the model's heads (so that every synthetic label is valid)."""
    found = [m.num_classes for m in model.modules() if isinstance(getattr(m, 'num_classes', None), int)]
    return max(1, min((n for n in found if n > 0), default=1))


def synthetic_batch(model: nn.Module, scope: str, size: int, batch: int, seed: int) -> Dict[str, Any]:
    """A deterministic batch of ``batch`` random (3, size, size) uint8 images with targets, preprocessed by the model's
    own data preprocessor (training mode).

    Targets: ``mmdet``: three boxes per image with rectangle masks; ``mmseg``: a random label map; ``mmpretrain``:
    one label. The library's data structures are imported here: only the config's library need be installed.

    Returns:
        dict: ``inputs`` (batch, 3, H, W) float and ``data_samples`` on the model's device.
    """
    generator = torch.Generator().manual_seed(seed)
    num_classes = _num_classes(model)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=generator))
        meta = dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1., 1.), flip=False,
                    flip_direction=None)
        if scope == 'mmdet':
            from mmdet.structures import DetDataSample
            from mmdet.structures.mask import BitmapMasks
            from mmengine.structures import InstanceData
            corners = torch.rand(3, 2, generator=generator) * size * 0.5
            extents = (torch.rand(3, 2, generator=generator) * 0.3 + 0.2) * size
            boxes = torch.cat([corners, corners + extents], dim=1).floor()
            masks = np.zeros((3, size, size), dtype=np.uint8)
            for mask, (x1, y1, x2, y2) in zip(masks, boxes.int().tolist()):
                mask[y1:y2, x1:x2] = 1
            sample = DetDataSample(metainfo=meta)
            sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.arange(3) % num_classes,
                                               masks=BitmapMasks(masks, size, size))
        elif scope == 'mmseg':
            from mmengine.structures import PixelData
            from mmseg.structures import SegDataSample
            sample = SegDataSample(metainfo=meta)
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, num_classes, (1, size, size), generator=generator))
        elif scope == 'mmpretrain':
            from mmpretrain.structures import DataSample
            sample = DataSample(metainfo=meta).set_gt_label(int(torch.randint(num_classes, (1,), generator=generator)))
        else:
            raise ValueError(f'synthetic_batch: no synthetic targets for default_scope {scope!r} '
                             '(supported: mmdet, mmseg, mmpretrain)')
        samples.append(sample)
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)


@dataclass
class Case:
    """What to build and measure: everything a fresh process needs to rebuild it (see :func:`~.run.rss_peak`)."""
    config: str
    method: str  # a spec for :func:`parse_method`
    parts: Sequence[str] = PARTS
    size: int = 512
    batch: int = 1
    steps: int = 3
    warmup: int = 1
    device: str = 'cpu'
    seed: int = 0
    overrides: Dict[str, Any] = field(default_factory=dict)


class Workload:
    """One built model, its synthetic batch, and the training step of one part.

    Args:
        model: the whole model (its ``backbone`` is the PETL backbone).
        data: the preprocessed batch (:func:`synthetic_batch`).
        part: ``'whole'`` or ``'backbone'``.
        seed: re-seeded before every forward, so every step (and every method) draws the same random numbers.
    """

    def __init__(self, model: nn.Module, data: Dict[str, Any], part: str, seed: int):
        if part not in PARTS:
            raise ValueError(f'part must be one of {PARTS}, got {part!r}')
        self.model, self.data, self.part, self.seed = model, data, part, seed
        self.module = model if part == 'whole' else model.backbone
        params = [p for p in self.module.parameters() if p.requires_grad]
        # The reference recipe's optimizer (Mona, V-PETL Bench): AdamW, lr 1e-4, weight decay 0.05.
        self.optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05) if params else None

    def loss(self) -> Tensor:
        """The scalar training loss of the part (forward only)."""
        seed_everything(self.seed)
        if self.part == 'whole':
            return self.model.parse_losses(self.model(**self.data, mode='loss'))[0]
        return sum(out.float().mean() for out in flatten_tensors(self.model.backbone(self.data['inputs'])))

    def forward_backward(self) -> None:
        loss = self.loss()
        if loss.requires_grad:  # a frozen backbone alone (Fixed) has nothing to differentiate
            loss.backward()

    def step(self) -> None:
        """One training step: forward, loss, backward, optimizer step, gradients freed."""
        self.forward_backward()
        if self.optimizer is not None:
            self.optimizer.step()
        self.module.zero_grad(set_to_none=True)

    def bytes_outside(self) -> int:
        """Bytes of the model's parameters and buffers outside the measured part (the neck and heads when the part is
        the backbone): resident all along, subtracted from the peak so that it is the part's own."""
        inside = {id(t) for t in (*self.module.parameters(), *self.module.buffers())}
        return sum(t.numel() * t.element_size() for t in (*self.model.parameters(), *self.model.buffers())
                   if id(t) not in inside)

    def bytes_live(self) -> int:
        """Bytes allocated for the part between steps: its parameters and buffers, the optimizer's states and the
        input images (what ``torch.cuda.memory_allocated`` holds then, less the weights outside the part)."""
        states = [] if self.optimizer is None else [
            t for state in self.optimizer.state.values() for t in state.values() if isinstance(t, Tensor)]
        return tensor_bytes([*self.module.parameters(), *self.module.buffers(), *states, self.data['inputs']])

    def excluded_from_saved(self) -> List[Tensor]:
        """What exists whether or not a graph is built: parameters, buffers, the input images."""
        return [*self.model.parameters(), *self.model.buffers(), self.data['inputs']]
