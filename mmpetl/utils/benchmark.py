"""Measuring what a PETL method saves: parameters, memory, FLOPs and time of one training step, side by side.

The functions behind ``tools/analysis_tools/benchmark_petl.py``. One *case* is a model built from an OpenMMLab config
whose backbone is ``mmpetl.PETLBackbone``, with ``model.backbone.method = dict(type=<method>)``, one synthetic batch
fed through the model's real data preprocessor, and one *part*:

- ``'whole'``: the model's training loss (detector, segmentor or classifier: ``model(**data, mode='loss')``);
- ``'backbone'``: the backbone alone on the preprocessed images, with the loss ``sum(out.mean() for out in outputs)``.

Figures of a case (:func:`measure_method`):

- ``trainable`` / ``total`` parameters of the part, and ``formula``: the backbone's documented closed form
  (:func:`documented_trainable`);
- ``saved_bytes``: bytes of the distinct tensors the autograd graph keeps for backward during one training forward
  (:func:`saved_for_backward`; parameters, buffers and the input batch excluded, they exist anyway). Deterministic: the
  memory figure to compare methods by. ``packed_bytes`` counts every packed tensor each time it is packed (the
  figure of ``tests/test_e3va.py``), parameters included;
- ``flops``: forward + backward FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions,
  attention; not the elementwise ops, nor mmcv's compiled RoIAlign / NMS);
- ``step_time``: median wall-clock of ``steps`` training steps (forward, loss, backward, AdamW step) after ``warmup``;
  on the CPU also ``step_cpu_time``, the median CPU time of this process over the same steps (all its threads),
  steadier than wall-clock on a machine shared with other work;
- ``peak_bytes``: peak memory allocated during one training step, the part's weights, gradients, optimizer states
  and input included: on CUDA ``torch.cuda.max_memory_allocated`` minus the allocation before the model was built;
  on the CPU the same figure from torch's CPU allocator, whose allocations and frees ``torch.profiler`` records
  (``profile_memory=True``, :func:`cpu_allocated_during`), added to what was allocated before the step
  (:meth:`Workload.bytes_live`). Exact and deterministic up to the order of operations. For the backbone part the
  weights of the rest of the model are left out;
- ``rss_peak_bytes`` (CPU): the peak resident set size (``VmHWM``) of a fresh process that builds the same case, minus
  its RSS before the build (:func:`rss_peak`): what the process really held, the allocators' caches and
  fragmentation included; noisy;
- ratios of each figure to full fine-tuning measured in the same run (:func:`add_ratios`).
"""
import copy
import gc
import math
import os
import platform
import random
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from .params import count_parameters

PARTS = ('backbone', 'whole')
REFERENCE = 'Full'
#: Figures compared to full fine-tuning (``<figure>_ratio`` in a row).
RATIO_KEYS = ('trainable', 'saved_bytes', 'flops', 'peak_bytes', 'rss_peak_bytes', 'step_time', 'step_cpu_time')


def seed_everything(seed: int) -> None:
    """Same random draws for every method (dropout, drop-path, the RoI sampler)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _parse_options(spec: str, text: str) -> Dict[str, Any]:
    """``'key=value,key=value'`` (values are Python literals, else strings) as a dict."""
    import ast
    options = {}
    for option in filter(None, text.split(',')):
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


def parse_backbone_options(spec: str) -> Dict[str, Any]:
    """Options of the upstream backbone that a method spec sets after ``@``, for that method only:
    ``'Mona@with_cp=True'`` -> ``{'with_cp': True}`` (Mona with the upstream activation checkpointing)."""
    return _parse_options(spec, spec.partition('@')[2])


def flatten_tensors(outputs) -> List[Tensor]:
    """The tensors of a backbone's output (a tensor, or nested tuples / lists of tensors)."""
    if isinstance(outputs, Tensor):
        return [outputs]
    return [t for out in outputs for t in flatten_tensors(out)]


# ----------------------------------------------------------------------------------------------- the measurements


def storage_key(tensor: Tensor) -> Tuple[torch.device, int]:
    """What identifies the memory a tensor lives in: its device and its storage's address."""
    return tensor.device, tensor.untyped_storage().data_ptr()


def saved_for_backward(fn: Callable[[], Any], exclude: Iterable[Tensor] = ()) -> Tuple[Any, Dict[str, int]]:
    """Run ``fn()`` and measure what its autograd graph saves for backward.

    Args:
        fn: builds the graph (a training forward) and returns its output; the graph lives as long as the output.
        exclude: tensors whose storage is not counted in ``saved_bytes`` (parameters, buffers, inputs).

    Returns:
        tuple: ``fn()``'s output and ``{'saved_bytes': ..., 'packed_bytes': ...}``. ``saved_bytes`` sums the sizes
        of the distinct storages packed (a tensor saved by several ops, or views of one buffer, count once, at the
        size of the memory they keep alive); ``packed_bytes`` sums ``numel * element_size`` over every pack.
    """
    excluded = {storage_key(t) for t in exclude}
    # Holding the storages keeps their addresses from being reused by a later tensor of the same forward.
    storages = {}
    packed = 0

    def pack(tensor: Tensor) -> Tensor:
        nonlocal packed
        packed += tensor.numel() * tensor.element_size()
        key = storage_key(tensor)
        if key not in excluded:
            storages.setdefault(key, tensor.untyped_storage())
        # Not the tensor itself: an op that saves its output (exp, softmax) would then hold, through its saved
        # variable, the tensor whose grad_fn it is, a reference cycle autograd never frees (the whole graph leaks).
        return tensor.detach()

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = fn()
    return output, dict(saved_bytes=sum(s.nbytes() for s in storages.values()), packed_bytes=packed)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of everything ``fn()`` runs (a forward and its backward) that torch's FlopCounterMode counts."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[], Any], steps: int, warmup: int,
               device: torch.device) -> Tuple[List[float], List[float]]:
    """Wall-clock and process CPU seconds of each of ``steps`` calls of ``step()`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(steps):
        synchronize(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        synchronize(device)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def cuda_peak(step: Callable[[], Any], device: torch.device, baseline: int) -> int:
    """Peak CUDA allocation during one ``step()``, minus ``baseline`` (the allocation before the model existed)."""
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    synchronize(device)
    return torch.cuda.max_memory_allocated(device) - baseline


def cpu_allocated_during(step: Callable[[], Any]) -> Tuple[int, int]:
    """Run ``step()`` under ``torch.profiler`` with memory profiling and replay the CPU allocator's events.

    Every allocation and free of torch's CPU allocator during the step is an event (``profile_memory=True``); their
    running sum, in time order, is the number of bytes allocated since the step began and still live.

    Returns:
        tuple: the peak of that sum and its value at the end (what the step left allocated).
    """
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]' and e.device_type() == torch.autograd.DeviceType.CPU)
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak, live


def tensor_bytes(tensors: Iterable[Tensor]) -> int:
    """Bytes of the distinct storages of ``tensors`` (views of one buffer count once)."""
    return sum({storage_key(t): t.untyped_storage().nbytes() for t in tensors}.values())


def read_rss() -> Dict[str, int]:
    """``{'rss': VmRSS, 'peak': VmHWM}`` of this process in bytes (Linux ``/proc/self/status``)."""
    with open('/proc/self/status') as f:
        status = f.read()
    return {key: int(re.search(rf'{name}:\s+(\d+) kB', status).group(1)) * 1024
            for key, name in (('rss', 'VmRSS'), ('peak', 'VmHWM'))}


def reset_rss_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0: writing 5 to ``/proc/self/clear_refs``)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def mona_conv_micro_benchmark(batch: int = 2, channels: int = 64, size: int = 128, steps: int = 10, warmup: int = 3,
                              device: str = 'cpu', seed: int = 0) -> Dict[str, Any]:
    """Forward + backward time of Mona's convolution path, reference formulation against the fused one.

    One :class:`~mmpetl.models.methods.MonaConv` (the same parameters for both formulations), input
    (batch, channels, size, size), loss ``out.sum()``; each variant runs once per round, in turn, so that load drifts
    hit them alike. Variants: ``reference`` (three depthwise convolutions, as the reference code) and ``fused`` (the
    re-parameterised kernels), each on a contiguous (NCHW) and on a channels-last input.

    Returns:
        dict: ``times`` (variant -> median seconds), ``speedup`` (reference/contiguous over fused/channels-last, the
        formulation of the reference code against mmpetl's default path), ``speedup_same_layout`` (per layout),
        ``max_rel_diff`` (output and each kernel's gradient: max |fused - reference| / max |reference|),
        ``rounding_floor`` (the same for the reference on a channels-last input: float rounding alone), the shape.
    """
    from ..models.methods.mona import MonaConv
    device = check_device(device)
    seed_everything(seed)
    conv = MonaConv(channels).to(device)
    x = torch.randn(batch, channels, size, size, device=device)
    layouts = {'contiguous': torch.contiguous_format, 'channels_last': torch.channels_last}
    variants = [(fused, layout) for fused in (False, True) for layout in layouts]
    name = {(fused, layout): f'{"fused" if fused else "reference"}/{layout}' for fused, layout in variants}
    inputs = {layout: x.to(memory_format=fmt) for layout, fmt in layouts.items()}

    def run(fused: bool, layout: str) -> Tuple[Tensor, Dict[str, Tensor]]:
        conv.fused = fused
        conv.zero_grad(set_to_none=True)
        out = conv(inputs[layout])
        out.sum().backward()
        return out.detach(), {n: p.grad for n, p in conv.named_parameters() if n.endswith('weight')}

    def max_rel_diff(a: Tuple[Tensor, Dict[str, Tensor]], b: Tuple[Tensor, Dict[str, Tensor]]) -> Dict[str, float]:
        pairs = [('output', a[0], b[0])] + [(f'grad {key}', a[1][key], b[1][key]) for key in a[1]]
        return {key: float((u - v).abs().max() / v.abs().max()) for key, u, v in pairs}

    reference = run(False, 'contiguous')
    diffs = max_rel_diff(run(True, 'channels_last'), reference)
    # Float rounding alone: the reference against itself in the other layout (the sums run in another order).
    floor = max_rel_diff(run(False, 'channels_last'), reference)

    times = {name[v]: [] for v in variants}
    for round_index in range(warmup + steps):
        for variant in variants:
            synchronize(device)
            start = time.perf_counter()
            run(*variant)
            synchronize(device)
            if round_index >= warmup:
                times[name[variant]].append(time.perf_counter() - start)
    conv.fused = True
    median = {key: statistics.median(values) for key, values in times.items()}
    return dict(
        shape=[batch, channels, size, size], device=str(device), steps=steps, warmup=warmup, times=median,
        speedup=median['reference/contiguous'] / median['fused/channels_last'],
        speedup_same_layout={layout: median[f'reference/{layout}'] / median[f'fused/{layout}'] for layout in layouts},
        max_rel_diff=diffs, rounding_floor=floor)


# --------------------------------------------------------------------------------------- models, batches, formulas


def load_config(config: str, overrides: Optional[Dict[str, Any]] = None):
    """The config with ``overrides`` merged (mmengine's ``--cfg-options`` syntax: ``{'model.backbone.x': 1}``),
    checked to have a PETL backbone."""
    from ..engine import load_config as load_merged
    cfg = load_merged(config, overrides)
    backbone = cfg.get('model', {}).get('backbone', {})
    if backbone.get('type') != 'mmpetl.PETLBackbone':
        raise ValueError(f'{config}: model.backbone.type must be "mmpetl.PETLBackbone" (got '
                         f'{backbone.get("type")!r}); the benchmark swaps its `method`.')
    return cfg


def check_device(name: str) -> torch.device:
    """The device to measure on: ``cpu``, ``cuda`` or ``cuda:N``, usable here.

    Raises:
        ValueError: what is wrong with it (not a device, not one the benchmark measures on, no such CUDA device).
    """
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f'device {name!r}: not a device; use cpu, cuda or cuda:N') from None
    if device.type not in ('cpu', 'cuda'):
        raise ValueError(f'device {name!r}: the benchmark measures on cpu, cuda or cuda:N')
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'device {name!r}: torch {torch.__version__} sees no CUDA device here '
                             '(torch.cuda.is_available() is False); use --device cpu')
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f'device {name!r}: there are {torch.cuda.device_count()} CUDA device(s), '
                             f'cuda:0 to cuda:{torch.cuda.device_count() - 1}')
    return device


def check_run(config: str, methods: Sequence[str], parts: Sequence[str] = PARTS, device: str = 'cpu',
              overrides: Optional[Dict[str, Any]] = None) -> None:
    """Everything about a run that can be wrong before anything is built: the config (a file with a PETL backbone),
    the device, each method spec (known method, known method options, known options of the upstream backbone), and on
    CUDA, for a detector's whole model, an mmcv built with its CUDA ops (RoIAlign, NMS).

    Raises:
        ValueError: what is wrong, with the valid choices.
    """
    from mmengine.registry import MODELS, DefaultScope

    from ..models import available_methods
    from ..models.petl_backbone import build_method, init_options
    if not os.path.isfile(config):
        raise ValueError(f'config {config!r}: no such file')
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f'parts {unknown}: valid parts are {", ".join(PARTS)}')
    device = check_device(device)
    cfg = load_config(config, overrides)
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
        wrong = sorted(set(parse_backbone_options(spec)) - set(upstream_options or ()))
        if upstream_options is not None and wrong:
            raise ValueError(f'method {spec!r}: {upstream.type} has no option(s) {", ".join(wrong)} (after "@": '
                             f'options of the upstream backbone, e.g. with_cp=True)')
    if device.type == 'cuda' and 'whole' in parts and cfg.get('default_scope') in ('mmdet', 'mmrotate'):
        from mmcv.ops import get_compiling_cuda_version
        if get_compiling_cuda_version() == 'not available':
            raise ValueError('mmcv was built without its CUDA ops, which a detector needs on CUDA (RoIAlign, NMS): '
                             'rebuild it with FORCE_CUDA=1 (tools/setup_env.sh does when nvcc is on the PATH and '
                             'torch sees a GPU), or measure the backbone alone (--backbone-only)')


def build_model(cfg, method: Dict[str, Any], device: torch.device,
                backbone_options: Optional[Dict[str, Any]] = None) -> nn.Module:
    """The config's model with ``backbone.method = method`` (``dict(type='Mona')``) and ``backbone_options`` set on
    the upstream backbone (``{'with_cp': True}``), random weights, in training mode.

    Call inside the config's default scope. ``init_cfg`` of the upstream backbone is dropped (nothing is downloaded)
    and SyncBN becomes BN (one process).

    Raises:
        ValueError: the method does not apply to the backbone (PETLBackbone explains why).
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.method = dict(method)
    model_cfg.backbone.backbone.init_cfg = None
    model_cfg.backbone.backbone.update(backbone_options or {})
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
    one label.

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


def documented_trainable(backbone: nn.Module, method: dict) -> Optional[int]:
    """The trainable parameter count of a PETL backbone by the method's documented formula (None where none exists).

    Inserting methods: their per-module closed forms on the block widths C read from the upstream blocks (Mona
    ``2 * (133*C + 9728)`` per block; Adapter, AdaptFormer, LoRand, LoRA likewise); E3VA and HST their
    ``num_parameters``. Selecting methods by their definition on the upstream parameters (Full: all; Fixed: none;
    BitFit: the biases; LN-tune: the norm layers; Partial-1: the last block), counted independently of the
    method's code.
    """
    from torch.nn.modules.batchnorm import _BatchNorm

    from ..models.blocks import spec_for
    from ..models.methods import E3VA, HST, Bottleneck, LoRandAdapter, LoRAQV, MonaAdapter
    kwargs = {k: v for k, v in method.items() if k != 'type'}
    name = method['type']
    blocks = [(module, spec) for module in backbone.modules() for spec in [spec_for(module)] if spec is not None]
    widths = [spec.channels(block) for block, spec in blocks]
    upstream = [(n, p) for n, p in backbone.named_parameters()]
    per_block = {
        'Mona': lambda c: 2 * MonaAdapter.num_parameters(c, kwargs.get('bottleneck', 64)),
        'Adapter': lambda c: 2 * Bottleneck.num_parameters(c, kwargs.get('bottleneck', 64)),
        'AdaptFormer': lambda c: Bottleneck.num_parameters(c, kwargs.get('bottleneck', 64)),
        'LoRand': lambda c: 2 * LoRandAdapter.num_parameters(c, kwargs.get('subspaces', 4), kwargs.get('rank', 8)),
        'LoRA': lambda c: LoRAQV.num_parameters(c, kwargs.get('rank', 64)),
    }
    if name in per_block:
        return sum(per_block[name](c) for c in widths)
    if name == 'Full':
        return sum(p.numel() for _, p in upstream)
    if name == 'Fixed':
        return 0
    if name == 'BitFit':
        return sum(p.numel() for n, p in upstream if n.rsplit('.', 1)[-1] == 'bias')
    if name == 'LNTune':
        return sum(p.numel() for m in backbone.modules() if isinstance(m, (nn.LayerNorm, _BatchNorm, nn.GroupNorm))
                   for p in m.parameters(recurse=False))
    if name == 'Partial1':
        return sum(p.numel() for p in blocks[-1][0].parameters())
    if name == 'E3VA' and not getattr(backbone, 'out_after_downsample', False):
        depths = [len(stage.blocks) for stage in backbone.stages]
        out_indices = [i for i in range(len(depths)) if i in backbone.out_indices]
        return E3VA.num_parameters(widths[0], depths, out_indices, kwargs.get('rank', 24))
    if name == 'HST':
        side = {k: v for k, v in kwargs.items() if k in ('embed_dims', 'depths', 'mlp_ratio')}
        return HST.num_parameters(widths[0], len(blocks), in_channels=backbone.patch_embed.projection.in_channels,
                                  **side)
    return None


#: Backbones of the parameter table (:func:`parameter_table`): the upstream configs the papers use.
PARAM_BACKBONES = {
    'Swin-B': dict(type='mmdet.SwinTransformer', embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    'Swin-L': dict(type='mmdet.SwinTransformer', embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
    'ViT-B': dict(type='mmpretrain.VisionTransformer', arch='base', img_size=224, patch_size=16),
}


def parameter_table(methods: Sequence[str], backbones: Dict[str, dict] = PARAM_BACKBONES,
                    log: Callable[[str], None] = print) -> Dict[str, Dict[str, Optional[Dict[str, Any]]]]:
    """Trainable parameters of each method on each backbone alone, counted from the built backbone and checked
    against :func:`documented_trainable`.

    Returns:
        dict: method spec -> backbone name -> ``{'trainable', 'total', 'formula'}``, or None where the method does not
        apply (the build raises ValueError).
    """
    from ..models import PETLBackbone
    table = {}
    for spec in methods:
        table[spec] = {}
        for name, backbone in backbones.items():
            log(f'[benchmark] parameters: {spec} on {name}')
            torch.manual_seed(0)
            try:
                model = PETLBackbone(backbone, parse_method(spec))
            except ValueError:
                table[spec][name] = None
                continue
            table[spec][name] = dict(count_parameters(model), formula=documented_trainable(model, parse_method(spec)))
            del model
    return table


def parameter_markdown(table: Dict[str, Dict[str, Optional[Dict[str, Any]]]]) -> str:
    """The parameter table as markdown (a mismatch with the formula is shown next to the count)."""
    backbones = list(next(iter(table.values())))
    lines = ['| method | ' + ' | '.join(f'{b} trainable' for b in backbones) + ' | = formula |',
             '|---|' + '---:|' * len(backbones) + '---|']
    for spec, counts in table.items():
        cells, checks = [], []
        for name in backbones:
            c = counts[name]
            cells.append('n/a' if c is None else f'{c["trainable"]:,}')
            if c is not None and c['formula'] is not None:
                checks.append(c['formula'] == c['trainable'])
                if c['formula'] != c['trainable']:
                    cells[-1] += f' (formula {c["formula"]:,})'
        lines.append(f'| {spec} | ' + ' | '.join(cells) + f' | {"yes" if checks and all(checks) else "NO"} |')
    return '\n'.join(lines)


# ----------------------------------------------------------------------------------------------------- one method


@dataclass
class Case:
    """What to build and measure: everything a fresh process needs to rebuild it (see :func:`rss_peak`)."""
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


def not_applicable(case: Case, reason: str) -> List[Dict[str, Any]]:
    return [dict(method=case.method, part=part, status='n/a', reason=reason) for part in case.parts]


def release_memory(device: torch.device) -> None:
    """Free what the last model left: Python garbage, the CUDA cache, and the pages glibc's allocator keeps (without
    ``malloc_trim`` a long run's RSS grows by gigabytes of freed activations between methods)."""
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    elif sys.platform.startswith('linux'):
        import ctypes
        try:
            ctypes.CDLL('libc.so.6').malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass


def measure_part(model: nn.Module, data: Dict[str, Any], part: str, case: Case, formula: Optional[int],
                 baseline: int, log: Callable[[str], None]) -> Dict[str, Any]:
    """The figures of one part of a built model (see :func:`measure_method`)."""
    device = torch.device(case.device)
    work = Workload(model, data, part, case.seed)
    row = dict(method=case.method, part=part, status='ok', formula=formula,
               backbone_trainable=count_parameters(model.backbone)['trainable'], **count_parameters(work.module))
    loss, saved = saved_for_backward(work.loss, work.excluded_from_saved())
    del loss  # frees the graph
    row.update(saved)
    row['flops'] = count_flops(work.forward_backward)
    work.module.zero_grad(set_to_none=True)
    log(f'[benchmark] {case.method} / {part}: {row["trainable"]:,} trainable, saved for backward '
        f'{row["saved_bytes"] / 2**20:.1f} MiB, {row["flops"] / 1e9:.1f} GFLOPs')
    if case.steps < 1:  # memory and FLOPs only
        return row
    log(f'[benchmark] {case.method} / {part}: timing {case.warmup} + {case.steps} steps')
    wall, cpu = time_steps(work.step, case.steps, case.warmup, device)
    row.update(step_time=statistics.median(wall), step_times=wall)
    if device.type == 'cpu':
        row.update(step_cpu_time=statistics.median(cpu), step_cpu_times=cpu)
        before = work.bytes_live()
        peak, _ = cpu_allocated_during(work.step)
        row.update(peak_bytes=before + peak, peak_kind='cpu allocator peak (torch.profiler memory events)')
    else:
        row.update(peak_bytes=cuda_peak(work.step, device, baseline + work.bytes_outside()),
                   peak_kind='cuda max_memory_allocated')
    log(f'[benchmark] {case.method} / {part}: median step {row["step_time"]:.3f} s'
        + (f' (CPU time {row["step_cpu_time"]:.3f} s)' if 'step_cpu_time' in row else ''))
    return row


def measure_method(case: Case, rss: bool = True, log: Callable[[str], None] = print) -> List[Dict[str, Any]]:
    """Every figure of one method, one row per part (see the module docstring). A method that does not apply to the
    backbone gives rows with ``status='n/a'`` and the reason."""
    from mmengine.registry import DefaultScope
    device = torch.device(case.device)
    cfg = load_config(case.config, case.overrides)
    scope = cfg.get('default_scope')
    release_memory(device)
    baseline = torch.cuda.memory_allocated(device) if device.type == 'cuda' else 0
    with DefaultScope.overwrite_default_scope(scope):
        seed_everything(case.seed)
        try:
            model = build_model(cfg, parse_method(case.method), device, parse_backbone_options(case.method))
        except ValueError as err:
            reason = str(err).splitlines()[0]
            log(f'[benchmark] {case.method}: n/a ({reason[:100]})')
            return not_applicable(case, reason)
        data = synthetic_batch(model, scope, case.size, case.batch, case.seed)
        formula = documented_trainable(model.backbone, parse_method(case.method))
        rows = [measure_part(model, data, part, case, formula, baseline, log) for part in case.parts]
    del model, data
    release_memory(device)
    if device.type == 'cpu' and rss:
        for row in rows:
            log(f'[benchmark] {case.method} / {row["part"]}: peak RSS of a step, in a fresh process')
            row.update(rss_peak(case, row['part']))
    return rows


def _rss_worker(case: Case, part: str, threads: int) -> Dict[str, int]:
    """In a fresh process: import, note the RSS, build the case, one warm-up step (optimizer states exist), reset the
    RSS peak, one step. Returns the step's peak RSS over the RSS before the build (less the weights outside the part,
    :meth:`Workload.bytes_outside`), and over the RSS just before the step."""
    import importlib

    from mmengine.registry import DefaultScope
    cfg = load_config(case.config, case.overrides)
    scope = cfg.get('default_scope')
    for module in (f'{scope}.models', f'{scope}.structures', 'mmpetl.models'):
        importlib.import_module(module)
    torch.set_num_threads(threads)  # the parent's
    gc.collect()
    before_build = read_rss()['rss']
    with DefaultScope.overwrite_default_scope(scope):
        seed_everything(case.seed)
        model = build_model(cfg, parse_method(case.method), torch.device('cpu'),
                            parse_backbone_options(case.method))
        work = Workload(model, synthetic_batch(model, scope, case.size, case.batch, case.seed), part, case.seed)
        work.step()
        gc.collect()
        reset_rss_peak()
        before_step = read_rss()['rss']
        work.step()
        peak = read_rss()['peak']
    return dict(rss_peak_bytes=peak - before_build - work.bytes_outside(), rss_step_increase=peak - before_step)


def rss_peak(case: Case, part: str) -> Dict[str, Any]:
    """Peak RSS of one training step of ``case`` / ``part``, measured in a fresh (spawned) process, because a
    process's peak RSS never goes down and its allocator keeps what earlier models freed.

    Returns:
        dict: ``rss_peak_bytes`` (over the RSS before the model was built: the part's weights, gradients, optimizer
        states and activations, and what the allocators keep) and ``rss_step_increase`` (over the RSS just before the
        step), or ``rss_error``.
    """
    import multiprocessing
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context('spawn')) as pool:
            return pool.submit(_rss_worker, case, part, torch.get_num_threads()).result()
    except Exception as err:  # a killed worker (out of memory) must not lose the other figures
        return dict(rss_error=f'{type(err).__name__}: {err}')


# ------------------------------------------------------------------------------------------------------ the run


def machine_description(device: str) -> Dict[str, Any]:
    """CPU model, cores, memory, torch version and threads, and the GPU if one is used."""
    info = dict(python=platform.python_version(), torch=torch.__version__, threads=torch.get_num_threads(),
                cores=len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count())
    try:
        with open('/proc/cpuinfo') as f:
            info['cpu'] = re.search(r'model name\s*:\s*(.*)', f.read()).group(1).strip()
        with open('/proc/meminfo') as f:
            info['memory_gib'] = round(int(re.search(r'MemTotal:\s+(\d+)', f.read()).group(1)) / 2**20, 1)
    except (OSError, AttributeError):
        info['cpu'] = platform.processor() or platform.machine()
    if torch.device(device).type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(torch.device(device))
    return info


def add_ratios(rows: List[Dict[str, Any]]) -> None:
    """``<figure>_ratio`` = figure / full fine-tuning's figure of the same part (in place)."""
    reference = {r['part']: r for r in rows if r['method'] == REFERENCE and r['status'] == 'ok'}
    for row in rows:
        ref = reference.get(row['part'])
        if row['status'] != 'ok' or ref is None:
            continue
        for key in RATIO_KEYS:
            if row.get(key) is not None and ref.get(key):
                row[f'{key}_ratio'] = row[key] / ref[key]


def with_reference(methods: Sequence[str]) -> List[str]:
    """The methods, full fine-tuning first (added when missing: it is every ratio's reference)."""
    return [REFERENCE] + [m for m in methods if m != REFERENCE]


def run_benchmark(config: str, methods: Sequence[str], parts: Sequence[str] = PARTS, size: int = 512,
                  batch: int = 1, steps: int = 3, warmup: int = 1, device: str = 'cpu', seed: int = 0,
                  overrides: Optional[Dict[str, Any]] = None, rss: bool = True,
                  log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Measure every method on the same input in this process (the RSS peaks in fresh ones), after
    :func:`check_run`.

    Returns:
        dict: ``meta`` (config, input, machine, settings) and ``rows`` (one per method and part, ratios added).
    """
    check_run(config, methods, parts, device, overrides)
    rows = []
    methods = with_reference(methods)
    for index, method in enumerate(methods):
        log(f'[benchmark] ({index + 1}/{len(methods)}) {method}')
        case = Case(config=config, method=method, parts=tuple(parts), size=size, batch=batch, steps=steps,
                    warmup=warmup, device=device, seed=seed, overrides=dict(overrides or {}))
        rows += measure_method(case, rss=rss, log=log)
    add_ratios(rows)
    shown = os.path.relpath(config)  # relative to the working directory when inside it (the repository)
    meta = dict(config=config if shown.startswith('..') else shown, overrides=dict(overrides or {}),
                input=[batch, 3, size, size], steps=steps, warmup=warmup, device=device, seed=seed,
                machine=machine_description(device),
                date=time.strftime('%Y-%m-%d %H:%M'), argv=sys.argv)
    return dict(meta=meta, rows=rows)


# -------------------------------------------------------------------------------------------------- the outputs


def _mib(value: Optional[float]) -> str:
    return '–' if value is None else f'{value / 2**20:,.0f}' if value >= 2**24 else f'{value / 2**20:,.1f}'


def _with_ratio(text: str, ratio: Optional[float]) -> str:
    return text if ratio is None else f'{text} ({ratio:.2f}×)'


def _seconds(value: Optional[float]) -> str:
    return '–' if value is None else f'{value:.3f}'


def to_markdown(result: Dict[str, Any]) -> str:
    """One markdown table per part, and the conditions of the run."""
    meta, lines = result['meta'], []
    machine = meta['machine']
    where = machine.get('gpu') or f'{machine.get("cpu")}, {machine.get("threads")} threads'
    timing = (f'step time: median of {meta["steps"]} steps after {meta["warmup"]} warm-up' if meta['steps'] > 0
              else 'no timing')
    lines.append(f'Input {"×".join(map(str, meta["input"]))} (synthetic, seed {meta["seed"]}), {meta["device"]} '
                 f'({where}), torch {machine["torch"]}; {timing}; config `{meta["config"]}`'
                 + (f', overrides `{meta["overrides"]}`' if meta['overrides'] else '') + '.')
    peak_kinds = sorted({r['peak_kind'] for r in result['rows'] if r.get('peak_kind')})
    cpu_time = any('step_cpu_time' in r for r in result['rows'])
    rss = any('rss_peak_bytes' in r for r in result['rows'])
    header = (['method', 'trainable', 'formula', 'saved for backward, MiB', 'FLOPs fwd+bwd, G', 'peak memory, MiB']
              + (['peak RSS, MiB'] if rss else []) + ['step time, s'] + (['step CPU time, s'] if cpu_time else []))
    for part in PARTS:
        rows = [r for r in result['rows'] if r['part'] == part]
        if not rows:
            continue
        lines += ['', f'**{"backbone alone" if part == "backbone" else "whole model"}** (ratios to full fine-tuning '
                  'in parentheses)', '', '| ' + ' | '.join(header) + ' |',
                  '|---|---:|---|' + '---:|' * (len(header) - 3)]
        for r in rows:
            if r['status'] != 'ok':
                lines.append(f'| {r["method"]} | n/a |' + ' |' * (len(header) - 2))
                continue
            formula = ('–' if r['formula'] is None else '= formula' if r['formula'] == r['backbone_trainable']
                       else f'≠ {r["formula"]:,}')
            cells = [
                _with_ratio(f'{r["trainable"]:,}', r.get('trainable_ratio')), formula,
                _with_ratio(_mib(r['saved_bytes']), r.get('saved_bytes_ratio')),
                _with_ratio(f'{r["flops"] / 1e9:,.1f}', r.get('flops_ratio')),
                _with_ratio(_mib(r.get('peak_bytes')), r.get('peak_bytes_ratio'))]
            if rss:
                cells.append(_with_ratio(_mib(r.get('rss_peak_bytes')), r.get('rss_peak_bytes_ratio')))
            cells.append(_with_ratio(_seconds(r.get('step_time')), r.get('step_time_ratio')))
            if cpu_time:
                cells.append(_with_ratio(_seconds(r.get('step_cpu_time')), r.get('step_cpu_time_ratio')))
            lines.append(f'| {r["method"]} | ' + ' | '.join(cells) + ' |')
    lines += ['', '*trainable*: parameters of the part that train; *formula*: the backbone\'s trainable count checked '
              'against the method\'s documented closed form. *saved for backward*: distinct tensors the autograd '
              'graph keeps during one training forward (parameters, buffers and input excluded; deterministic). '
              '*FLOPs*: torch FlopCounterMode (matmuls, convolutions). *step time*: wall-clock; *step CPU time*: '
              'CPU time of the benchmark process (all threads), steadier on a shared machine. *peak memory*: '
              + ('; '.join(peak_kinds) + ': the most bytes allocated at once during a step, the part\'s weights, '
                 'gradients, AdamW states, input and activations included (allocator caches and fragmentation '
                 'excluded).' if peak_kinds else 'not measured.')
              + (' *peak RSS*: the peak resident memory of a fresh process running the same step, over its memory '
                 'before the model was built: what the process really held, the allocator\'s free but kept pages '
                 'included; noisy.' if rss else '')]
    return '\n'.join(lines)


def mona_micro_markdown(micro: Dict[str, Any]) -> str:
    """The micro-benchmark as a markdown table."""
    lines = [f'Mona convolution path, input {"×".join(map(str, micro["shape"]))} on {micro["device"]}, forward + '
             f'backward, median of {micro["steps"]} rounds:', '', '| formulation | layout | time, ms |',
             '|---|---|---:|']
    for key, value in micro['times'].items():
        formulation, layout = key.split('/')
        lines.append(f'| {formulation} | {layout} | {1e3 * value:.2f} |')
    diffs = ', '.join(f'{k} {v:.1e}' for k, v in micro['max_rel_diff'].items())
    floor = ', '.join(f'{k} {v:.1e}' for k, v in micro['rounding_floor'].items())
    lines += ['', f'Speed-up, reference formulation (NCHW) → fused (channels-last): **{micro["speedup"]:.2f}×**; '
              'same layout: ' + ', '.join(f'{k} {v:.2f}×' for k, v in micro['speedup_same_layout'].items())
              + f'. Max relative difference, fused vs reference: {diffs}; rounding alone (the reference on a '
              f'channels-last input vs contiguous): {floor}.']
    return '\n'.join(lines)


def plot(result: Dict[str, Any], path: str) -> None:
    """PNG: per part, saved-for-backward ratio against trainable parameters, marker area ~ step-time ratio."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    parts = [p for p in PARTS if any(r['part'] == p and r['status'] == 'ok' for r in result['rows'])]
    fig, axes = plt.subplots(1, max(1, len(parts)), figsize=(9.5 * max(1, len(parts)), 5), squeeze=False)
    methods = list(dict.fromkeys(r['method'] for r in result['rows']))
    colours = plt.get_cmap('tab20')
    markers = 'osD^vP*Xhp<>'
    for ax, part in zip(axes[0], parts):
        rows = [r for r in result['rows'] if r['part'] == part and r['status'] == 'ok' and 'saved_bytes_ratio' in r]
        for r in rows:
            x = r['backbone_trainable'] / 1e6
            y = r['saved_bytes_ratio']
            time_ratio = r.get('step_cpu_time_ratio', r.get('step_time_ratio', math.nan))
            index = methods.index(r['method'])
            ax.scatter([x], [y], s=300 * (1.0 if math.isnan(time_ratio) else time_ratio), alpha=0.7,
                       color=colours(index % 20), marker=markers[index % len(markers)], edgecolors='black',
                       linewidths=0.5, label=f'{r["method"]}: {y:.2f}× saved, {time_ratio:.2f}× time')
        ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0), borderaxespad=0, markerscale=0.5)
        ax.set_xscale('symlog', linthresh=0.1)
        ax.set_xlabel('trainable backbone parameters (M, symlog)')
        ax.set_ylabel('saved for backward / full fine-tuning')
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.set_title(f'{"backbone alone" if part == "backbone" else "whole model"}: memory vs parameters '
                     '(marker area ~ step time, CPU time on the CPU)', fontsize=9)
    meta = result['meta']
    fig.suptitle(f'{os.path.basename(meta["config"])}, input {"x".join(map(str, meta["input"]))}, {meta["device"]}',
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def jsonable(value):
    """Rows and meta as plain JSON (NaN as null)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

