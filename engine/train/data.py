"""Training data: MOSES (read from the `molsets` wheel) or a user's CSV of SMILES.

`prepare_dataset` canonicalizes, drops invalid and duplicate rows (and says how many),
scores the 25 properties once and caches the table as parquet.
"""
from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from engine.chem import molfile
from engine.chem.properties import PROPERTY_NAMES, batch_properties, to_mol
from engine.errors import UserError

MOSES_WHEEL = "molsets==0.3.1"
MOSES_SPLITS = ("train", "test")


class DataError(UserError):
    """A data file that cannot be used, with what was wrong and what is allowed."""


@dataclass
class PrepareReport:
    source: str
    rows_read: int
    invalid: int
    duplicates: int
    sampled_out: int
    kept: int

    def summary(self) -> str:
        return (f"{self.source}: read {self.rows_read:,} rows, dropped {self.invalid:,} invalid "
                f"and {self.duplicates:,} duplicates"
                + (f", left out {self.sampled_out:,} by --limit" if self.sampled_out else "")
                + f"; kept {self.kept:,}")


def fetch_moses_wheel(cache_dir: Path) -> Path:
    """The molsets wheel in `cache_dir`, downloaded with pip (no dependencies) if missing."""
    cache_dir = Path(cache_dir)
    found = sorted(cache_dir.glob("molsets-0.3.1-*.whl"))
    if found:
        return found[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", MOSES_WHEEL, "-d", str(cache_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(cache_dir.glob("molsets-0.3.1-*.whl"))
    if result.returncode != 0 or not found:
        raise DataError(f"could not download {MOSES_WHEEL} with pip into {cache_dir}:\n"
                        f"{result.stderr.strip()[-2000:]}")
    return found[0]


def read_moses(split: str, cache_dir: Path) -> list[str]:
    """SMILES of a MOSES split ('train' or 'test'), read from inside the molsets wheel."""
    if split not in MOSES_SPLITS:
        raise DataError(f"unknown MOSES split {split!r}; allowed: {', '.join(MOSES_SPLITS)}")
    wheel = fetch_moses_wheel(cache_dir)
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(f"moses/dataset/data/{split}.csv.gz")
    frame = pd.read_csv(io.BytesIO(gzip.decompress(raw)))
    return frame["SMILES"].astype(str).tolist()


# the dashboard's reader decides which suffix is which format (.txt: a SMILES list)
SMI_SUFFIXES = tuple(s for s, kind in molfile.FORMATS.items() if kind == "smi")
SDF_SUFFIXES = tuple(s for s, kind in molfile.FORMATS.items() if kind == "sdf")


class SmilesTable(NamedTuple):
    """A user's molecule table: all cells text, `column` holds the SMILES; `unreadable`
    says per row why its record could not be read ("" when it could)."""
    frame: pd.DataFrame
    column: str
    unreadable: list[str]


def read_smiles_table(path: Path | str, smiles_column: str = "smiles") -> SmilesTable:
    """A user's molecule table and the name of its SMILES column.

    A CSV's column is `smiles_column` matched case-insensitively (`SMILES`, the MOSES
    files' own, is found); a CSV of one column needs no such header (when the header
    itself is a SMILES, the file has none). A .smi/.smiles or .sdf/.sd file gives columns
    `smiles` and `name` (read by `engine.chem.molfile`); an SDF record RDKit cannot read
    stays as a row with SMILES "" and its reason in `unreadable`. Raises DataError naming
    the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; expected a CSV with a '{smiles_column}' "
                        "column, a .smi or an SDF file")
    try:
        if path.suffix.lower() in SMI_SUFFIXES + SDF_SUFFIXES:
            return _read_molecule_file(path)
        frame = pd.read_csv(path, dtype=str, encoding="utf-8", keep_default_na=False,
                            compression="infer", on_bad_lines="error")
    except UnicodeDecodeError as exc:
        exc = _first_bad_byte(path) or exc   # pandas reports offsets within a read block
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        "save the file as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc})") from exc
    found = {str(c).strip().lower(): c for c in frame.columns}.get(smiles_column.lower())
    if found is not None:
        return SmilesTable(frame, found, [""] * len(frame))
    if len(frame.columns) == 1:
        only = frame.columns[0]
        if to_mol(str(only)) is None:
            return SmilesTable(frame, only, [""] * len(frame))
        frame = pd.read_csv(path, dtype=str, encoding="utf-8", keep_default_na=False,
                            compression="infer", header=None, names=["smiles"])
        return SmilesTable(frame, "smiles", [""] * len(frame))
    raise DataError(f"{path}: no column {smiles_column!r}; the columns are "
                    f"{', '.join(map(str, frame.columns))} (choose one with --smiles-column)")


def _first_bad_byte(path: Path) -> UnicodeDecodeError | None:
    """The decoding error of the file's raw bytes (None when they decode: compressed)."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc
    return None


def _read_molecule_file(path: Path) -> SmilesTable:
    sdf = path.suffix.lower() in SDF_SUFFIXES
    text = path.read_bytes().decode("utf-8-sig")   # UnicodeDecodeError: the caller says where
    records = molfile.sdf_records(text) if sdf else molfile.smi_records(text)
    frame = pd.DataFrame([(smi, name) for name, smi in records], columns=["smiles", "name"],
                         dtype=str)
    unreadable = [molfile.UNREADABLE_SDF if sdf and not smi else "" for _, smi in records]
    return SmilesTable(frame, "smiles", unreadable)


def read_smiles_csv(path: Path, smiles_column: str) -> list[str]:
    """The SMILES of a user's CSV, .smi or SDF file (see `read_smiles_table`); raises
    DataError naming the problem."""
    table = read_smiles_table(path, smiles_column)
    return table.frame[table.column].astype(str).tolist()


def prepare_dataset(smiles: list[str], out_dir: Path, source: str, limit: int | None = None,
                    seed: int = 0, n_jobs: int | None = None, progress: bool = True
                    ) -> tuple[pd.DataFrame, PrepareReport]:
    """Canonicalize, de-duplicate, score and cache `smiles` as `out_dir/molecules.parquet`.

    With `limit`, a seeded random subset of that many input rows is scored (scoring is the
    slow step: about 200 molecules/s per core). Raises DataError when no SMILES is valid.
    """
    rows_read = len(smiles)
    order = np.random.default_rng(seed).permutation(rows_read)
    if limit is not None and limit < rows_read:
        order = order[:limit]
    chosen = [smiles[i] for i in order]
    table = batch_properties(chosen, n_jobs=n_jobs, progress=progress, canonical=True)
    invalid = int((~table["valid"]).sum())
    table = table[table["valid"]]
    before = len(table)
    table = table.drop_duplicates("canonical_smiles")
    duplicates = before - len(table)
    if table.empty:
        raise DataError(f"{source}: none of the {rows_read:,} SMILES is valid")
    table = (table.drop(columns=["smiles", "valid"])
             .rename(columns={"canonical_smiles": "smiles"}).reset_index(drop=True))
    report = PrepareReport(source, rows_read, invalid, duplicates, rows_read - len(chosen),
                           len(table))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out_dir / "molecules.parquet", index=False)
    (out_dir / "provenance.json").write_text(json.dumps(
        {**asdict(report), "seed": seed, "limit": limit}, indent=2))
    return table, report


def load_dataset(data_dir: Path) -> pd.DataFrame:
    """The cached table written by `prepare_dataset`; raises DataError when absent or wrong."""
    path = Path(data_dir) / "molecules.parquet"
    if not path.is_file():
        raise DataError(f"{path}: not found; run `python -m engine data` first")
    table = pd.read_parquet(path)
    missing = [c for c in ("smiles", *PROPERTY_NAMES) if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing}; re-run `python -m engine data`")
    return table


def read_provenance(data_dir: Path) -> dict:
    path = Path(data_dir) / "provenance.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _canonical_chunk(smiles: list[str]) -> list[str | None]:
    from engine.chem.properties import canonical_smiles  # noqa: PLC0415

    return [canonical_smiles(s) for s in smiles]


def canonicalize_all(smiles: list[str], n_jobs: int | None = None, chunk: int = 20000
                     ) -> set[str]:
    """The set of canonical SMILES of `smiles` (invalid ones left out), in parallel."""
    import os  # noqa: PLC0415
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    parts = [smiles[i:i + chunk] for i in range(0, len(smiles), chunk)]
    with ProcessPoolExecutor(max_workers=n_jobs or os.cpu_count()) as pool:
        return {s for part in pool.map(_canonical_chunk, parts) for s in part if s}
