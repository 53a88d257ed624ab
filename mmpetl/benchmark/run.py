"""Running a benchmark: every method on the same input, one row per method and part, ratios to full fine-tuning;
the peak RSS of each in a fresh process."""
import gc
import importlib
import multiprocessing
import os
import platform
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from mmengine.registry import DefaultScope
from torch import nn

from ..utils.params import count_parameters
from .measure import (count_flops, cpu_allocated_during, cuda_peak, read_rss, release_memory, reset_rss_peak,
                      saved_for_backward, seed_everything, time_steps)
from .params import expected_trainable
from .workloads import (PARTS, Case, Workload, build_benchmark_model, check_run, load_benchmark_config,
                        parse_backbone_options, parse_method, synthetic_batch)

REFERENCE = 'Full'
#: Figures compared to full fine-tuning (``<figure>_ratio`` in a row).
RATIO_KEYS = ('trainable', 'saved_bytes', 'flops', 'peak_bytes', 'rss_peak_bytes', 'step_time', 'step_cpu_time')


def not_applicable(case: Case, reason: str) -> List[Dict[str, Any]]:
    return [dict(method=case.method, part=part, status='n/a', reason=reason) for part in case.parts]


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
    """Every figure of one method, one row per part (see :mod:`mmpetl.benchmark`). A method that does not apply to
    the backbone gives rows with ``status='n/a'`` and the reason."""
    device = torch.device(case.device)
    cfg = load_benchmark_config(case.config, case.overrides)
    scope = cfg.get('default_scope')
    release_memory(device)
    baseline = torch.cuda.memory_allocated(device) if device.type == 'cuda' else 0
    with DefaultScope.overwrite_default_scope(scope):
        seed_everything(case.seed)
        try:
            model = build_benchmark_model(cfg, parse_method(case.method), device, parse_backbone_options(case.method))
        except ValueError as err:
            reason = str(err).splitlines()[0]
            log(f'[benchmark] {case.method}: n/a ({reason[:100]})')
            return not_applicable(case, reason)
        data = synthetic_batch(model, scope, case.size, case.batch, case.seed)
        formula = expected_trainable(model.backbone, parse_method(case.method))
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
    cfg = load_benchmark_config(case.config, case.overrides)
    scope = cfg.get('default_scope')
    for module in (f'{scope}.models', f'{scope}.structures', 'mmpetl.models'):
        importlib.import_module(module)
    torch.set_num_threads(threads)  # the parent's
    gc.collect()
    before_build = read_rss()['rss']
    with DefaultScope.overwrite_default_scope(scope):
        seed_everything(case.seed)
        model = build_benchmark_model(cfg, parse_method(case.method), torch.device('cpu'),
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
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context('spawn')) as pool:
            return pool.submit(_rss_worker, case, part, torch.get_num_threads()).result()
    except Exception as err:  # a killed worker (out of memory) must not lose the other figures
        return dict(rss_error=f'{type(err).__name__}: {err}')


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
    :func:`~.workloads.check_run`.

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
