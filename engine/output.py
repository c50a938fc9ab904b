"""Files the project writes for a person: checked before any work, written whole or not at
all, and safe to open in a spreadsheet.

`check_output` runs before the work that fills a file, so a bad path costs nothing;
`write_csv` writes a temporary file beside the target and renames it over (a killed
process leaves the old file or the new one, never half of one); `csv_text` is the same
table as text, for downloads. Both neutralise cells a spreadsheet would run as a formula.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from engine.errors import UserError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")   # what spreadsheets read as a formula


class OutputError(UserError):
    """An output path that cannot be written, with what to do instead."""


def check_output(path: Path | str, force: bool = False) -> Path:
    """Check that `path` can be written as a file, creating its folder; returns the path.

    Raises OutputError when it is a folder, has no file extension (a folder meant, its
    slash forgotten), exists and `force` is False, or when its folder cannot be created or
    written.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"--out {path} is a folder; give a file name, e.g. {path / 'out.csv'} "
                          f"(`sample` and `score` with `--out {path}/`, the slash written, "
                          "write parquet shards into it)")
    if not path.suffix:
        raise OutputError(f"--out {path} has no file extension; give a file name such as "
                          f"{path}.csv (`sample` and `score` also write a folder of parquet "
                          f"shards: `--out {path}/`, with the slash)")
    if path.exists() and not force:
        raise OutputError(f"--out {path} already exists; choose another name or add --force "
                          "to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {path}: cannot create its folder ({exc.strerror})") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"--out {path}: the folder {path.parent} is not writable")
    return path


def timestamped(stem: str, suffix: str = ".csv") -> Path:
    """A new file name in the current folder, e.g. samples-20260101-120000.csv (with a
    counter when that exists already)."""
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = Path(base + suffix), 1
    while path.exists():
        path, n = Path(f"{base}-{n}{suffix}"), n + 1
    return path


def _neutral(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        try:
            float(value)     # a negative number stays a number
        except ValueError:
            return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells starting with =, +, -, @ (or tab, CR) get a
    leading apostrophe, so a spreadsheet shows them instead of running them; numbers and
    other cells are unchanged."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_neutral)
    return out


DECIMALS = 4   # properties and other measured values in CSV files; rewards keep all


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with float columns rounded to DECIMALS decimals, except `reward`
    and the `d_*` desirabilities (full precision: they rank the molecules)."""
    out = frame.copy()
    for col in out.columns:
        name = str(col)
        if (pd.api.types.is_float_dtype(out[col]) and name != "reward"
                and not name.startswith("d_")):
            out[col] = out[col].round(DECIMALS)
    return out


def _for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    return spreadsheet_safe(rounded(frame))


def csv_text(frame: pd.DataFrame) -> str:
    """`frame` as spreadsheet-safe CSV text with rounded values (for downloads)."""
    return _for_csv(frame).to_csv(index=False)


def write_csv(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write `frame` as spreadsheet-safe CSV with rounded values (`rounded`) to `path`
    atomically (a temporary file in the same folder, then one rename); raises OutputError
    when it cannot be written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _for_csv(frame).to_csv(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path} ({exc.strerror or exc})") from None
    return path
