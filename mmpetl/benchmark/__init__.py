"""Measuring what a PETL method saves: parameters, memory, FLOPs and time of one training step, side by side.

The package behind ``tools/analysis_tools/benchmark_petl.py`` and ``tools/analysis_tools/petl_params.py``; it sits
above :mod:`mmpetl.models` and :mod:`mmpetl.engine`. Its modules:

- :mod:`.backbones`: :data:`STANDARD_BACKBONES`, the Swin-B/L and ViT-B/L configs of the papers;
- :mod:`.measure`: what is measured, on any callable (saved for backward, FLOPs, times, peaks, RSS);
- :mod:`.workloads`: what is measured on (method specs, the checked config, the model, a synthetic batch, a part's
  training step);
- :mod:`.run`: running a benchmark (one row per method and part, ratios to full fine-tuning);
- :mod:`.report`: its markdown, plot and JSON;
- :mod:`.params`: the parameter table (counts on the standard backbones, checked against each method's formula);
- :mod:`.micro`: the micro-benchmark of Mona's convolution path.

One *case* is a model built from an OpenMMLab config whose backbone is ``mmpetl.PETLBackbone``, with
``model.backbone.method = dict(type=<method>)``, one synthetic batch fed through the model's real data preprocessor,
and one *part*:

- ``'whole'``: the model's training loss (detector, segmentor or classifier: ``model(**data, mode='loss')``);
- ``'backbone'``: the backbone alone on the preprocessed images, with the loss ``sum(out.mean() for out in outputs)``.

Figures of a case (:func:`measure_method`):

- ``trainable`` / ``total`` parameters of the part, and ``formula``: the backbone's documented closed form, from the
  method class (:func:`expected_trainable`);
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
from .backbones import STANDARD_BACKBONES
from .measure import (check_device, count_flops, cpu_allocated_during, cuda_peak, read_rss, release_memory,
                      reset_rss_peak, saved_for_backward, seed_everything, storage_key, synchronize, tensor_bytes,
                      time_steps)
from .micro import mona_conv_micro_benchmark, mona_micro_markdown
from .params import (expected_trainable, formula_markdown, measured_column, method_class, parameter_markdown,
                     parameter_table)
from .report import jsonable, plot, to_markdown
from .run import (RATIO_KEYS, REFERENCE, add_ratios, machine_description, measure_method, measure_part,
                  not_applicable, rss_peak, run_benchmark, with_reference)
from .workloads import (PARTS, Case, Workload, build_benchmark_model, check_run, flatten_tensors,
                        load_benchmark_config, parse_backbone_options, parse_method, synthetic_batch)

__all__ = [
    'STANDARD_BACKBONES', 'check_device', 'count_flops', 'cpu_allocated_during', 'cuda_peak', 'read_rss',
    'release_memory', 'reset_rss_peak', 'saved_for_backward', 'seed_everything', 'storage_key', 'synchronize',
    'tensor_bytes', 'time_steps', 'mona_conv_micro_benchmark', 'mona_micro_markdown', 'expected_trainable',
    'formula_markdown', 'measured_column', 'method_class', 'parameter_markdown', 'parameter_table', 'jsonable', 'plot',
    'to_markdown', 'RATIO_KEYS', 'REFERENCE', 'add_ratios', 'machine_description', 'measure_method', 'measure_part',
    'not_applicable', 'rss_peak', 'run_benchmark', 'with_reference', 'PARTS', 'Case', 'Workload',
    'build_benchmark_model', 'check_run', 'flatten_tensors', 'load_benchmark_config', 'parse_backbone_options',
    'parse_method', 'synthetic_batch'
]
