"""What the benchmark measures, on any callable: bytes saved for backward, FLOPs, step times, peak memory (CUDA and
torch's CPU allocator), the process's RSS; and the device and random state they are measured under."""
import ctypes
import gc
import random
import re
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Tuple

import numpy as np
import torch
from torch import Tensor
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode


def seed_everything(seed: int) -> None:
    """Same random draws for every method (dropout, drop-path, the RoI sampler)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def release_memory(device: torch.device) -> None:
    """Free what the last model left: Python garbage, the CUDA cache, and the pages glibc's allocator keeps (without
    ``malloc_trim`` a long run's RSS grows by gigabytes of freed activations between methods)."""
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    elif sys.platform.startswith('linux'):
        try:
            ctypes.CDLL('libc.so.6').malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass


def storage_key(tensor: Tensor) -> Tuple[torch.device, int]:
    """What identifies the memory a tensor lives in: its device and its storage's address."""
    return tensor.device, tensor.untyped_storage().data_ptr()


def tensor_bytes(tensors: Iterable[Tensor]) -> int:
    """Bytes of the distinct storages of ``tensors`` (views of one buffer count once)."""
    return sum({storage_key(t): t.untyped_storage().nbytes() for t in tensors}.values())


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
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


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
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]' and e.device_type() == torch.autograd.DeviceType.CPU)
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak, live


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
