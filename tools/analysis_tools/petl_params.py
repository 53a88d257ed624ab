"""Trainable backbone parameters of every PETL method on Swin-B, Swin-L, ViT-B and ViT-L, counted from built models.

Builds each (method, backbone) pair through ``mmpetl.PETLBackbone`` on the CPU (random weights; nothing is
downloaded), and prints a markdown table: the method, what it trains and where (the method's docstring), the
trainable parameter counts, and the paper-reported figures (V-PETL Bench; HST's paper), labelled as such. A method that does not apply to a backbone (E3VA needs Swin stages, HST a plain ViT) shows "n/a".

With ``--benchmark``, the table also shows, per result file of ``tools/analysis_tools/benchmark_petl.py``, each
method's cost relative to full fine-tuning as measured there (saved-for-backward bytes / peak memory allocated / peak
RSS, on the CPU when measured / step time), with
the machine and input in the column's header: the README's model-zoo table.

Example:
    python tools/analysis_tools/petl_params.py                       # every method, markdown on stdout
    python tools/analysis_tools/petl_params.py --methods Mona LoRA --json out.json
    python tools/analysis_tools/petl_params.py --benchmark work_dirs/benchmark_petl/<name>.json
"""
import argparse
import inspect
import json
import os
import sys

BACKBONES = {
    'Swin-B': dict(type='mmdet.SwinTransformer', embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    'Swin-L': dict(type='mmdet.SwinTransformer', embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
    'ViT-B': dict(type='mmpretrain.VisionTransformer', arch='base', img_size=224, patch_size=16),
    'ViT-L': dict(type='mmpretrain.VisionTransformer', arch='large', img_size=224, patch_size=16),
}
# Paper-reported, not reproduced here. V-PETL Bench: COCO Cascade Mask R-CNN Swin-B (params / box AP / mask AP);
# Swin-L VOC RetinaNet box AP / ADE20K UperNet mIoU. HST: its paper (ViT-B, COCO test-dev box / mask AP).
REPORTED_COCO = {
    'Full': '86.75 M / 51.9 / 45.0', 'Fixed': '0 / 43.5 / 38.6', 'BitFit': '0.20 M / 47.9 / 41.9',
    'LNTune': '0.06 M / 48.0 / 41.4', 'Partial1': '12.60 M / 49.2 / 42.8', 'Adapter': '3.11 M / 50.9 / 43.8',
    'LoRA': '3.03 M / 51.2 / 44.3', 'AdaptFormer': '3.11 M / 51.4 / 44.5', 'LoRand': '1.20 M / 51.0 / 43.9',
    'E3VA': '1.20 M / 50.5 / 43.8', 'Mona': '4.16 M / 53.4 / 46.0', 'HST': 'ViT-B: 49.7 / 43.2 (HST paper, test-dev)',
}
REPORTED_SWIN_L = {
    'Full': '83.5 / 52.10', 'Fixed': '83.6 / 46.84', 'BitFit': '85.7 / 48.37', 'LNTune': '85.8 / 47.98',
    'Partial1': '85.4 / 47.44', 'Adapter': '87.1 / 50.78', 'LoRA': '87.5 / 50.34', 'AdaptFormer': '87.3 / 50.83',
    'LoRand': '86.8 / 50.76', 'E3VA': '86.5 / 49.64', 'Mona': '87.3 / 51.36',
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--methods', nargs='+', help='methods to count (default: every registered method)')
    parser.add_argument('--backbones', nargs='+', choices=list(BACKBONES), default=list(BACKBONES),
                        help='backbones (default: all four)')
    parser.add_argument('--json', help='also write the counts to this JSON file')
    parser.add_argument('--benchmark', nargs='+', default=[], metavar='JSON',
                        help='result files of benchmark_petl.py: one column of ratios to full fine-tuning each '
                        '(its whole-model rows, or its backbone rows when it measured the backbone alone)')
    return parser.parse_args()


def load_benchmark(path: str):
    """(column header, method -> cell) from one benchmark_petl.py result file."""
    try:
        with open(path) as f:
            result = json.load(f)
        meta, rows = result['meta'], result['rows']
    except (OSError, ValueError, KeyError) as err:
        sys.exit(f'--benchmark {path}: not a result file of benchmark_petl.py ({type(err).__name__}: {err})')
    part = 'whole' if any(r['part'] == 'whole' for r in rows) else 'backbone'
    cpu = meta['device'] == 'cpu'
    keys = ['saved_bytes', 'peak_bytes'] + (['rss_peak_bytes'] if any('rss_peak_bytes' in r for r in rows) else [])
    machine = meta['machine']
    where = machine.get('gpu') or f'{machine.get("cpu")}, {machine.get("threads")} threads'
    header = (f'{"whole model" if part == "whole" else "backbone alone"} vs full, measured here '
              f'({os.path.splitext(os.path.basename(meta["config"]))[0]}, {"×".join(map(str, meta["input"]))}, '
              f'{meta["device"]}: {where}): saved for backward / '
              f'{"peak allocated" if cpu else "peak CUDA memory"} / '
              f'{"peak RSS / " if "rss_peak_bytes" in keys else ""}{"CPU time" if cpu else "time"} of a step')

    def ratio(row, key):
        value = row.get(f'{key}_ratio')
        return '–' if value is None else f'{value:.2f}×'

    cells = {}
    for row in rows:
        if row['part'] != part:
            continue
        if row['status'] != 'ok':
            cells[row['method']] = 'n/a'
            continue
        time_key = 'step_cpu_time' if cpu else 'step_time'
        cells[row['method']] = ' / '.join(ratio(row, key) for key in (*keys, time_key))
    return header, cells


def main():
    args = parse_args()
    import torch
    from mmpetl.models import PETLBackbone, available_methods
    from mmpetl.registry import PETL_METHODS
    from mmpetl.utils import count_parameters

    methods = args.methods or available_methods()
    unknown = sorted(set(methods) - set(available_methods()))
    if unknown:
        sys.exit(f'unknown method(s) {unknown}; valid choices: {", ".join(available_methods())}')

    counts = {}
    for method in methods:
        counts[method] = {}
        for backbone in args.backbones:
            print(f'[petl_params] {method} on {backbone}', file=sys.stderr, flush=True)
            torch.manual_seed(0)
            try:
                model = PETLBackbone(BACKBONES[backbone], dict(type=method))
            except ValueError as err:  # the method does not apply to this backbone
                counts[method][backbone] = None
                print(f'[petl_params]   n/a: {str(err).splitlines()[0][:120]}', file=sys.stderr)
                continue
            counts[method][backbone] = count_parameters(model)
            del model

    measured = [load_benchmark(path) for path in args.benchmark]
    header = ['method', 'what trains, where', *args.backbones, *(h for h, _ in measured),
              'paper-reported COCO, Swin-B: params / box AP / mask AP', 'paper-reported Swin-L: VOC AP / ADE20K mIoU']
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for method in methods:
        doc = inspect.getdoc(PETL_METHODS.get(method)).split('\n\n')[0].replace('\n', ' ')
        cells = [f'{c["trainable"]:,}' if c else 'n/a' for c in (counts[method][b] for b in args.backbones)]
        cells += [c.get(method, '') for _, c in measured]
        reported = f'{REPORTED_COCO.get(method, "")} | {REPORTED_SWIN_L.get(method, "")}'
        print(f'| {method} | {doc} | ' + ' | '.join(cells) + f' | {reported} |')
    variants = dict.fromkeys(spec for _, column in measured for spec in column if spec not in methods)
    for spec in variants:  # measured beside the methods (Mona:fused=False)
        print(f'| {spec} | (variant, measured) |' + ' |' * len(args.backbones)
              + ''.join(f' {c.get(spec, "")} |' for _, c in measured) + ' | |')
    totals = {b: next((c[b]['total'] for c in counts.values() if c.get(b) and c[b]['trainable'] == 0), None)
              for b in args.backbones}
    print('\nTotal backbone parameters: ' + ', '.join(f'{b} {t:,}' for b, t in totals.items() if t))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(counts, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
