"""Pinned reference recipes: one ``Pin`` per setting that a config takes from the reference config it reproduces.

A task family's test module (``tests/test_recipes_*.py``) holds its table of pins, each with the reference file the
value was read from, and passes it to ``check_pin``. The value is read from the config as mmengine resolves it
(``Config.fromfile``, all bases merged), so a change anywhere in the inheritance chain that moves a pinned value fails.
"""
import glob
import os.path as osp
from typing import Any, NamedTuple

from mmengine.config import Config

from conftest import ROOT

_MISSING = object()
_CACHE = {}


class Pin(NamedTuple):
    """``config`` (relative to configs/) must resolve ``key`` to ``value``, as ``reference`` has it.

    ``key`` is a dotted path into the config; list items are addressed by index (``param_scheduler.0.end``) or by the
    value of their ``type`` (``train_pipeline[RandomFlip].prob``). ``reference``: ``owner/repo:path`` and, where it
    helps, the lines or the key there.
    """
    config: str
    key: str
    value: Any
    reference: str

    def id(self):
        return f'{osp.basename(self.config)}:{self.key}'


def load(config: str) -> Config:
    if config not in _CACHE:
        _CACHE[config] = Config.fromfile(osp.join(ROOT, 'configs', config))
    return _CACHE[config]


def _step(node, part):
    if '[' in part:  # a list item chosen by its type: name[Type]
        name, type_name = part[:-1].split('[')
        items = _step(node, name)
        found = [item for item in items if isinstance(item, dict) and str(item.get('type', '')).split('.')[-1]
                 == type_name]
        if len(found) != 1:
            raise KeyError(f'{len(found)} items of type {type_name} in {name}')
        return found[0]
    if isinstance(node, (list, tuple)):
        return node[int(part)]
    value = node.get(part, _MISSING) if hasattr(node, 'get') else getattr(node, part, _MISSING)
    if value is _MISSING:
        raise KeyError(part)
    return value


def resolve(cfg, key: str):
    node = cfg
    for part in key.split('.'):
        node = _step(node, part)
    return node


def plain(value):
    """Config values as plain Python (ConfigDict -> dict, tuple -> list) for comparison."""
    if hasattr(value, 'to_dict'):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def check_pin(pin: Pin):
    try:
        actual = resolve(load(pin.config), pin.key)
    except (KeyError, IndexError) as err:
        raise AssertionError(f'{pin.config} has no {pin.key} ({err}); the reference {pin.reference} sets '
                             f'{pin.value!r}') from None
    expected, got = plain(pin.value), plain(actual)
    if isinstance(expected, float) and isinstance(got, (int, float)):
        assert abs(got - expected) <= 1e-12 * max(1.0, abs(expected)), (
            f'{pin.config}: {pin.key} = {got!r}, the reference {pin.reference} has {expected!r}')
    else:
        assert got == expected, f'{pin.config}: {pin.key} = {got!r}, the reference {pin.reference} has {expected!r}'


def configs_matching(pattern: str) -> set:
    """The configs (relative to configs/) that ``pattern`` (a glob below configs/) matches: a family's test checks
    that its table pins every one of them, so a new config of the family cannot go unpinned."""
    return {osp.relpath(path, osp.join(ROOT, 'configs')) for path in glob.glob(osp.join(ROOT, 'configs', pattern))}
