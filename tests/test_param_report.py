"""ParameterReportHook: trainable/total parameters of the model, its modules and inside the PETL backbone."""
import json
from types import SimpleNamespace

from mmengine.config import Config
from mmengine.logging import MMLogger
from torch import nn

from conftest import TINY_SWIN
from mmpetl.engine import ParameterReportHook
from mmpetl.engine.hooks.param_report_hook import format_parameter_report, parameter_report
from mmpetl.models import build_petl_backbone
from mmpetl.models.methods import MonaAdapter

MONA = dict(type='Mona', bottleneck=32)


class ToyDetector(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = build_petl_backbone(dict(type='mmdet.SwinTransformer', **TINY_SWIN), MONA)
        self.neck = nn.Linear(64, 16)
        self.head = nn.Linear(16, 3)


def rows(report):
    return {row['module']: row for row in report['rows']}


def test_report_counts_method_modules_upstream_and_stages():
    model = ToyDetector()
    cfg = Config(dict(model=dict(backbone=dict(type='mmpetl.PETLBackbone', backbone=dict(type='mmdet.SwinTransformer'),
                                               method=MONA))))
    report = parameter_report(model, cfg)
    by_module = rows(report)
    mona = 2 * 2 * (MonaAdapter.num_parameters(32, 32) + MonaAdapter.num_parameters(64, 32))  # 2 blocks x 2 adapters
    assert by_module['backbone: Mona modules'] == dict(module='backbone: Mona modules', trainable=mona, total=mona,
                                                      share=1.0)
    assert by_module['backbone: upstream']['trainable'] == 0
    heads = sum(p.numel() for p in model.neck.parameters()) + sum(p.numel() for p in model.head.parameters())
    assert report['trainable'] == mona + heads == by_module['model']['trainable']
    assert report['total'] == sum(p.numel() for p in model.parameters())
    stages = [by_module[f'backbone.stages.{i}'] for i in range(2)]
    children = [r for name, r in by_module.items() if name.startswith('backbone.')]
    assert sum(r['total'] for r in children) == by_module['backbone']['total']
    assert sum(r['trainable'] for r in stages) == mona
    assert report['petl']['backbone']['method'] == MONA
    table = format_parameter_report(report)
    assert 'backbone: Mona modules' in table and '100.00 %' in table


def test_hook_logs_and_writes_json(tmp_path):
    model = ToyDetector()
    logger = MMLogger.get_instance('test_param_report', log_level='INFO')
    messages = []
    logger.info = messages.append
    runner = SimpleNamespace(model=model, cfg=Config(), logger=logger, work_dir=str(tmp_path))
    ParameterReportHook().before_train(runner)
    report = json.load(open(tmp_path / 'param_report.json'))
    assert report['trainable'] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert f'{report["trainable"]:,} trainable of {report["total"]:,}' in messages[0]
    assert 'backbone.stages.1' in messages[0]
