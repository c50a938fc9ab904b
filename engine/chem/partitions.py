"""Scoring a library too large for one table: read it in partitions, score each where the
engine runs (a Dask cluster, a local Dask cluster of N workers, or a local process pool),
and write one parquet shard per partition, in input order, with a manifest.

Inputs read in partitions: a CSV (the SMILES column by name, matched ignoring case), a
.smi / .smiles / .txt file (SMILES then an optional name per line), a .parquet file, or a
folder of `shard-*.parquet` (a library written by `sample --out DIR/`, or its unique/).
Each partition is scored by `engine.chem.scoring.score_table`, the function `score`
uses for one CSV, so a shard holds exactly the rows in-process scoring gives. At most
`window` partitions are in flight, so memory stays bounded whatever the input size. Shards
are written to a temporary name and renamed; the manifest is written last.
"""
from __future__ import annotations

import json
import os
import time
from collections import deque
from pathlib import Path

import pandas as pd

from engine.chem.rewards import Reward
from engine.device import cpu_seconds
from engine.errors import UserError

SHARD = "part-{:06d}.parquet"
MANIFEST = "manifest.json"


class PartitionError(UserError):
    """An input that cannot be read in partitions, or an output folder in the way."""


def read_partitions(path: Path, column: str = "smiles", size: int = 10_000):
    """Yield (frame, smiles column) partitions of at most `size` rows, in input order.
    Raises PartitionError for an input that cannot be read this way."""
    path = Path(path)
    if size < 1:
        raise PartitionError(f"partition size must be >= 1, got {size}")
    if path.is_dir():
        files = sorted(path.glob("shard-*.parquet"))
        if not files:
            raise PartitionError(f"{path}: a folder without shard-*.parquet files; give a "
                                 "library folder, a CSV, a .smi or a .parquet file")
        for file in files:
            frame = pd.read_parquet(file)
            yield from _split(frame, _column(file, frame.columns, column), size)
        return
    if not path.is_file():
        raise PartitionError(f"{path}: no such file or folder")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if suffix in (".parquet",):
        frame = pd.read_parquet(path)
        yield from _split(frame, _column(path, frame.columns, column), size)
    elif suffix in (".smi", ".smiles", ".txt"):
        yield from _smi_partitions(path, size)
    elif suffix in (".csv", ".csv.gz"):
        header = pd.read_csv(path, nrows=0, dtype=str).columns
        found = _column(path, header, column)
        for chunk in pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=size,
                                 compression="infer"):
            yield chunk.reset_index(drop=True), found
    else:
        raise PartitionError(f"{path}: cannot be read in partitions; allowed: a CSV, .smi, "
                             ".smiles, .txt, .parquet, or a library folder (an SDF is scored "
                             "with a CSV --out)")


def count_rows(path: Path) -> int | None:
    """Rows the input holds (for the progress bar's ETA): parquet metadata, or lines of a
    text file less its header; None when it cannot be told cheaply."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    path = Path(path)
    if path.is_dir():
        return sum(pq.ParquetFile(f).metadata.num_rows for f in path.glob("shard-*.parquet"))
    if path.suffix.lower() == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix.lower() in (".csv", ".smi", ".smiles", ".txt") and path.is_file():
        with open(path, "rb") as handle:
            lines = sum(1 for line in handle if line.strip())
        return max(0, lines - (path.suffix.lower() == ".csv"))
    return None


def _column(path: Path, columns, wanted: str) -> str:
    found = {str(c).strip().lower(): c for c in columns}.get(wanted.lower())
    if found is None:
        raise PartitionError(f"{path}: no '{wanted}' column (columns: "
                             f"{', '.join(map(str, columns))}); name it with --smiles-column")
    return found


def _split(frame: pd.DataFrame, column: str, size: int):
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size].reset_index(drop=True), column


def _smi_partitions(path: Path, size: int):
    rows: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.strip().split(maxsplit=1)
            if not parts or parts[0].startswith("#"):
                continue
            rows.append((parts[0], parts[1] if len(parts) > 1 else ""))
            if len(rows) == size:
                yield pd.DataFrame(rows, columns=["smiles", "name"]), "smiles"
                rows = []
    if rows:
        yield pd.DataFrame(rows, columns=["smiles", "name"]), "smiles"


def score_one(frame: pd.DataFrame, column: str, reward_toml: str,
              whole_mixture: bool, alerts: bool = False) -> pd.DataFrame:
    """One partition, scored in the process that runs it (one core: the cluster or the
    pool spreads the partitions); the reward travels as its TOML text."""
    from engine.chem.scoring import score_table  # noqa: PLC0415

    reward = Reward.from_toml(reward_toml)
    return score_table(frame, column, reward, whole_mixture=whole_mixture, jobs=1,
                       alerts=alerts)


class _Engine:
    """`submit(fn, *args)` -> a future with `.result()`: a Dask client or a process pool."""

    def __init__(self, workers: int | None, address: str | None, jobs: int | None = None):
        self.cluster = self.client = self.pool = None
        if address or workers:
            from distributed import Client, LocalCluster  # noqa: PLC0415

            if address:
                self.client = Client(address, timeout="20s")
                self.name = f"Dask cluster {address}"
            else:
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                            processes=True, dashboard_address=None)
                self.client = Client(self.cluster)
                self.name = f"a local Dask cluster of {workers} workers"
            self.slots = max(1, sum(self.client.nthreads().values()))
        else:
            from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

            self.slots = jobs or os.cpu_count() or 1
            self.pool = ProcessPoolExecutor(max_workers=self.slots)
            self.name = (f"a local pool of {self.slots} processes" if self.slots > 1
                         else "a local pool of 1 process")

    def submit(self, fn, *args):
        if self.client is not None:
            return self.client.submit(fn, *args, pure=False)
        return self.pool.submit(fn, *args)

    def close(self):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.pool is not None:
            self.pool.shutdown()


def score_partitions(path, column: str, reward: Reward, out: Path, partition: int = 10_000,
                     workers: int | None = None, address: str | None = None,
                     whole_mixture: bool = False, alerts: bool = False,
                     force: bool = False, progress=None, jobs: int | None = None) -> dict:
    """Score `path` partition by partition into `out`/part-*.parquet; returns the summary
    also written to `out`/manifest.json (counts, validity, mean reward, molecules/s, CPU
    seconds of this process and, for a local pool, its workers). Without `workers` or
    `address`, a local pool of `jobs` processes (default: one per core)."""
    if jobs is not None and jobs < 1:
        raise PartitionError(f"jobs={jobs}: give a number of processes >= 1")
    if jobs is not None and (workers or address):
        raise PartitionError("jobs (--jobs N) sizes the local process pool; a Dask "
                             "cluster's size is its workers (--workers N, or those of the "
                             "running cluster): give one of them")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PartitionError(f"--out {out} is a file; give a folder for the shards")
    if out.exists() and any(out.iterdir()) and not force:
        raise PartitionError(f"{out} is not empty; add --force to replace its shards")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    total = count_rows(path) if progress else None
    engine = _Engine(workers, address, jobs)
    toml = reward.to_toml()
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    pending: deque = deque()
    n = valid = 0
    reward_sum = 0.0
    shards = []

    def collect():
        nonlocal n, valid, reward_sum
        k, future = pending.popleft()
        frame = future.result()
        tmp = out / f".{SHARD.format(k)}.tmp"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, out / SHARD.format(k))
        n += len(frame)
        valid += int(frame["valid"].sum())
        reward_sum += float(frame["reward"].fillna(0).sum())
        shards.append({"file": SHARD.format(k), "rows": len(frame)})
        if progress:
            progress(n, total)

    if progress:   # the bar starts with the work, so its rate counts the first partitions
        progress(0, total)
    try:
        for k, (frame, col) in enumerate(read_partitions(path, column, partition)):
            pending.append((k, engine.submit(score_one, frame, col, toml, whole_mixture,
                                                 alerts)))
            if len(pending) >= 2 * engine.slots:
                collect()
        while pending:
            collect()
    finally:
        engine.close()
    wall = time.perf_counter() - t0
    summary = {"n": n, "valid": valid, "validity": valid / max(1, n),
               "mean_reward": reward_sum / max(1, n), "partitions": len(shards),
               "engine": engine.name, "wall_time_s": wall,
               "molecules_per_s": n / wall if wall > 0 else 0.0,
               "cpu_s_here": cpu_seconds() - cpu0, "reward": reward.name,
               "input": str(Path(path).absolute()), "reward_toml": toml, "shards": shards}
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, out / MANIFEST)
    return {k: v for k, v in summary.items() if k not in ("shards", "reward_toml")}

