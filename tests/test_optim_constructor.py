"""mmpetl.PETLOptimWrapperConstructor: mmengine's default constructor's param groups for the trained parameters, the
frozen ones left out, and one summary line instead of one warning per frozen tensor."""
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from conftest import TINY_SWIN
from mmpetl.engine import PETLOptimWrapperConstructor
from mmpetl.models import build_petl_backbone

CFG = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
PARAMWISE = dict(custom_keys={'relative_position_bias_table': dict(decay_mult=0.), 'norm': dict(decay_mult=0.)})


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def log():
    logger = MMLogger.get_instance('test_optim_constructor')
    handler = Capture()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def groups(optim_wrapper):
    """{id(param): (lr, weight_decay)} of every parameter the optimizer holds."""
    return {id(p): (g['lr'], g['weight_decay']) for g in optim_wrapper.optimizer.param_groups for p in g['params']}


@pytest.mark.parametrize('paramwise', [None, PARAMWISE])
def test_same_groups_as_mmengine_for_what_trains_and_one_log_line(paramwise, log):
    model = build_petl_backbone(dict(type='mmdet.SwinTransformer', **TINY_SWIN), dict(type='Mona'))
    trained = {id(p) for p in model.parameters() if p.requires_grad}
    frozen = [p for p in model.parameters() if not p.requires_grad]
    assert trained and frozen

    ours = PETLOptimWrapperConstructor(CFG, paramwise)(model)
    assert not [m for m in log if 'is skipped since' in m]
    summary = [m for m in log if 'frozen tensors' in m]
    assert len(summary) == 1 and f'{len(frozen)} frozen tensors ({sum(p.numel() for p in frozen):,} parameters)' \
        in summary[0]
    assert set(groups(ours)) == trained  # the frozen parameters are left out

    reference = DefaultOptimWrapperConstructor(CFG, paramwise)(model)
    if paramwise:  # mmengine's own constructor logs each frozen tensor
        assert len([m for m in log if 'is skipped since' in m]) == len(frozen)
    expected = {k: v for k, v in groups(reference).items() if k in trained}
    assert groups(ours) == expected  # lr and weight decay of each trained parameter as mmengine sets them


def test_registered_for_configs():
    assert OPTIM_WRAPPER_CONSTRUCTORS.get('mmpetl.PETLOptimWrapperConstructor') is PETLOptimWrapperConstructor


def test_fully_trainable_model_is_unchanged(log):
    model = torch.nn.Linear(3, 2)
    optim_wrapper = PETLOptimWrapperConstructor(CFG)(model)
    assert sum(len(g['params']) for g in optim_wrapper.optimizer.param_groups) == 2
    assert not [m for m in log if 'frozen' in m]
