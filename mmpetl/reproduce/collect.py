"""Reading a table's results back from its rows' work directories, and writing them side by side with the paper's
figures: markdown, JSON and a PNG.

Per row: the metrics of the last validation (mmengine's ``<timestamp>/vis_data/scalars.json``; a resumed run has
several timestamps, read in order), the trainable parameters (``param_report.json`` of mmpetl's
ParameterReportHook), the peak GPU memory (the largest ``memory`` the logger recorded, MiB; only logged on CUDA) and
the median time per training iteration (``time``, seconds).
"""
import glob
import json
import os.path as osp
import statistics
from typing import Dict, List, Optional

from .jobs import row_dir, row_status
from .tables import Table


def read_scalars(work_dir: str) -> List[dict]:
    """Every record of the row's ``scalars.json`` files, oldest run first."""
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path, encoding='utf-8') as file:
            for line in file:
                line = line.strip()
                if line:
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:  # the last line of a run killed while writing
                        continue
    return records


def read_params(work_dir: str) -> Optional[dict]:
    """Trainable parameters of the model and of its backbone, from ``param_report.json``."""
    path = osp.join(work_dir, 'param_report.json')
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as file:
        report = json.load(file)
    backbone = next((r for r in report.get('rows', []) if r['module'] == 'backbone'), None)
    return dict(trainable=report['trainable'], total=report['total'],
                backbone_trainable=backbone['trainable'] if backbone else None)


def row_result(table: Table, row, root: str) -> dict:
    work_dir = row_dir(root, row)
    status = row_status(root, row)
    records = read_scalars(work_dir)
    keys = [m.key for m in table.metrics]
    evaluated = [r for r in records if any(k in r for k in keys)]
    train = [r for r in records if 'loss' in r]
    ours = {}
    if evaluated:
        last = evaluated[-1]
        ours = {m.label: round(float(last[m.key]) * m.scale, 2) for m in table.metrics if m.key in last}
    memory = [float(r['memory']) for r in train if 'memory' in r]
    times = [float(r['time']) for r in train if 'time' in r]
    diff = {label: round(value - row.paper[label], 2) for label, value in ours.items()
            if row.paper.get(label) is not None}
    return dict(row=row.name, config=row.config, status=status.state, detail=status.detail,
                paper=dict(row.paper), paper_params=row.paper_params, ours=ours, difference=diff,
                params=read_params(work_dir), memory_mib=max(memory) if memory else None,
                time_per_iter=round(statistics.median(times), 4) if times else None,
                iterations_logged=len(train), step=evaluated[-1].get('step') if evaluated else None)


def collect(table: Table, root: str, rows=None) -> dict:
    return dict(table=table.name, title=table.title, paper_source=table.source,
                metrics=[m.label for m in table.metrics], notes=table.notes,
                rows=[row_result(table, row, root) for row in (rows or table.rows)])


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return 'n/a'
    return f'{value:.{digits}f}' if isinstance(value, float) else str(value)


def _millions(count: Optional[int]) -> str:
    return 'n/a' if count is None else f'{count / 1e6:.2f} M'


def to_markdown(result: dict) -> str:
    labels = result['metrics']
    head = ['row', 'status']
    for label in labels:
        head += [f'{label} (paper)', f'{label} (ours)', 'Δ']
    head += ['params (paper)', 'backbone trainable (ours)', 'trainable (ours)', 'GPU memory (MiB)', 's / iter']
    lines = [f'# {result["title"]}', '',
             f'Paper-reported figures (columns "paper"): {result["paper_source"]}; never measured here. "ours": the '
             'last validation of each row\'s run; Δ = ours - paper.', '',
             '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for row in result['rows']:
        cells = [row['row'], row['status']]
        for label in labels:
            cells += [_fmt(row['paper'].get(label)), _fmt(row['ours'].get(label)),
                      _fmt(row['difference'].get(label)) if label in row['difference'] else 'n/a']
        params = row['params'] or {}
        cells += [row['paper_params'] or 'n/a', _millions(params.get('backbone_trainable')),
                  _millions(params.get('trainable')), _fmt(row['memory_mib'], 0), _fmt(row['time_per_iter'], 3)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    failed = [r for r in result['rows'] if r['status'] == 'failed']
    if failed:
        lines += ['', 'Failed rows:'] + [f'- {r["row"]}: {r["detail"]}' for r in failed]
    if result.get('notes'):
        lines += ['', result['notes']]
    return '\n'.join(lines) + '\n'


def plot(result: dict, path: str) -> None:
    """One panel per metric: the paper's figure and ours per row."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = result['rows']
    labels = result['metrics']
    fig, axes = plt.subplots(len(labels), 1, figsize=(max(6.0, 0.7 * len(rows) + 2), 3.2 * len(labels)),
                             squeeze=False)
    xs = range(len(rows))
    for ax, label in zip(axes[:, 0], labels):
        paper = [r['paper'].get(label) for r in rows]
        ours = [r['ours'].get(label) for r in rows]
        ax.bar([x - 0.2 for x in xs], [p if p is not None else 0 for p in paper], 0.4, color='0.75', hatch='//',
               label=f'paper-reported ({result["paper_source"]})')
        ax.bar([x + 0.2 for x in xs], [o if o is not None else 0 for o in ours], 0.4, color='tab:blue',
               label='ours (this run)')
        for x, (p, o) in enumerate(zip(paper, ours)):
            if p is None:
                ax.text(x - 0.2, 0, 'n/a', ha='center', va='bottom', fontsize=7)
            if o is None:
                ax.text(x + 0.2, 0, 'n/a', ha='center', va='bottom', fontsize=7)
        ax.set_ylabel(label)
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r['row'] for r in rows], rotation=45, ha='right', fontsize=8)
    # one legend above the panels, where it covers no bar
    axes[0, 0].legend(fontsize=7, loc='lower left', bbox_to_anchor=(0.0, 1.02), ncol=2, frameon=False)
    fig.suptitle(result['title'], fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_results(result: dict, out_dir: str) -> Dict[str, str]:
    """``<out_dir>/<table>.{md,json,png}``; returns the paths."""
    from .jobs import atomic_write_text
    base = osp.join(out_dir, result['table'])
    paths = dict(md=base + '.md', json=base + '.json', png=base + '.png')
    atomic_write_text(paths['md'], to_markdown(result))
    atomic_write_text(paths['json'], json.dumps(result, indent=2) + '\n')
    plot(result, paths['png'])
    return paths
