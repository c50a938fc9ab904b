"""Reward files as text: read TOML with `tomllib`, write the flat reward schema ourselves.

The schema (REWARDS.md) is a handful of top-level strings/floats/bools plus an array of
`[[terms]]` tables, so a writer of ~40 lines replaces a TOML-writer dependency.
"""
from __future__ import annotations

import math
import numbers
import tomllib

from engine.errors import UserError

class RewardError(UserError):
    """A reward that cannot be used: the message names the problem, the value and what is
    allowed."""


def finite_number(value, what: str) -> float:
    """`value` as a finite float; raises RewardError naming `what` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RewardError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        number = math.inf
    if not math.isfinite(number):
        raise RewardError(f"{what} must be a finite number, got {value!r}")
    return number


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def parse_toml(text: str) -> dict:
    """The table of a TOML document; raises ValueError saying where the syntax is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"expected TOML text (str), got {type(text).__name__}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not a TOML reward file ({exc})") from exc
    except RecursionError:   # tomllib recurses once per nesting level
        raise ValueError("not a reward file: its tables or arrays are nested too deeply") from None


def toml_value(value) -> str:
    """One TOML value: a basic string, a bool, an integer, a finite float or a list of
    them (written one item per line when long).

    Raises ValueError for anything else (the reward schema holds nothing else; NaN and
    infinity are rejected before a reward exists).
    """
    if isinstance(value, (list, tuple)):
        items = [toml_value(v) for v in value]
        if sum(len(i) + 2 for i in items) <= 80:
            return "[" + ", ".join(items) + "]"
        return "[\n" + "".join(f"    {i},\n" for i in items) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write the non-finite number {value} to a reward file")
        return repr(value)  # shortest exact form: 1.0, 0.35, 1e-05 are all valid TOML
    if isinstance(value, str):
        return '"' + "".join(_escape_char(c) for c in value) + '"'
    raise ValueError(f"cannot write a {type(value).__name__} to a reward file")


def _escape_char(c: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    if ord(c) < 0x20 or ord(c) == 0x7F:  # TOML forbids raw control characters
        return f"\\u{ord(c):04X}"
    return c


def dump_toml(table: dict, array_key: str) -> str:
    """TOML text for `table`: scalar keys first, then each dict of `table[array_key]` as
    a `[[array_key]]` table. Keys with value None are left out (TOML has no null)."""
    lines = [f"{key} = {toml_value(value)}" for key, value in table.items()
             if key != array_key and value is not None]
    for entry in table.get(array_key, ()):
        lines += ["", f"[[{array_key}]]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in entry.items()
                  if value is not None]
    return "\n".join(lines) + "\n"
