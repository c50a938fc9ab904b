"""Reading a library folder a page at a time: a library of 10^5-10^6 molecules is looked at
(the dashboard's Library screen, a notebook) without ever being held in memory.

A folder is a library written by `sample --out DIR/` (shard-NNNNNN.parquet, library.json,
manifest.json), its `unique/` (the shards `dedupe` keeps; the counts are in the parent's
manifest), or the output of `score --out DIR/` (part-NNNNNN.parquet, manifest.json).
`open_library` checks the folder and reads only the shards' parquet footers (row counts,
columns). Which rows are shown is a `RowFilter` (range filters on stored numeric columns,
valid molecules only, a SMARTS pattern), applied per shard as a boolean mask (`shard_mask`,
reading only the columns it tests, SMARTS only on rows the ranges kept). `page_rows` walks
the shards in order and stops once a page is covered, so a SMARTS filter is checked only as
far as the pages asked for; `ranked_rows` finds the best rows by a stored column over every
shard (reading that one column), keeping no more than it was asked for; `sample_rows` draws
a seeded random subset across shards; `iter_rows` streams the rows shard by shard up to a
cap. A row's number is its position in
the folder, shards in order (`row`). At most one shard is read at a time.

Failure contract: a folder that is not a library raises LibraryError naming what is wrong;
a column a filter names that the shards lack raises LibraryError; an invalid SMARTS raises
engine.chem.structures.SmartsError. Missing values (invalid molecules' properties) never
pass a range filter.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.chem.structures import has_substructure, smarts_pattern
from engine.sampling.library import LibraryError, MANIFEST_FILE, PLAN_FILE, UNIQUE_DIR

SHARD_PATTERNS = ("shard-*.parquet", "part-*.parquet")   # sample --out, score --out
ROW = "row"   # the column read_rows adds: the row's position in the folder

MaskOf = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class Library:
    """A library folder as its footers describe it: the shard files in order, their row
    counts, the columns every shard has (`numeric`: those a range filter can use), the
    SMILES column, and the manifest and plan (empty when absent; those of the parent
    library for a `unique/` folder). `notes` says what is missing or unreadable beside the
    shards."""

    folder: Path
    files: tuple[Path, ...]
    rows: tuple[int, ...]
    columns: tuple[str, ...]
    numeric: tuple[str, ...]
    smiles: str
    manifest: dict
    plan: dict
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return int(sum(self.rows))

    @property
    def offsets(self) -> np.ndarray:
        """The folder row number of each shard's first row."""
        return np.concatenate([[0], np.cumsum(self.rows)[:-1]]).astype(np.int64)

    @property
    def is_unique(self) -> bool:
        return self.folder.name == UNIQUE_DIR

    @property
    def unique_folder(self) -> Path | None:
        """The folder's `unique/` (dedupe's shards) when it holds any."""
        folder = self.folder / UNIQUE_DIR
        return folder if any(folder.glob(SHARD_PATTERNS[0])) else None


def _json(file: Path, notes: list[str]) -> dict:
    if not file.is_file():
        return {}
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        notes.append(f"{file.name} could not be read ({exc}); counts come from the shards")
        return {}
    return data if isinstance(data, dict) else {}


def open_library(folder) -> Library:
    """The library in `folder` (see the module docstring). Raises LibraryError when the
    folder is missing, is a file, holds no shards, or a shard is not readable parquet or
    has no SMILES column."""
    path = Path(str(folder).strip()).expanduser()
    shown = path.absolute()   # "." or "runs" said as the folder they are
    if not path.exists():
        raise LibraryError(f"{shown}: no such folder")
    if not path.is_dir():
        raise LibraryError(f"{shown} is a file; give the library's folder (the DIR of "
                           "`sample --out DIR/` or `score --out DIR/`)")
    files = next((found for pattern in SHARD_PATTERNS
                  if (found := sorted(path.glob(pattern)))), [])
    if not files:
        raise LibraryError(
            f"{shown} is not a library folder: it holds no shard-NNNNNN.parquet or "
            f"part-NNNNNN.parquet files (`sample --out DIR/` writes shards with {PLAN_FILE} "
            f"and {MANIFEST_FILE}; `score --out DIR/` writes parts)")
    rows, schemas = [], []
    for file in files:
        try:
            meta = pq.ParquetFile(file)
        except (pa.ArrowException, OSError) as exc:
            raise LibraryError(f"{file.name} in {path} is not a readable parquet file "
                               f"({exc})") from None
        rows.append(meta.metadata.num_rows)
        schemas.append(meta.schema_arrow)
    columns = [c for c in schemas[0].names if all(c in s.names for s in schemas[1:])]
    smiles = next((c for c in columns if c.lower() == "smiles"), None)
    if smiles is None:
        raise LibraryError(f"{files[0].name} in {path} has no smiles column (its columns: "
                           f"{', '.join(schemas[0].names[:12])}); is it a library folder?")
    kinds = schemas[0]
    numeric = [c for c in columns if pa.types.is_floating(kinds.field(c).type)
               or pa.types.is_integer(kinds.field(c).type)]
    notes: list[str] = []
    home = path.parent if path.name == UNIQUE_DIR else path
    return Library(folder=path, files=tuple(files), rows=tuple(rows), columns=tuple(columns),
                   numeric=tuple(numeric), smiles=smiles,
                   manifest=_json(home / MANIFEST_FILE, notes),
                   plan=_json(home / PLAN_FILE, notes), notes=tuple(notes))


@dataclass(frozen=True)
class RowFilter:
    """Which rows a view shows: `ranges` (column, low, high), inclusive, on stored numeric
    columns; `valid_only` (rows whose `valid` is true, when the shards have the column);
    `smarts`, a pattern the molecule must contain ("" for none). Raises SmartsError for an
    invalid pattern and LibraryError for a range with low > high."""

    ranges: tuple[tuple[str, float, float], ...] = ()
    valid_only: bool = True
    smarts: str = ""

    def __post_init__(self):
        for column, low, high in self.ranges:
            if not low <= high:
                raise LibraryError(f"range filter on {column}: low {low} is above high {high}")
        if self.smarts:
            smarts_pattern(self.smarts)


def _numbers(table: pa.Table, column: str) -> np.ndarray:
    return table[column].to_pandas().to_numpy(dtype=float, na_value=np.nan)


def shard_mask(lib: Library, k: int, rows: RowFilter) -> np.ndarray:
    """Which rows of shard k pass `rows` (a boolean array, one per row). Reads only the
    columns the filter tests; the SMARTS is matched only on rows the other tests kept."""
    unknown = [c for c, _, _ in rows.ranges if c not in lib.numeric]
    if unknown:
        raise LibraryError(f"cannot filter on {', '.join(unknown)}: not a numeric column of "
                           f"this library (numeric columns: {', '.join(lib.numeric)})")
    valid = rows.valid_only and "valid" in lib.columns
    wanted = list(dict.fromkeys([c for c, _, _ in rows.ranges] + ["valid"] * valid
                                + [lib.smiles] * bool(rows.smarts)))
    keep = np.ones(lib.rows[k], dtype=bool)
    if not wanted:
        return keep
    table = pq.read_table(lib.files[k], columns=wanted)
    if valid:
        keep &= np.asarray(pc.fill_null(table["valid"], False), dtype=bool)
    for column, low, high in rows.ranges:
        values = _numbers(table, column)
        keep &= (values >= low) & (values <= high)   # NaN compares False: never kept
    if rows.smarts:
        kept = np.flatnonzero(keep)
        smiles = table[lib.smiles].take(pa.array(kept)).to_pylist()
        keep[kept] = has_substructure([s or "" for s in smiles], rows.smarts)
    return keep


def column_range(lib: Library, column: str) -> tuple[float, float] | None:
    """(min, max) of a numeric column over every shard, missing values left out; None when
    it has no value. From the parquet statistics where present, else reading the column."""
    lows, highs = [], []
    for file in lib.files:
        meta = pq.ParquetFile(file).metadata
        index = meta.schema.to_arrow_schema().get_field_index(column)
        stats = [meta.row_group(g).column(index).statistics for g in range(meta.num_row_groups)]
        if stats and all(s is not None and s.has_min_max for s in stats):
            lows += [float(s.min) for s in stats]
            highs += [float(s.max) for s in stats]
            continue
        found = pc.min_max(pq.read_table(file, columns=[column])[column]).as_py()
        if found["min"] is not None:
            lows.append(float(found["min"]))
            highs.append(float(found["max"]))
    finite = [(lo, hi) for lo, hi in zip(lows, highs) if np.isfinite(lo) and np.isfinite(hi)]
    if not finite:
        return None
    return min(lo for lo, _ in finite), max(hi for _, hi in finite)


def page_rows(lib: Library, mask_of: MaskOf, start: int,
              size: int) -> tuple[list[tuple[int, np.ndarray]], int, int]:
    """The rows `start` ... `start + size - 1` among those that pass, in library order, as
    (shard, positions in the shard) pairs; with the number of passing rows in the shards
    looked at and how many shards that is. `mask_of(k)` (see `shard_mask`) is called for
    the shards in order, and no further once the page is covered."""
    picks, seen = [], 0
    for k in range(len(lib.files)):
        if seen >= start + size:
            return picks, seen, k
        positions = np.flatnonzero(mask_of(k))
        low, high = max(0, start - seen), min(len(positions), start + size - seen)
        if low < high:
            picks.append((k, positions[low:high]))
        seen += len(positions)
    return picks, seen, len(lib.files)


def ranked_rows(lib: Library, mask_of: MaskOf, column: str, count: int,
                descending: bool = True) -> tuple[np.ndarray, int]:
    """The folder row numbers (`ROW`) of the best `count` rows that pass, by the stored
    numeric `column` (highest first, or lowest with `descending=False`; equal values in
    library order; rows without a value never ranked), and how many passing rows have a
    value. Every shard's mask is needed; the column is read a shard at a time and at most
    `count` candidates are kept between shards. Raises LibraryError for a column that is not
    numeric here."""
    if column not in lib.numeric:
        raise LibraryError(f"cannot order by {column}: not a numeric column of this library "
                           f"(numeric columns: {', '.join(lib.numeric)})")
    keys, rows, total = np.empty(0), np.empty(0, dtype=np.int64), 0
    for k in range(len(lib.files)):
        positions = np.flatnonzero(mask_of(k))
        if not len(positions):
            continue
        values = _numbers(pq.read_table(lib.files[k], columns=[column]), column)[positions]
        has = ~np.isnan(values)
        total += int(has.sum())
        keys = np.concatenate([keys, -values[has] if descending else values[has]])
        rows = np.concatenate([rows, lib.offsets[k] + positions[has]])
        order = np.lexsort((rows, keys))[:count]   # by value, then by row
        keys, rows = keys[order], rows[order]
    return rows, total


def rows_at(lib: Library, rows: Sequence[int]) -> list[tuple[int, np.ndarray]]:
    """Folder row numbers (`ROW`) as (shard, positions) pairs, in order; numbers outside
    the folder are left out."""
    rows = np.unique(np.asarray(list(rows), dtype=np.int64))
    rows = rows[(rows >= 0) & (rows < lib.n)]
    shards = np.searchsorted(lib.offsets, rows, side="right") - 1
    return [(int(k), rows[shards == k] - lib.offsets[k]) for k in np.unique(shards)]


def read_rows(lib: Library, picks: Sequence[tuple[int, np.ndarray]],
              columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of (shard, positions) pairs, shard by shard, with `ROW` first and the SMILES
    column named `smiles`; `columns` (default: all) chooses what else is read."""
    wanted = list(dict.fromkeys([lib.smiles, *(columns or lib.columns)]))
    parts = []
    for k, positions in picks:
        table = pq.read_table(lib.files[k], columns=wanted).take(pa.array(positions))
        part = table.to_pandas()
        part.insert(0, ROW, lib.offsets[k] + np.asarray(positions, dtype=np.int64))
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=[ROW, *wanted]).rename(columns={lib.smiles: "smiles"})
    return pd.concat(parts, ignore_index=True).rename(columns={lib.smiles: "smiles"})


def read_in_order(lib: Library, rows: Sequence[int],
                  columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows numbered `rows` (distinct folder row numbers, e.g. from ranked_rows) in that
    order, read shard by shard as read_rows reads them."""
    frame = read_rows(lib, rows_at(lib, rows), columns)
    place = {int(r): i for i, r in enumerate(rows)}
    order = np.argsort([place[int(r)] for r in frame[ROW]], kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def sample_rows(lib: Library, mask_of: MaskOf, n: int, seed: int,
                columns: Sequence[str] | None = None) -> tuple[pd.DataFrame, int]:
    """A seeded random sample of at most `n` of the rows that pass (every shard's mask is
    needed), in library order, and how many rows pass in all. The same seed and filter give
    the same rows."""
    counts = np.array([int(mask_of(k).sum()) for k in range(len(lib.files))], dtype=np.int64)
    total = int(counts.sum())
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=min(n, total),
                                                        replace=False))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    picks = []
    for k in range(len(lib.files)):
        mine = chosen[(chosen >= starts[k]) & (chosen < starts[k] + counts[k])] - starts[k]
        if len(mine):
            picks.append((k, np.flatnonzero(mask_of(k))[mine]))
    return read_rows(lib, picks, columns), total


def iter_rows(lib: Library, mask_of: MaskOf, cap: int,
              columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
    """The rows that pass, shard by shard in library order, at most `cap` in all."""
    left = cap
    for k in range(len(lib.files)):
        if left <= 0:
            return
        positions = np.flatnonzero(mask_of(k))[:left]
        if len(positions):
            left -= len(positions)
            yield read_rows(lib, [(k, positions)], columns)
