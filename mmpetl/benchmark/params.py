"""The parameter table: each method's trainable backbone parameters on the standard backbones, counted from built
models and checked against the method's documented count (``expected_trainable`` of the method class); with what
the method trains and where (its description), optional ratios measured by the benchmark (its result files), and the
figures papers reported for it, labelled as such. ``tools/analysis_tools/petl_params.py`` prints it in full (the
model-zoo table of docs/benchmark.md), ``tools/analysis_tools/benchmark_petl.py --params`` its formula check.

No formula is written here: each method class documents its own (:meth:`BasePETLMethod.expected_trainable`).
"""
import json
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..models import available_methods, build_petl_backbone
from ..models.methods.base import REPORTED_COLUMNS
from ..registry import PETL_METHODS
from ..utils.params import count_parameters
from .backbones import STANDARD_BACKBONES
from .workloads import parse_method

#: method spec -> backbone name -> ``{'trainable', 'total', 'formula'}``, or None where the method does not apply.
Table = Dict[str, Dict[str, Optional[Dict[str, Any]]]]
#: A column measured by the benchmark: its header, and method spec -> cell.
Column = Tuple[str, Dict[str, str]]


def method_class(name: str) -> type:
    """The registered PETL method class ``name``.

    Raises:
        ValueError: no such method, with the valid choices.
    """
    available = available_methods()  # imports every method
    if name not in available:
        raise ValueError(f'unknown method {name!r}; valid choices: {", ".join(available)}')
    return PETL_METHODS.get(name)


def expected_trainable(backbone: nn.Module, method: Dict[str, Any]) -> Optional[int]:
    """The documented trainable count of a built PETL ``backbone`` carrying ``method`` (``dict(type='Mona', ...)``),
    from the method class (:meth:`BasePETLMethod.expected_trainable`); None where it documents none."""
    cls = method_class(method['type'])
    return cls.expected_trainable(backbone, **{k: v for k, v in method.items() if k != 'type'})


def parameter_table(methods: Sequence[str], backbones: Optional[Sequence[str]] = None,
                    log: Callable[[str], None] = print) -> Table:
    """Trainable parameters of each method spec on each standard backbone alone (:data:`STANDARD_BACKBONES`; all of
    them by default), counted from the built backbone (random weights, CPU) and checked against
    :func:`expected_trainable`.

    Returns:
        dict: method spec -> backbone name -> ``{'trainable', 'total', 'formula'}``, or None where the method does not
        apply (the build raises ValueError).
    """
    table = {}
    for spec in methods:
        table[spec] = {}
        for name in backbones or STANDARD_BACKBONES:
            log(f'parameters: {spec} on {name}')
            torch.manual_seed(0)
            try:
                model = build_petl_backbone(STANDARD_BACKBONES[name], parse_method(spec))
            except ValueError as err:  # the method does not apply to this backbone
                log(f'  n/a: {str(err).splitlines()[0][:120]}')
                table[spec][name] = None
                continue
            table[spec][name] = dict(count_parameters(model), formula=expected_trainable(model, parse_method(spec)))
            del model
    return table


def measured_column(path: str) -> Column:
    """One column of the table from a result file of ``benchmark_petl.py``: per method, its cost relative to full
    fine-tuning (saved-for-backward bytes / peak memory / peak RSS when measured / step time, CPU time on the CPU) of
    the whole model, or of the backbone alone when the file measured only that.

    Raises:
        ValueError: the file is not such a result file.
    """
    try:
        with open(path) as f:
            result = json.load(f)
        meta, rows = result['meta'], result['rows']
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f'not a result file of benchmark_petl.py ({type(err).__name__}: {err})') from None
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


def _count_cell(counts: Optional[Dict[str, Any]]) -> str:
    """The trainable count, and the documented one next to it where they differ."""
    if counts is None:
        return 'n/a'
    cell = f'{counts["trainable"]:,}'
    if counts.get('formula') is not None and counts['formula'] != counts['trainable']:
        cell += f' (formula {counts["formula"]:,})'
    return cell


def formula_checks(counts: Dict[str, Optional[Dict[str, Any]]]) -> List[bool]:
    """Count == formula, on each backbone where the method applies and documents a formula."""
    return [c['formula'] == c['trainable'] for c in counts.values() if c is not None and c.get('formula') is not None]


def formula_markdown(table: Table) -> str:
    """The formula check as markdown: the trainable counts and whether each equals the method's formula (a mismatch
    is shown next to the count)."""
    backbones = list(next(iter(table.values())))
    lines = ['| method | ' + ' | '.join(f'{b} trainable' for b in backbones) + ' | = formula |',
             '|---|' + '---:|' * len(backbones) + '---|']
    for spec, counts in table.items():
        checks = formula_checks(counts)
        lines.append(f'| {spec} | ' + ' | '.join(_count_cell(counts[b]) for b in backbones)
                     + f' | {"yes" if checks and all(checks) else "NO"} |')
    return '\n'.join(lines)


def parameter_markdown(table: Table, measured: Sequence[Column] = ()) -> str:
    """The full table as markdown: method, what trains and where (:meth:`BasePETLMethod.description`), the
    trainable counts (a mismatch with the formula shown next to the count), one column per ``measured`` result file,
    the paper-reported columns (:data:`REPORTED_COLUMNS`); then rows for the specs measured beside the methods
    (``Mona:fused=False``), the backbones' total parameters, and the sources of the paper-reported figures."""
    backbones = list(next(iter(table.values())))
    header = ['method', 'what trains, where', *backbones, *(h for h, _ in measured),
              *(f'paper-reported {title}' for title in REPORTED_COLUMNS.values())]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    sources = {key: {} for key in REPORTED_COLUMNS}
    for spec, counts in table.items():
        cls = method_class(parse_method(spec)['type'])
        reported = cls.reported
        for key, figure in reported.items():
            sources[key].setdefault(figure.source, []).append(spec)
        cells = [_count_cell(counts[b]) for b in backbones] + [column.get(spec, '') for _, column in measured]
        cells += [reported[key].value if key in reported else '' for key in REPORTED_COLUMNS]
        lines.append(f'| {spec} | {cls.description()} | ' + ' | '.join(cells) + ' |')
    variants = dict.fromkeys(spec for _, column in measured for spec in column if spec not in table)
    for spec in variants:  # measured beside the methods (Mona:fused=False)
        lines.append(f'| {spec} | (variant, measured) |' + ' |' * len(backbones)
                     + ''.join(f' {column.get(spec, "")} |' for _, column in measured) + ' |' * len(REPORTED_COLUMNS))
    totals = {b: next((c[b]['total'] for c in table.values() if c.get(b) and c[b]['trainable'] == 0), None)
              for b in backbones}
    lines += ['', 'Total backbone parameters: ' + ', '.join(f'{b} {t:,}' for b, t in totals.items() if t)]
    if any(sources.values()):
        lines += ['', 'Sources of the paper-reported columns (not measured here):']
    for key, by_source in sources.items():
        ranked = sorted(by_source.items(), key=lambda item: -len(item[1]))  # the column's main source first
        if ranked:
            lines.append(f'- {REPORTED_COLUMNS[key]}: {ranked[0][0]}'
                         + ''.join(f'; {", ".join(specs)}: {source}' for source, specs in ranked[1:]))
    return '\n'.join(lines)
