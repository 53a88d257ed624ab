"""Checking the options of a PETL method when it is built.

A config typo such as ``dict(type='Mona', bottleneck='abc')`` or ``dict(type='LoRA', rank=0)`` would otherwise surface
only when the first layer is built from it (or at the first forward), as an error from deep inside torch that names
neither the method nor the option. Each method's constructor calls these helpers for every option it takes, so a bad
value fails at once with one mmpetl error that says which method, which option, the value and what is valid::

    Mona: bottleneck must be an integer >= 1; got 'abc' (str)

``bool`` is deliberately not accepted as an integer or a number (``True`` for a width is a config mistake, not 1).
The helpers return the value unchanged, so a valid config behaves exactly as before.
"""
import math
import numbers
from typing import Any, Optional, Sequence


class PETLConfigError(ValueError):
    """An option of a PETL method (or of the PETL backbone) of the wrong type or out of its range.

    A ValueError, so that code that catches bad configs as ValueError keeps working.
    """


def _owner_name(owner: Any) -> str:
    """The name to show: ``owner`` itself if it is a string, else the class name of the method object."""
    return owner if isinstance(owner, str) else type(owner).__name__


def fail(owner: Any, name: str, value: Any, expected: str, detail: str = '') -> None:
    """Raise :class:`PETLConfigError`: "<owner>: <name> must be <expected>; got <value> (<type>)<detail>"."""
    raise PETLConfigError(f'{_owner_name(owner)}: {name} must be {expected}; got {value!r} '
                          f'({type(value).__name__}){detail}')


def is_int(value: Any) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite real number (an int is fine where a float is expected), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _int_range(minimum: Optional[int], maximum: Optional[int]) -> str:
    if minimum is not None and maximum is not None:
        return f'an integer in [{minimum}, {maximum}]'
    if minimum is not None:
        return f'an integer >= {minimum}'
    return 'an integer' if maximum is None else f'an integer <= {maximum}'


def check_int(owner: Any, name: str, value: Any, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    """``value`` must be an integer in ``[minimum, maximum]`` (either bound may be None)."""
    expected = _int_range(minimum, maximum)
    if not is_int(value):
        fail(owner, name, value, expected)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        fail(owner, name, value, expected)
    return value


def _interval(low: Optional[float], high: Optional[float], low_inclusive: bool, high_inclusive: bool) -> str:
    if low is not None and high is not None:
        return f'in {"[" if low_inclusive else "("}{low:g}, {high:g}{"]" if high_inclusive else ")"}'
    if low is not None:
        return f'{">=" if low_inclusive else ">"} {low:g}'
    if high is not None:
        return f'{"<=" if high_inclusive else "<"} {high:g}'
    return 'a finite number'


def check_float(owner: Any, name: str, value: Any, low: Optional[float] = None, high: Optional[float] = None,
                low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """``value`` must be a finite number between ``low`` and ``high`` (either may be None, either end open).

    Comparisons are written so that NaN fails them too.
    """
    expected = _interval(low, high, low_inclusive, high_inclusive)
    if not is_number(value):
        fail(owner, name, value, expected, ', which is not a finite number')
    above = low is None or value > low or (low_inclusive and value == low)
    below = high is None or value < high or (high_inclusive and value == high)
    if not (above and below):
        fail(owner, name, value, expected)
    return value


def check_probability(owner: Any, name: str, value: Any) -> float:
    """A dropout or drop-path rate: in [0, 1). 1 is refused: it drops everything, and the rescaling by 1 / (1 - p)
    of an inverted dropout (Mona's fused adapter, drop-path) divides by zero."""
    return check_float(owner, name, value, 0.0, 1.0, high_inclusive=False)


def check_bool(owner: Any, name: str, value: Any) -> bool:
    """``value`` must be True or False (not 0/1, not a string such as 'false', which would be true)."""
    if not isinstance(value, bool):
        fail(owner, name, value, 'True or False')
    return value


def check_choice(owner: Any, name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` must be one of ``choices``."""
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        fail(owner, name, value, f'one of {", ".join(map(repr, choices))}')
    return value


def check_int_sequence(owner: Any, name: str, value: Any, minimum: int = 1) -> Sequence[int]:
    """``value`` must be a list or tuple of integers >= ``minimum`` (one per stage, say), with at least one entry."""
    expected = f'a non-empty list or tuple of integers >= {minimum}'
    if not isinstance(value, (list, tuple)) or not value:
        fail(owner, name, value, expected)
    for index, item in enumerate(value):
        if not is_int(item) or item < minimum:
            fail(owner, name, value, expected, f': {name}[{index}] is {item!r}')
    return value


def check_norm_cfg(owner: Any, name: str, cfg: Any, channels: Sequence[int]) -> dict:
    """``cfg`` must be a norm-layer config that mmcv's ``build_norm_layer`` can build for every width in
    ``channels`` (a registered type, valid arguments; GroupNorm's ``num_groups`` must divide each width).

    The layers are built once here and thrown away (microseconds), so that the check is mmcv's own and a bad config
    fails now, naming the option, rather than inside mmcv in the middle of building the method's modules.
    """
    from mmcv.cnn import build_norm_layer
    expected = "a norm-layer config dict with a registered `type`, e.g. dict(type='LN'), dict(type='BN')"
    if not isinstance(cfg, dict) or not isinstance(cfg.get('type'), str):
        fail(owner, name, cfg, expected)
    for width in channels:
        try:
            build_norm_layer(cfg, width)
        except Exception as err:  # mmcv/torch raise KeyError, TypeError, ValueError or AssertionError here
            raise PETLConfigError(f'{_owner_name(owner)}: {name} must be {expected} that builds a norm layer of '
                                  f'width {width}; got {cfg!r} ({type(cfg).__name__}), which mmcv refuses: '
                                  f'{type(err).__name__}: {err}') from err
    return cfg
