"""The transfer study's results: per (task, backbone, method, init) the mean and spread over seeds, ratios to Full
measured in the same run, the study's two sanity checks, a markdown table and a plot of metric against trainable
parameters."""
import statistics
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .plan import DEFAULT_METHODS, TASKS


def aggregate(records: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One row per (task, backbone, method, init, label), in the order first seen (the label tells a method's sizes
    apart: ``Mona``, ``Mona (bottleneck 12)``): metric means, sample std over seeds (0 for one seed), seeds,
    parameters, and peak memory and step time as ratios to Full on the same task and backbone (medians over seeds: a
    run slowed by something else on the machine does not move them)."""
    groups: Dict[Tuple[str, str, str, str, str], List[Dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault((rec['task'], rec['backbone'], rec['method'], rec['init'], rec['label']), []).append(rec)
    rows = []
    for (task, backbone, method, init, label), recs in groups.items():
        ok = [r for r in recs if r['status'] == 'ok']
        row = dict(task=task, backbone=backbone, method=method, init=init, label=label,
                   status='ok' if ok else recs[0]['status'], reason=recs[0].get('reason'),
                   seeds=[r['seed'] for r in ok])
        if ok:
            row.update(backbone_trainable=ok[0]['backbone_trainable'], backbone_total=ok[0]['backbone_total'],
                       model_trainable=ok[0]['model_trainable'],
                       peak_bytes=statistics.median(r['peak_bytes'] for r in ok),
                       step_time=statistics.median(r['step_time'] for r in ok), metrics={})
            for key in ok[0]['metrics']:
                values = [r['metrics'][key] for r in ok]
                row['metrics'][key] = dict(mean=statistics.mean(values), values=values,
                                           std=statistics.stdev(values) if len(values) > 1 else 0.0)
        rows.append(row)
    rows.sort(key=_row_order)
    for row in rows:
        full = find(rows, row['task'], row['backbone'], 'Full')
        if row['status'] == 'ok' and full is not None and full['status'] == 'ok':
            row['peak_ratio'] = row['peak_bytes'] / full['peak_bytes']
            row['time_ratio'] = row['step_time'] / full['step_time']
    return rows


def _row_order(row: Dict[str, Any]) -> Tuple:
    """Tasks, backbones and methods in the study's order (``TASKS``, ``DEFAULT_METHODS``), the random rows after the
    pretrained ones, a method at its defaults before its variants (``Mona``, ``Mona (bottleneck 12)``)."""
    backbones = list(DEFAULT_METHODS)
    methods = [spec.partition('@')[0] for spec in DEFAULT_METHODS.get(row['backbone'], ())]
    return (list(TASKS).index(row['task']) if row['task'] in TASKS else len(TASKS),
            backbones.index(row['backbone']) if row['backbone'] in backbones else len(backbones),
            row['init'] != 'pretrained',
            methods.index(row['method']) if row['method'] in methods else len(methods),
            row['label'] != row['method'] and row['label'] != f'{row["method"]} (random init)', row['label'])


def find(rows, task: str, backbone: str, method: str, init: str = 'pretrained',
         label: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The first row of ``method`` with ``init`` on ``task`` and ``backbone`` (with ``label`` where given)."""
    for row in rows:
        if (row['task'], row['backbone'], row['method'], row['init']) == (task, backbone, method, init) and \
                label in (None, row['label']):
            return row
    return None


def headline(row: Dict[str, Any]) -> Dict[str, Any]:
    return row['metrics'][TASKS[row['task']].metrics[0][0]]


def checks(rows: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """What the study must show, per task and backbone where both rows exist: (a) each method that also ran on the
    random backbone (Fixed; HST on the ViT) above itself there, (b) Full above Fixed (pretrained); each gap compared
    with the larger seed spread (sample std) of the two rows. ``clear`` is True when the gap exceeds twice that spread
    (and needs 2+ seeds)."""
    out = []
    random_methods = [r['method'] for r in rows if r['init'] == 'random']
    pairs = [('pretraining' + ('' if method == 'Fixed' else f' ({method})'), (method, 'pretrained'),
              (method, 'random')) for method in dict.fromkeys(random_methods)]
    pairs.append(('full vs fixed', ('Full', 'pretrained'), ('Fixed', 'pretrained')))
    for task in TASKS:
        for backbone in ('swin-mini', 'vit-mini'):
            for name, high, low in pairs:
                a, b = find(rows, task, backbone, *high), find(rows, task, backbone, *low)
                if not a or not b or a['status'] != 'ok' or b['status'] != 'ok':
                    continue
                gap = headline(a)['mean'] - headline(b)['mean']
                spread = max(headline(a)['std'], headline(b)['std'])
                seeds = min(len(a['seeds']), len(b['seeds']))
                out.append(dict(task=task, backbone=backbone, check=name, high=a['label'], low=b['label'], gap=gap,
                                spread=spread, seeds=seeds, clear=seeds > 1 and gap > 2 * spread))
    return out


def _params(n: int) -> str:
    return f'{n / 1e6:.2f} M' if n >= 1e6 else f'{n / 1e3:.1f} k' if n else '0'


def _metric(m: Dict[str, Any]) -> str:
    return f'{m["mean"]:.1f} ± {m["std"]:.1f}' if len(m['values']) > 1 else f'{m["mean"]:.1f}'


def to_markdown(rows: Sequence[Dict[str, Any]], meta: Dict[str, Any]) -> str:
    lines = [f'Transfer study, {meta["date"]}, {meta["machine"]}; {meta["mode"]} mode, {meta["minutes"]:.0f} min of runs '
             f'(`{meta["command"]}`). Each metric is the mean ± sample standard deviation over the seeds listed; peak '
             'memory (weights, optimizer state and the peak of one training step) and the median step time (each the '
             'median over seeds) are ratios to Full on the same task and backbone, measured in this run.'
             + ''.join(f' Pretrained {backbone}: `{path}` (not the shipped release).'
                       for backbone, path in sorted(meta.get('pretrained', {}).items()))
             + (' Every run\'s config changed by `--cfg-options '
                + ' '.join(f'{k}={v}' for k, v in meta['cfg_options'].items()) + '`.'
                if meta.get('cfg_options') else '')
             + (' Method sizes proportional to the backbone where the label gives them (`--sizes proportional`: '
                'each width option scaled by the small backbone\'s width over the reference backbone\'s, '
                'mmpetl/study/plan.py); a method named alone has its default sizes.'
                if meta.get('sizes') == 'proportional' else ''), '',
             summary_markdown(rows), '']
    for task_name, task in TASKS.items():
        task_rows = [r for r in rows if r['task'] == task_name]
        if not task_rows:
            continue
        titles = [title for _, title in task.metrics]
        lines += [f'**{task_name}**: {task.title}', '',
                  '| backbone | method | trainable backbone params | ' + ' | '.join(titles)
                  + ' | seeds | peak memory vs Full | step time vs Full |',
                  '|---|---|---:|' + '---:|' * len(titles) + '---|---:|---:|']
        reasons = []
        for r in task_rows:
            if r['status'] != 'ok':
                lines.append(f'| {r["backbone"]} | {r["label"]} | {r["status"]} | '
                             + ' | '.join(r['status'] for _ in titles) + ' | | | |')
                if r['reason'] not in reasons:
                    reasons.append(r['reason'])
                continue
            share = r['backbone_trainable'] / r['backbone_total'] if r['backbone_total'] else 0
            ratios = [f'{r[k]:.2f}×' if k in r else '' for k in ('peak_ratio', 'time_ratio')]
            lines.append(f'| {r["backbone"]} | {r["label"]} | {_params(r["backbone_trainable"])} ({share:.1%}) | '
                         + ' | '.join(_metric(r['metrics'][k]) for k, _ in task.metrics)
                         + f' | {",".join(map(str, r["seeds"]))} | {ratios[0]} | {ratios[1]} |')
        lines += [''] + [f'n/a or failed: {reason}' for reason in reasons] + ([''] if reasons else [])
    found = checks(rows)
    if found:
        lines += ['Checks (headline metric; "clear": the gap exceeds twice the larger seed spread):', '']
        for c in found:
            verdict = 'clear' if c['clear'] else ('one seed: no spread' if c['seeds'] < 2 else 'NOT clear')
            lines.append(f'- {c["task"]}, {c["backbone"]}, {c["check"]}: {c["high"]} − {c["low"]} = {c["gap"]:+.1f} '
                         f'(spread {c["spread"]:.1f}, {c["seeds"]} seed(s)): {verdict}')
        lines.append('')
    return '\n'.join(lines)


def summary_markdown(rows: Sequence[Dict[str, Any]]) -> str:
    """One line per (backbone, method, init, label) across the tasks: the trainable backbone parameters and every
    task's metrics (mean ± std where there are several seeds); "n/a" where the task's head does not fit."""
    order: List[Tuple[str, str, str, str]] = []
    for r in rows:
        key = (r['backbone'], r['method'], r['init'], r['label'])
        if key not in order:
            order.append(key)
    tasks = [t for t in TASKS if any(r['task'] == t for r in rows)]
    columns = [(t, key, f'{t}: {title}') for t in tasks for key, title in TASKS[t].metrics]
    lines = ['| backbone | method | trainable backbone params | ' + ' | '.join(c[2] for c in columns) + ' |',
             '|---|---|---:|' + '---:|' * len(columns)]
    for backbone, method, init, label in order:
        found = {t: find(rows, t, backbone, method, init, label) for t in tasks}
        ok = [r for r in found.values() if r and r['status'] == 'ok']
        if not ok:
            continue
        cells = []
        for task, key, _ in columns:
            r = found[task]
            cells.append('' if r is None else 'n/a' if r['status'] != 'ok' else _metric(r['metrics'][key]))
        lines.append(f'| {backbone} | {ok[0]["label"]} | {_params(ok[0]["backbone_trainable"])} | '
                     + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot(rows: Sequence[Dict[str, Any]], path: str) -> None:
    """Headline metric against trainable backbone parameters (symlog), one panel per task, error bars = seed std."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    tasks = [t for t in TASKS if any(r['task'] == t and r['status'] == 'ok' for r in rows)]
    if not tasks:  # every run failed: nothing to draw
        return
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.2 * len(tasks), 5.0), squeeze=False)
    styles = {'swin-mini': ('o', 'tab:blue'), 'vit-mini': ('s', 'tab:orange')}
    for ax, task_name in zip(axes[0], tasks):
        task = TASKS[task_name]
        for r in rows:
            if r['task'] != task_name or r['status'] != 'ok':
                continue
            m = headline(r)
            marker, colour = styles[r['backbone']]
            face = 'none' if r['init'] == 'random' else colour
            ax.errorbar(r['backbone_trainable'], m['mean'], yerr=m['std'] or None, fmt=marker, color=colour,
                        mfc=face, capsize=3, ms=7)
            ax.annotate(f'{r["label"]} ({r["backbone"].split("-")[0]})', (r['backbone_trainable'], m['mean']),
                        textcoords='offset points', xytext=(5, 4), fontsize=7)
        ax.set_xscale('symlog', linthresh=1e3)
        ax.set_xlabel('trainable backbone parameters')
        ax.set_ylabel(task.metrics[0][1])
        ax.set_title(f'{task_name}: {task.title}', fontsize=8)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker=m, color=c, ls='', label=b) for b, (m, c) in styles.items()]
    handles.append(plt.Line2D([], [], marker='o', color='gray', mfc='none', ls='', label='random init'))
    axes[0][0].legend(handles=handles, fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
