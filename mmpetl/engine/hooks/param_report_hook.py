"""``ParameterReportHook``: the trainable/total parameter figure every PETL paper reports, logged and saved."""
import json
import os.path as osp
from collections import OrderedDict
from typing import Dict

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from ...models.delta import petl_summary
from ...models.methods.base import PETLModule
from ...registry import HOOKS
from ...utils.params import count_parameters, format_parameter_summary


def _counts(params) -> Dict[str, int]:
    params = list(params)
    return dict(trainable=sum(p.numel() for p in params if p.requires_grad), total=sum(p.numel() for p in params))


def parameter_report(model: nn.Module, cfg=None) -> dict:
    """Trainable and total parameters of ``model``, its top-level modules, and inside each PETL backbone.

    Returns:
        dict: ``{'trainable', 'total', 'share', 'rows': [{'module', 'trainable', 'total', 'share'}, ...], 'petl'}``.
        For a PETL backbone ``<name>`` the rows after its own are ``<name>: <method> modules`` (what the method
        inserted), ``<name>: upstream`` (the upstream backbone's parameters, frozen unless the method tunes some),
        then its children (``<name>.patch_embed``, ``<name>.stages.0``, ...: ModuleLists are opened one level).
    """
    petl = petl_summary(model, cfg)
    rows = OrderedDict(model=count_parameters(model))
    for name, child in model.named_children():
        counts = count_parameters(child)
        if not counts['total']:
            continue
        rows[name] = counts
        if name not in petl:
            continue
        inserted = {id(p) for m in child.modules() if isinstance(m, PETLModule) for p in m.parameters()}
        rows[f'{name}: {petl[name]["method"]["type"]} modules'] = _counts(
            p for p in child.parameters() if id(p) in inserted)
        rows[f'{name}: upstream'] = _counts(p for p in child.parameters() if id(p) not in inserted)
        for sub_name, sub in child.named_children():
            subs = sub.named_children() if isinstance(sub, (nn.ModuleList, nn.Sequential)) else [('', sub)]
            for index, module in subs:
                counts = count_parameters(module)
                if counts['total']:
                    rows['.'.join(filter(None, (name, sub_name, index)))] = counts
    total = rows['model']
    return dict(trainable=total['trainable'], total=total['total'],
                share=total['trainable'] / total['total'] if total['total'] else 0.0,
                rows=[dict(module=k, **v, share=v['trainable'] / v['total'] if v['total'] else 0.0)
                      for k, v in rows.items()],
                petl=petl)


def format_parameter_report(report: dict) -> str:
    """The report's rows as the plain-text table of :func:`mmpetl.utils.format_parameter_summary`."""
    return format_parameter_summary(
        OrderedDict((row['module'], dict(trainable=row['trainable'], total=row['total'])) for row in report['rows']))


@HOOKS.register_module()
class ParameterReportHook(Hook):
    """At the start of training, logs trainable/total parameters and their share, for the model, its top-level
    modules and inside each PETL backbone (method modules vs upstream, per stage), and writes them to
    ``<work_dir>/<filename>`` as JSON (see :func:`parameter_report`).

    Args:
        filename (str): the JSON file's name in the work directory.

    Example::

        custom_hooks = [dict(type='mmpetl.ParameterReportHook')]
    """
    priority = 'VERY_HIGH'  # report before other hooks' before_train work and its logs

    def __init__(self, filename: str = 'param_report.json'):
        self.filename = filename

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        report = parameter_report(model, runner.cfg)
        runner.logger.info(f'Parameters: {report["trainable"]:,} trainable of {report["total"]:,} '
                           f'({100 * report["share"]:.2f} %)\n' + format_parameter_report(report))
        if is_main_process():
            with open(osp.join(runner.work_dir, self.filename), 'w') as f:
                json.dump(report, f, indent=2)
