"""A new method is tested by ``tests/test_methods.py`` without editing it: a throwaway method, written to a module file
of its own and registered in ``PETL_METHODS``, is among the generic cases and passes the generic checks; broken
variants of it fail them (so those checks can fail)."""
import importlib.util
import sys

import pytest

from mmpetl.models import available_methods
from mmpetl.registry import PETL_METHODS

from test_methods import (SMALL_BACKBONES, STANDARD_BACKBONES, check_formula_on_standard_backbone,
                          check_method_facts, check_method_on_backbone, method_cases)

#: A tiny method: a per-channel scale on each block's MLP branch output, ``h + scale * h``, scale starting at INIT.
#: Its documented count is the sum of the block widths, plus OFFSET (0 for the correct method).
SOURCE = '''
import torch
from torch import nn

from mmpetl.models.methods.base import BasePETLMethod, PETLModule, block_widths
from mmpetl.registry import PETL_METHODS


class ThrowawayScale(PETLModule):
    """``h + scale * h`` on a branch output h (B, N, C)."""

    def __init__(self, channels):
        super().__init__()
        self.scale = nn.Parameter(torch.empty(channels))
        self.init_weights()

    def init_weights(self):
        nn.init.constant_(self.scale, {init})

    def forward(self, h, x, hw_shape):
        return h + self.scale * h


@PETL_METHODS.register_module(name='{name}')
class Throwaway(BasePETLMethod):
    """A throwaway method: a per-channel scale on the MLP branch output of every block."""
    identity_at_init = True

    def __init__(self, extra: int = 0):
        super().__init__(name='throwaway')

    def attach_block(self, name, block, spec, index):
        self.add(block, 'mlp_branch', 'mlp', ThrowawayScale(spec.channels(block)))

    @classmethod
    def expected_trainable(cls, backbone, **options):
        return sum(block_widths(backbone)) + {offset} + cls.with_defaults(**options)['extra']
'''


@pytest.fixture
def register(tmp_path):
    """``register(name, init=0.0, offset=0)``: writes the throwaway method to a module file, imports it (which
    registers it as ``name``); every registration is undone afterwards."""
    names = []

    def load(name, init=0.0, offset=0):
        path = tmp_path / f'{name.lower()}.py'
        path.write_text(SOURCE.format(name=name, init=init, offset=offset))
        spec = importlib.util.spec_from_file_location(f'throwaway_{name.lower()}', path)
        module = importlib.util.module_from_spec(spec)
        names.append((name, spec.name))
        spec.loader.exec_module(module)
        return module

    yield load
    for name, module_name in names:
        PETL_METHODS._module_dict.pop(name, None)
        sys.modules.pop(module_name, None)


@pytest.mark.slow
def test_a_new_method_is_picked_up_and_passes_the_generic_checks(register):
    register('Throwaway')
    assert 'Throwaway' in available_methods()
    cases = method_cases(SMALL_BACKBONES)
    assert [b for m, b in cases if m == 'Throwaway'] == list(SMALL_BACKBONES)
    for backbone in SMALL_BACKBONES.values():
        check_method_on_backbone(dict(type='Throwaway'), backbone)
    check_method_on_backbone(dict(type='Throwaway', extra=0), SMALL_BACKBONES['mmdet.Swin'])
    check_method_facts('Throwaway')
    assert 'ViT-B' in STANDARD_BACKBONES
    check_formula_on_standard_backbone(dict(type='Throwaway'), 'ViT-B')


@pytest.mark.parametrize('broken, method, match', [
    (dict(offset=1), dict(type='Broken'), 'trainable parameters, documented'),  # a wrong documented count
    (dict(), dict(type='Broken', extra=3), 'trainable parameters, documented'),  # the count ignores no option
    (dict(init=1.0), dict(type='Broken'), 'not close'),  # claims identity_at_init, but doubles the MLP branch at init
])
def test_a_broken_method_fails_the_generic_checks(register, broken, method, match):
    register('Broken', **broken)
    with pytest.raises(AssertionError, match=match):
        check_method_on_backbone(method, SMALL_BACKBONES['mmdet.Swin'])


def test_no_throwaway_method_is_left_registered():
    """Runs after the tests above (file order): their registrations were undone."""
    assert not {'Throwaway', 'Broken'} & set(available_methods())
