"""A benchmark's outputs: its markdown tables, its plot, its JSON."""
import math
import os
from typing import Any, Dict, Optional

from .workloads import PARTS

def _mib(value: Optional[float]) -> str:
    return '–' if value is None else f'{value / 2**20:,.0f}' if value >= 2**24 else f'{value / 2**20:,.1f}'


def _with_ratio(text: str, ratio: Optional[float]) -> str:
    return text if ratio is None else f'{text} ({ratio:.2f}×)'


def _seconds(value: Optional[float]) -> str:
    return '–' if value is None else f'{value:.3f}'


def to_markdown(result: Dict[str, Any]) -> str:
    """One markdown table per part, and the conditions of the run."""
    meta, lines = result['meta'], []
    machine = meta['machine']
    where = machine.get('gpu') or f'{machine.get("cpu")}, {machine.get("threads")} threads'
    timing = (f'step time: median of {meta["steps"]} steps after {meta["warmup"]} warm-up' if meta['steps'] > 0
              else 'no timing')
    lines.append(f'Input {"×".join(map(str, meta["input"]))} (synthetic, seed {meta["seed"]}), {meta["device"]} '
                 f'({where}), torch {machine["torch"]}; {timing}; config `{meta["config"]}`'
                 + (f', overrides `{meta["overrides"]}`' if meta['overrides'] else '') + '.')
    peak_kinds = sorted({r['peak_kind'] for r in result['rows'] if r.get('peak_kind')})
    cpu_time = any('step_cpu_time' in r for r in result['rows'])
    rss = any('rss_peak_bytes' in r for r in result['rows'])
    header = (['method', 'trainable', 'formula', 'saved for backward, MiB', 'FLOPs fwd+bwd, G', 'peak memory, MiB']
              + (['peak RSS, MiB'] if rss else []) + ['step time, s'] + (['step CPU time, s'] if cpu_time else []))
    for part in PARTS:
        rows = [r for r in result['rows'] if r['part'] == part]
        if not rows:
            continue
        lines += ['', f'**{"backbone alone" if part == "backbone" else "whole model"}** (ratios to full fine-tuning '
                  'in parentheses)', '', '| ' + ' | '.join(header) + ' |',
                  '|---|---:|---|' + '---:|' * (len(header) - 3)]
        for r in rows:
            if r['status'] != 'ok':
                lines.append(f'| {r["method"]} | n/a |' + ' |' * (len(header) - 2))
                continue
            formula = ('–' if r['formula'] is None else '= formula' if r['formula'] == r['backbone_trainable']
                       else f'≠ {r["formula"]:,}')
            cells = [
                _with_ratio(f'{r["trainable"]:,}', r.get('trainable_ratio')), formula,
                _with_ratio(_mib(r['saved_bytes']), r.get('saved_bytes_ratio')),
                _with_ratio(f'{r["flops"] / 1e9:,.1f}', r.get('flops_ratio')),
                _with_ratio(_mib(r.get('peak_bytes')), r.get('peak_bytes_ratio'))]
            if rss:
                cells.append(_with_ratio(_mib(r.get('rss_peak_bytes')), r.get('rss_peak_bytes_ratio')))
            cells.append(_with_ratio(_seconds(r.get('step_time')), r.get('step_time_ratio')))
            if cpu_time:
                cells.append(_with_ratio(_seconds(r.get('step_cpu_time')), r.get('step_cpu_time_ratio')))
            lines.append(f'| {r["method"]} | ' + ' | '.join(cells) + ' |')
    lines += ['', '*trainable*: parameters of the part that train; *formula*: the backbone\'s trainable count checked '
              'against the method\'s documented closed form. *saved for backward*: distinct tensors the autograd '
              'graph keeps during one training forward (parameters, buffers and input excluded; deterministic). '
              '*FLOPs*: torch FlopCounterMode (matmuls, convolutions). *step time*: wall-clock; *step CPU time*: '
              'CPU time of the benchmark process (all threads), steadier on a shared machine. *peak memory*: '
              + ('; '.join(peak_kinds) + ': the most bytes allocated at once during a step, the part\'s weights, '
                 'gradients, AdamW states, input and activations included (allocator caches and fragmentation '
                 'excluded).' if peak_kinds else 'not measured.')
              + (' *peak RSS*: the peak resident memory of a fresh process running the same step, over its memory '
                 'before the model was built: what the process really held, the allocator\'s free but kept pages '
                 'included; noisy.' if rss else '')]
    return '\n'.join(lines)


def plot(result: Dict[str, Any], path: str) -> None:
    """PNG: per part, saved-for-backward ratio against trainable parameters, marker area ~ step-time ratio."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    parts = [p for p in PARTS if any(r['part'] == p and r['status'] == 'ok' for r in result['rows'])]
    fig, axes = plt.subplots(1, max(1, len(parts)), figsize=(9.5 * max(1, len(parts)), 5), squeeze=False)
    methods = list(dict.fromkeys(r['method'] for r in result['rows']))
    colours = plt.get_cmap('tab20')
    markers = 'osD^vP*Xhp<>'
    for ax, part in zip(axes[0], parts):
        rows = [r for r in result['rows'] if r['part'] == part and r['status'] == 'ok' and 'saved_bytes_ratio' in r]
        for r in rows:
            x = r['backbone_trainable'] / 1e6
            y = r['saved_bytes_ratio']
            time_ratio = r.get('step_cpu_time_ratio', r.get('step_time_ratio', math.nan))
            index = methods.index(r['method'])
            ax.scatter([x], [y], s=300 * (1.0 if math.isnan(time_ratio) else time_ratio), alpha=0.7,
                       color=colours(index % 20), marker=markers[index % len(markers)], edgecolors='black',
                       linewidths=0.5, label=f'{r["method"]}: {y:.2f}× saved, {time_ratio:.2f}× time')
        ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0), borderaxespad=0, markerscale=0.5)
        ax.set_xscale('symlog', linthresh=0.1)
        ax.set_xlabel('trainable backbone parameters (M, symlog)')
        ax.set_ylabel('saved for backward / full fine-tuning')
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.set_title(f'{"backbone alone" if part == "backbone" else "whole model"}: memory vs parameters '
                     '(marker area ~ step time, CPU time on the CPU)', fontsize=9)
    meta = result['meta']
    fig.suptitle(f'{os.path.basename(meta["config"])}, input {"x".join(map(str, meta["input"]))}, {meta["device"]}',
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def jsonable(value):
    """Rows and meta as plain JSON (NaN as null)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

