"""Trainable/total parameter counts: the figure every PETL paper reports."""
from collections import OrderedDict
from typing import Dict

from torch import nn


def count_parameters(module: nn.Module) -> Dict[str, int]:
    """``{'trainable': n, 'total': n}`` for ``module``."""
    total = trainable = 0
    for param in module.parameters():
        total += param.numel()
        trainable += param.numel() if param.requires_grad else 0
    return dict(trainable=trainable, total=total)


def parameter_summary(model: nn.Module) -> 'OrderedDict[str, Dict[str, int]]':
    """Counts for the whole model and each of its top-level children that has parameters (backbone, neck, heads)."""
    summary = OrderedDict(model=count_parameters(model))
    for name, child in model.named_children():
        counts = count_parameters(child)
        if counts['total']:
            summary[name] = counts
    return summary


def format_parameter_summary(summary: Dict[str, Dict[str, int]]) -> str:
    """A plain-text table: module, trainable, total, trainable share."""
    rows = [('module', 'trainable', 'total', 'share')]
    for name, counts in summary.items():
        share = counts['trainable'] / counts['total'] if counts['total'] else 0.0
        rows.append((name, f'{counts["trainable"]:,}', f'{counts["total"]:,}', f'{100 * share:.2f} %'))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [' | '.join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, '-+-'.join('-' * w for w in widths))
    return '\n'.join(lines)
