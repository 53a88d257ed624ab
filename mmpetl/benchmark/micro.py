"""The micro-benchmark of Mona's convolution path: the reference formulation against the fused one."""
import statistics
import time
from typing import Any, Dict, Tuple

import torch
from torch import Tensor

from ..models.methods.mona import MonaConv
from .measure import check_device, seed_everything, synchronize


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
