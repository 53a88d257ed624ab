"""Trainable backbone parameters of every PETL method on Swin-B, Swin-L, ViT-B and ViT-L, counted from built models.

Builds each (method, backbone) pair through ``mmpetl.PETLBackbone`` on the CPU (random weights; nothing is
downloaded; the backbones: ``mmpetl.benchmark.STANDARD_BACKBONES``), and prints a markdown table: the method, what it
trains and where (the method's description), the trainable parameter counts (each checked against the method's
documented formula: a mismatch is shown next to the count), and the paper-reported figures (V-PETL Bench; HST's
paper), labelled as such, with their sources. A method that does not apply to a backbone (E3VA needs Swin stages,
HST a plain ViT) shows "n/a". ``benchmark_petl.py --params`` prints the formula check of the same table
(``mmpetl/benchmark/params.py``).

With ``--benchmark``, the table also shows, per result file of ``tools/analysis_tools/benchmark_petl.py``, each
method's cost relative to full fine-tuning as measured there (saved-for-backward bytes / peak memory allocated / peak
RSS, on the CPU when measured / step time), with the machine and input in the column's header: the model-zoo
table of docs/benchmark.md.

Example:
    python tools/analysis_tools/petl_params.py                       # every method, markdown on stdout
    python tools/analysis_tools/petl_params.py --methods Mona LoRA --json out.json
    python tools/analysis_tools/petl_params.py --benchmark work_dirs/benchmark_petl/<name>.json
"""
import argparse
import json
import sys


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--methods', nargs='+', help='methods to count (default: every registered method)')
    parser.add_argument('--backbones', nargs='+', metavar='NAME',
                        help='standard backbones: Swin-B, Swin-L, ViT-B, ViT-L (default: all four)')
    parser.add_argument('--json', help='also write the counts (trainable, total, formula) to this JSON file')
    parser.add_argument('--benchmark', nargs='+', default=[], metavar='JSON',
                        help='result files of benchmark_petl.py: one column of ratios to full fine-tuning each '
                        '(its whole-model rows, or its backbone rows when it measured the backbone alone)')
    return parser


def log(message: str) -> None:
    print(f'[petl_params] {message}', file=sys.stderr, flush=True)


def main():
    parser = make_parser()
    args = parser.parse_args()
    from mmpetl.benchmark import (STANDARD_BACKBONES, measured_column, parameter_markdown, parameter_table,
                                  parse_method)
    from mmpetl.models import available_methods

    backbones = args.backbones or list(STANDARD_BACKBONES)
    wrong = [name for name in backbones if name not in STANDARD_BACKBONES]
    if wrong:
        parser.error(f'argument --backbones: invalid choice(s) {", ".join(wrong)} (choose from '
                     f'{", ".join(STANDARD_BACKBONES)})')
    methods = args.methods or available_methods()
    unknown = sorted({parse_method(spec)['type'] for spec in methods} - set(available_methods()))
    if unknown:
        sys.exit(f'unknown method(s) {unknown}; valid choices: {", ".join(available_methods())}')
    measured = []
    for path in args.benchmark:
        try:
            measured.append(measured_column(path))
        except ValueError as err:
            sys.exit(f'--benchmark {path}: {err}')

    table = parameter_table(methods, backbones, log=log)
    print(parameter_markdown(table, measured))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(table, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
