"""Benchmark PETL methods side by side: parameters, memory, FLOPs and time of a training step, against full fine-tuning.

Builds the config's model once per method (``model.backbone.method = dict(type=<method>)``, random weights, nothing
downloaded), feeds one synthetic batch (seeded; images of --size with a few boxes and masks for a detector) through
its real data preprocessor and loss, and measures, for the backbone alone and for the whole model:

  trainable / total parameters, and the backbone's count checked against the method's documented formula;
  bytes saved for backward during one training forward (saved_tensors_hooks; deterministic);
  forward + backward FLOPs (torch FlopCounterMode);
  peak memory allocated during a training step (CUDA: max_memory_allocated; CPU: the same figure from torch's CPU
  allocator, replayed from torch.profiler's memory events), and on the CPU also the peak RSS of a fresh process;
  the median time of --steps training steps after --warmup (AdamW step included), all methods in this process;
  each as a ratio to full fine-tuning, measured in the same run (added when not listed).

Methods that do not apply to the backbone (E3VA needs a Swin, HST a plain ViT) are reported as n/a. Writes
<out-dir>/<name>.md, .json and .png (memory ratio against trainable parameters, marker area ~ step time).

Other modes:
  --params       trainable parameters of every method on Swin-B, Swin-L and ViT-B, checked against the formulas
                 (the formula-check view of tools/analysis_tools/petl_params.py's table; one implementation)
  --mona-micro   Mona's convolution path: reference formulation (three depthwise convolutions) against the fused
                 re-parameterised kernel, forward + backward time and equality

Examples:
    python tools/analysis_tools/benchmark_petl.py                                  # Swin-B Cascade Mask R-CNN, 512
    python tools/analysis_tools/benchmark_petl.py --methods Mona E3VA --whole --steps 5
    python tools/analysis_tools/benchmark_petl.py --device cuda --size 1024
    python tools/analysis_tools/benchmark_petl.py --methods Mona Mona:fused=False   # Mona against its reference
    python tools/analysis_tools/benchmark_petl.py --methods Mona Mona@with_cp=True Full@with_cp=True
                                                     # with the upstream activation checkpointing, for that row only
    python tools/analysis_tools/benchmark_petl.py configs/demo/cascade-mask-rcnn_swin-mini-mona_fpn_toy-coco.py \\
        --size 128 --override model.backbone.backbone.depths="[2,2,2,2]"
    python tools/analysis_tools/benchmark_petl.py --mona-micro
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(ROOT, 'configs/_base_/cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py')
#: The standard backbones of --params (docs/benchmark/params.md); petl_params.py counts on all of them.
PARAMS_BACKBONES = ('Swin-B', 'Swin-L', 'ViT-B')


def count(minimum: int):
    """An argparse type: an integer >= minimum."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not an integer') from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f'{value} is below {minimum}')
        return value
    return parse


def make_parser() -> argparse.ArgumentParser:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG,
                        help='a config whose model.backbone is mmpetl.PETLBackbone (default: Swin-B Cascade Mask '
                        'R-CNN, configs/_base_/cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py)')
    parser.add_argument('--methods', nargs='+',
                        help='methods, "Name", "Name:key=value,..." (method options) and/or "Name@key=value,..." '
                        '(options of the upstream backbone for that row, e.g. Mona@with_cp=True) (default: every '
                        'registered method); Full is added when missing')
    parser.add_argument('--size', type=count(1), default=512, help='input images are size x size (default 512)')
    parser.add_argument('--batch', type=count(1), default=1, help='images per batch (default 1)')
    parser.add_argument('--steps', type=count(0), default=3,
                        help='timed training steps per method (default 3; 0: memory and FLOPs only)')
    parser.add_argument('--warmup', type=count(0), default=1, help='untimed steps before them (default 1)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the batch and of every step (default 0)')
    part = parser.add_mutually_exclusive_group()
    part.add_argument('--backbone-only', action='store_true', help='measure the backbone alone')
    part.add_argument('--whole', action='store_true', help='measure the whole model only')
    parser.add_argument('--no-rss', action='store_true',
                        help='CPU: skip the peak-RSS measurement (one fresh process per method and part)')
    parser.add_argument('--override', nargs='+', action=DictAction, default={},
                        help='config overrides, key=value (e.g. model.backbone.backbone.depths="[2,2,2,2]")')
    parser.add_argument('--out-dir', default=osp.join(ROOT, 'work_dirs/benchmark_petl'), help='where files go')
    parser.add_argument('--name', help='file stem (default: <config>_<size>px_<device>, params, mona_micro)')
    parser.add_argument('--params', action='store_true',
                        help='only the trainable-parameter table on Swin-B, Swin-L and ViT-B (no forward)')
    parser.add_argument('--mona-micro', action='store_true', help='only the Mona convolution micro-benchmark')
    parser.add_argument('--micro-shape', type=count(1), nargs=3, default=(2, 64, 128), metavar=('B', 'C', 'S'),
                        help='micro-benchmark input B x C x S x S (default 2 64 128)')
    return parser


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write(out_dir: str, name: str, markdown: str, data, plot=None) -> None:
    from mmpetl.benchmark import jsonable
    os.makedirs(out_dir, exist_ok=True)
    stem = osp.join(out_dir, name)
    with open(f'{stem}.md', 'w') as f:
        f.write(markdown + '\n')
    with open(f'{stem}.json', 'w') as f:
        json.dump(jsonable(data), f, indent=1)
    written = [f'{stem}.md', f'{stem}.json']
    if plot is not None:
        plot(data, f'{stem}.png')
        written.append(f'{stem}.png')
    print(markdown)
    print('\nwritten: ' + ', '.join(written))


def main():
    parser = make_parser()
    args = parser.parse_args()
    # torch.profiler (the CPU peak) logs "gpuGetDeviceCount failed" as an error on a machine without a GPU
    os.environ.setdefault('KINETO_LOG_LEVEL', '5')
    from mmpetl import benchmark
    from mmpetl.models import available_methods

    if args.mona_micro:
        try:
            benchmark.check_device(args.device)
        except ValueError as err:
            parser.error(str(err))
        batch, channels, size = args.micro_shape
        log(f'[benchmark] Mona convolution micro-benchmark, {batch}x{channels}x{size}x{size}, {args.device}')
        micro = benchmark.mona_conv_micro_benchmark(batch, channels, size, steps=max(args.steps, 10),
                                                    warmup=max(args.warmup, 3), device=args.device, seed=args.seed)
        write(args.out_dir, args.name or 'mona_micro', benchmark.mona_micro_markdown(micro), micro)
        return 0

    methods = args.methods or available_methods()
    parts = ('backbone',) if args.backbone_only else ('whole',) if args.whole else benchmark.PARTS
    try:
        benchmark.check_run(args.config, methods, parts, args.device, args.override)
    except ValueError as err:
        parser.error(str(err))

    if args.params:
        table = benchmark.parameter_table(methods, PARAMS_BACKBONES,
                                          log=lambda message: log(f'[benchmark] {message}'))
        write(args.out_dir, args.name or 'params', benchmark.formula_markdown(table), table)
        return 0

    start = time.time()
    result = benchmark.run_benchmark(args.config, methods, parts, size=args.size, batch=args.batch, steps=args.steps,
                                     warmup=args.warmup, device=args.device, seed=args.seed, overrides=args.override,
                                     rss=not args.no_rss, log=log)
    log(f'[benchmark] done in {time.time() - start:.0f} s')
    config_stem = osp.splitext(osp.basename(args.config))[0]
    name = args.name or f'{config_stem}_{args.size}px_{args.device.replace(":", "")}'
    write(args.out_dir, name, benchmark.to_markdown(result), result, benchmark.plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
