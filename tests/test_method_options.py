"""Every option of every PETL method is checked when the method is built.

The options of each registered method are found from its constructor's signature; the values to try come from two
tables keyed by option *name*, so that a new method whose options have standard names (bottleneck, rank, dropout, ...)
is covered without touching this file, and a new option name makes :func:`test_every_option_has_test_values` fail
until it gets its entries. Each bad value must fail with mmpetl's :class:`PETLConfigError`, raised in mmpetl (not
inside torch or mmengine), naming the method, the option and the value; each good value must build and run.

Also here: the PETL backbone's own options, and the warning for ``--cfg-options`` keys that the config did not have.
"""
import functools
import logging
import math
import os.path as osp
import re

import pytest
import torch
from mmengine.logging import MMLogger

import mmpetl
from mmpetl.engine import load_config, load_runner_config
from mmpetl.models import available_methods, build_petl_backbone
from mmpetl.models.methods import PETLConfigError
from mmpetl.models.petl_backbone import init_options
from mmpetl.registry import PETL_METHODS

from conftest import DEMO_CONFIG
from test_methods import SMALL_BACKBONES

#: Where a method is tried, in order: the first one it builds on with its defaults (HST needs a ViT with at least
#: one block per side stage, E3VA a Swin, LoRA a fused qkv).
BACKBONES = {
    'mmdet.Swin': SMALL_BACKBONES['mmdet.Swin'],
    'mmpretrain.ViT-4': dict(SMALL_BACKBONES['mmpretrain.ViT'],
                             arch=dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)),
}

NOT_AN_INT = ['abc', 8.0, True, None, [64]]
NOT_A_NUMBER = ['0.1', True, None, [0.1], math.nan, math.inf]
PROBABILITY = [*NOT_A_NUMBER, -0.1, 1.0, 1.5]
POSITIVE = [*NOT_A_NUMBER, 0, -0.5]
NORM_CFG = ['LN', None, dict(), dict(type='NoSuchNorm'), dict(type='LN', bogus=1), dict(type='GN', num_groups=5)]

#: Option name -> values that no method may accept for an option of that name.
INVALID = {
    'bottleneck': [*NOT_AN_INT, 0, -4],
    'rank': [*NOT_AN_INT, 0, -1],
    'subspaces': [*NOT_AN_INT, 0, -2],
    'dropout': PROBABILITY,
    'drop_path_rate': PROBABILITY,
    'scale': POSITIVE,
    'alpha': POSITIVE,
    'mlp_ratio': POSITIVE,
    'fused': ['yes', 'false', 1, 0, None, [True]],
    'out_type': ['cls_token', 'FEATMAP', None, 1, ['featmap']],
    'embed_dims': [32, 'abc', None, (), (32, 0, 64, 72), (32, -48, 64, 72), (32.0, 48, 64, 72), (True, 48, 64, 72),
                   (32, 48, 64, 70)],  # 70 channels do not split into the default 12 heads
    'depths': [3, 'abc', None, (), (3, 0, 3, 3), (3, 3.0, 3, 3), (3, 3, 3)],
    'num_heads': [2, None, (2, 0, 8, 12), (2, 4.0, 8, 12), (2, 4, 8, 5)],
    'norm_cfg': NORM_CFG,
    'stem_norm_cfg': NORM_CFG,
    'init': ['reference', 'zeros', 'Identity', None, 0, ['identity']],
    'placement': ['before', 'after', 'BEFORE_DROP_PATH', None, True, ['after_drop_path']],
    'bias_init': ['zero', 'kaiming', 'Uniform', None, 0, ['zeros']],
    'scope': ['bias', 'all', 'BIAS_ONLY', None, 1, ['bias_only']],
    'inner_dim': [*NOT_AN_INT, 0, -100],
    'branches': [*NOT_AN_INT, 0, -4],
    'kernel_size': [*NOT_AN_INT, 0, -3, 2, 4],  # odd only: the convolution keeps the grid
    'loss_weight': [*NOT_A_NUMBER, -0.5],
    'orth_loss': ['Reference', 'trained', 'none', None, 1, ['paper']],
    'folded': ['yes', 'false', 1, 0, None, [True]],
}

#: Option name -> a valid value other than the usual default (an int where a float is expected, the edges of ranges),
#: to show that the checks refuse nothing valid.
VALID = {
    'bottleneck': 1, 'rank': 2, 'subspaces': 1, 'dropout': 0, 'drop_path_rate': 0.5, 'scale': 1, 'alpha': 2,
    'mlp_ratio': 1, 'fused': False, 'out_type': 'pooled', 'embed_dims': [16, 16, 16, 16], 'depths': (1, 2, 1, 1),
    'num_heads': (1, 2, 4, 8), 'norm_cfg': dict(type='LN', eps=1e-5), 'stem_norm_cfg': dict(type='GN', num_groups=2),
    'init': 'identity', 'placement': 'after_drop_path', 'bias_init': 'zeros', 'scope': 'bias_only',
    'inner_dim': 8, 'branches': 1, 'kernel_size': 5, 'loss_weight': 0, 'orth_loss': 'paper', 'folded': True,
}


def options_of(method):
    return init_options(PETL_METHODS.get(method)) or []


@functools.lru_cache(maxsize=None)
def backbone_for(method):
    """The first of :data:`BACKBONES` that ``method`` builds on with its default options."""
    for name, cfg in BACKBONES.items():
        try:
            build_petl_backbone(cfg, dict(type=method))
            return name
        except ValueError:
            continue
    raise AssertionError(f'{method} builds on none of {list(BACKBONES)}; add a backbone it supports')


def short(value):
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + '...'


INVALID_CASES = [pytest.param(method, option, value, id=f'{method}-{option}={short(value)}')
                 for method in available_methods() for option in options_of(method)
                 for value in INVALID.get(option, [])]


def assert_raised_in_mmpetl(error):
    innermost = str(error.traceback[-1].path)
    assert innermost.startswith(osp.dirname(mmpetl.__file__)), f'raised in {innermost}, not in mmpetl'


def test_every_option_has_test_values():
    """A new option name needs its entries in INVALID and VALID (a new method with known names needs nothing)."""
    missing = {(m, o) for m in available_methods() for o in options_of(m) if o not in INVALID or o not in VALID}
    assert not missing, f'add invalid and valid values for these (method, option) pairs: {sorted(missing)}'
    assert len(INVALID_CASES) > 100  # the parametrisation is not empty


@pytest.mark.parametrize('method, option, value', INVALID_CASES)
def test_bad_option_is_named_by_mmpetl(method, option, value):
    with pytest.raises(PETLConfigError) as error:
        build_petl_backbone(BACKBONES[backbone_for(method)], dict(type=method, **{option: value}))
    message = str(error.value)
    assert message.startswith(f'{method}: '), message
    assert option in message and repr(value) in message, message
    assert_raised_in_mmpetl(error)


@pytest.mark.parametrize('method', [m for m in available_methods() if options_of(m)])
def test_valid_options_build_and_run(method):
    options = {option: VALID[option] for option in options_of(method)}
    backbone = backbone_for(method)
    model = build_petl_backbone(BACKBONES[backbone], dict(type=method, **options))
    size = 64 if 'Swin' in backbone else 32
    model.train()
    outputs = model(torch.randn(2, 3, size, size))
    assert all(torch.isfinite(o).all() for o in outputs)


@pytest.mark.parametrize('method, message', [
    (dict(type='Mona', bottleneck='abc'), "Mona: bottleneck must be an integer >= 1; got 'abc' (str)"),
    (dict(type='Mona', bottleneck=-4), 'Mona: bottleneck must be an integer >= 1; got -4 (int)'),
    (dict(type='Mona', dropout=1.5), 'Mona: dropout must be in [0, 1); got 1.5 (float)'),
    (dict(type='LoRA', rank=0), 'LoRA: rank must be an integer >= 1; got 0 (int)'),
    (dict(type='E3VA', rank=7), 'E3VA: rank must be an even integer >= 2 (two low-rank paths of rank / 2 each); '
                                'got 7 (int)'),
])
def test_the_cases_of_the_issue(method, message):
    """The four configs that once ended in torch (or in a ZeroDivisionError), and E3VA's odd rank."""
    with pytest.raises(PETLConfigError) as error:
        build_petl_backbone(BACKBONES['mmdet.Swin'], method)
    assert str(error.value) == message
    assert_raised_in_mmpetl(error)


@pytest.mark.parametrize('option, value, expected', [
    ('min_loaded_share', 'all', 'min_loaded_share must be in [0, 1]'),
    ('min_loaded_share', 1.5, 'min_loaded_share must be in [0, 1]'),
    ('min_loaded_share', None, 'min_loaded_share must be in [0, 1]'),
    ('expected_missing', r'norm\d+\.', 'expected_missing must be a list or tuple of regular expressions'),
    ('expected_missing', [3], 'entry 0 is 3'),
    ('expected_missing', ['norm(0'], "entry 0, 'norm(0', is not one (missing )"),
])
def test_bad_petl_backbone_option_is_named(option, value, expected):
    with pytest.raises(PETLConfigError, match=f'^PETLBackbone: .*{re.escape(expected)}') as error:
        build_petl_backbone(BACKBONES['mmdet.Swin'], dict(type='Mona'), **{option: value})
    assert repr(value) in str(error.value)
    assert_raised_in_mmpetl(error)


# ------------------------------------------------------------------------------------------------ --cfg-options


@pytest.fixture
def logged_warnings():
    """The messages of the warnings logged through mmengine's current logger during the test."""
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def warnings_about_cfg_options(records):
    return [r.getMessage() for r in records if '--cfg-options' in r.getMessage()]


def test_cfg_options_typo_is_warned_about_with_the_closest_key(logged_warnings):
    cfg = load_config(DEMO_CONFIG, {'train_cfg.max_iter': 2, 'model.backbon.depths': [1, 1]})
    assert warnings_about_cfg_options(logged_warnings) == [
        '--cfg-options train_cfg.max_iter=2 creates a key the config did not have: train_cfg.max_iter '
        '(did you mean train_cfg.max_iters?)',
        '--cfg-options model.backbon.depths=[1, 1] creates a key the config did not have: model.backbon '
        '(did you mean model.backbone?)',
    ]
    assert cfg.train_cfg.max_iter == 2 and cfg.train_cfg.max_iters == 80  # merged as before, only warned about


def test_new_key_without_a_close_one_lists_the_keys_there(logged_warnings):
    load_config(DEMO_CONFIG, {'model.backbone.method.bottleneck': 32})
    assert warnings_about_cfg_options(logged_warnings) == [
        '--cfg-options model.backbone.method.bottleneck=32 creates a key the config did not have: '
        'model.backbone.method.bottleneck (keys at model.backbone.method: type)']


def test_existing_keys_list_indices_and_replaced_dicts_are_not_warned_about(logged_warnings):
    cfg = load_config(DEMO_CONFIG, {
        'train_cfg.max_iters': 2, 'train_dataloader.dataset.pipeline.0.type': 'LoadImageFromFile',
        'optim_wrapper.optimizer._delete_': True, 'optim_wrapper.optimizer.type': 'SGD',
        'optim_wrapper.optimizer.lr': 0.1})
    assert cfg.train_cfg.max_iters == 2 and cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.1)
    # the tools add `launcher`, which configs usually do not have
    load_runner_config(DEMO_CONFIG, 'none', {'train_cfg.val_interval': 2}, work_dir='unused')
    assert warnings_about_cfg_options(logged_warnings) == []


@pytest.mark.parametrize('options, error, message', [
    ({'train_dataloader.dataset.pipeline.9.type': 'X'}, KeyError,
     'index 9 is past the end of train_dataloader.dataset.pipeline, a list of 5 entries'),
    ({'train_dataloader.dataset.pipeline.type': 'X'}, TypeError,
     'train_dataloader.dataset.pipeline is a list in the config; index it with a number'),
    ({'train_cfg.max_iters.value': 2}, TypeError, 'train_cfg.max_iters is 80 in the config, not a dict or a list'),
])
def test_cfg_options_that_mmengine_cannot_merge_are_explained(options, error, message):
    with pytest.raises(error, match=message):
        load_config(DEMO_CONFIG, options)
