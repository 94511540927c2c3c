"""The declarative schema of experiment configs: a :class:`Key` per config key (a checker and
a default), value checkers and :func:`table`, which validates a TOML table against a schema.

Each checker ``check(path, value)`` returns the normalised value or raises
:class:`~bayesinv.errors.ConfigError` whose message names the dotted key, the value and what
is allowed (the package's convention). The tables themselves are in :mod:`.config`.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeAlias

from .._validation import _show
from ..errors import ConfigError

_REQUIRED = object()

#: ``check(path, value) -> normalised value`` (raises ConfigError naming ``path``)
Checker: TypeAlias = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Key:
    """One key of the schema: a checker ``check(path, value) -> value`` and a default."""

    check: Checker
    default: object = _REQUIRED
    doc: str = ""


# -- value checkers: each returns the normalised value or raises ConfigError ---------------

def fail(path: str, value: object, allowed: str) -> NoReturn:
    """Raise the ConfigError "``path`` must be ``allowed``, got ``value``"."""
    raise ConfigError(f"{path} must be {allowed}, got {_show(value)}")


def integer(minimum: int | None = None) -> Checker:
    """An integer (not a bool), at least ``minimum`` if given."""
    def check(path: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            fail(path, value, f"an integer >= {minimum}" if minimum is not None
                  else "an integer")
        if minimum is not None and value < minimum:
            fail(path, value, f"an integer >= {minimum}")
        return int(value)
    return check


def number(low: float | None = None, high: float | None = None, *, open_low: bool = True,
           open_high: bool = False) -> Checker:
    """A finite number (not a bool) in the interval from ``low`` to ``high`` (each bound
    open or closed; None: unbounded), as a float."""
    lo_txt = "(" if open_low else "["
    hi_txt = ")" if open_high else "]"
    if low is not None and high is not None:
        allowed = f"a number in {lo_txt}{low}, {high}{hi_txt}"
    elif low is not None:
        allowed = f"a number {'>' if open_low else '>='} {low}"
    else:
        allowed = "a finite number"

    def check(path: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(value):
            fail(path, value, allowed)
        x = float(value)
        if low is not None and (x <= low if open_low else x < low):
            fail(path, value, allowed)
        if high is not None and (x >= high if open_high else x > high):
            fail(path, value, allowed)
        return x
    return check


def choice(options: Collection[str]) -> Checker:
    """One of the strings ``options``."""
    def check(path: str, value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            fail(path, value, f"one of {list(options)}")
        return value
    return check


def boolean(path: str, value: Any) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        fail(path, value, "true or false")
    return value


def string(path: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        fail(path, value, "a non-empty string")
    return value


def any_string(path: str, value: Any) -> str:
    """A string (possibly empty)."""
    if not isinstance(value, str):
        fail(path, value, "a string")
    return value


def number_or_false(low: float) -> Checker:
    """A number > low, or ``false`` to disable the check (TOML has no null)."""
    inner = number(low)

    def check(path: str, value: Any) -> float | None:
        if value is False:
            return None
        if isinstance(value, bool):
            fail(path, value, f"a number > {low}, or false to disable the check")
        return inner(path, value)
    return check


def list_of(item: Checker, *, min_length: int = 1, length: int | None = None,
            distinct: bool = False) -> Checker:
    """A list of values each passing ``item``: at least ``min_length`` of them (exactly
    ``length`` if given), distinct if asked."""
    def check(path: str, value: Any) -> list[Any]:
        what = f"a list of {length} values" if length else f"a list of >= {min_length} values"
        if not isinstance(value, list) or len(value) < min_length \
                or (length is not None and len(value) != length):
            fail(path, value, what)
        out = [item(f"{path}[{i}]", v) for i, v in enumerate(value)]
        if distinct and len(set(map(repr, out))) != len(out):
            fail(path, value, "a list of distinct values")
        return out
    return check


def scalar(path: str, value: Any) -> bool | int | float | str:
    """A plain TOML scalar passed through to a library call (bool, int, float, string)."""
    if not isinstance(value, (bool, int, float, str)):
        fail(path, value, "a number, a string or a boolean")
    return value


def plain_name(path: str, value: Any) -> str:
    """A name usable as one path component: letters, digits, '_', '-', '.', not starting
    with '.' (so neither '..' nor a hidden name), at most 100 characters."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}",
                                                      value):
        fail(path, value, "a plain name (letters, digits, '_', '-', '.'; no '/', not "
              "starting with '.'), since it names the output directory results/<name>")
    return value


def table(path: str, raw: Any, schema: Mapping[str, Key], *, required: bool = False
          ) -> dict[str, Any]:
    """Validate a TOML table against a schema: unknown keys, missing keys, each value."""
    if raw is None:
        if required:
            raise ConfigError(f"missing table [{path}]")
        raw = {}
    if not isinstance(raw, dict):
        fail(path, raw, "a table")
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        raise ConfigError(
            f"unknown key {path}.{unknown[0]} = {_show(raw[unknown[0]])}; allowed keys in "
            f"[{path}]: {sorted(schema)}")
    out = {}
    for key, spec in schema.items():
        dotted = f"{path}.{key}"
        if key in raw:
            out[key] = spec.check(dotted, raw[key])
        elif spec.default is _REQUIRED:
            raise ConfigError(f"missing required key {dotted}" +
                              (f" ({spec.doc})" if spec.doc else ""))
        else:
            out[key] = copy.deepcopy(spec.default)
    return out
