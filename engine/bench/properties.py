"""Scoring throughput: molecules/s for all 25 properties plus a reward, and for the reward's
properties alone, with 1 and 2 processes; values checked against a saved table.

`python -m engine.bench.properties --n 10000 --reference before.parquet` prints a markdown
table row per setting (wall-clock molecules/s; CPU ms per molecule, pool workers
included), the largest difference from the reference's values and the load average before
and after (other work on the machine slows every figure). `--save PATH` writes this code's
values (SMILES, canonical SMILES, validity, the 25 properties) to compare later code
against.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from engine.chem.properties import PROPERTY_NAMES, batch_properties
from engine.chem.rewards import load_reward
from engine.device import cpu_seconds

BANK = Path(__file__).resolve().parents[2] / "assets" / "model" / "prior_bank.parquet"


def read_smiles(source: str, n: int, cache_dir: Path) -> list[str]:
    """The first `n` SMILES of the shipped prior bank (20,000 MOSES training molecules) or
    of the MOSES test set ('moses', read from the molsets wheel, downloaded once)."""
    if source == "bank":
        return pd.read_parquet(BANK, columns=["smiles"])["smiles"].tolist()[:n]
    from engine.train.data import read_moses  # noqa: PLC0415  (pulls in torch)

    return read_moses("test", cache_dir)[:n]


def measure(score, smiles: list[str]) -> tuple[float, float, pd.DataFrame]:
    """(molecules/s by the wall clock, CPU ms per molecule with the pool's workers, the
    table `score(smiles)` returned)."""
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    frame = score(smiles)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return len(smiles) / wall, 1000 * cpu / len(smiles), frame


def max_difference(frame: pd.DataFrame, reference: pd.DataFrame) -> tuple[float, int]:
    """(largest absolute difference over the 25 properties, cells NaN in one table only),
    rows matched by position after checking the SMILES agree."""
    if frame["smiles"].tolist() != reference["smiles"].tolist()[:len(frame)]:
        raise SystemExit("the reference holds other SMILES (or another order) than this run")
    got = frame[list(PROPERTY_NAMES)].to_numpy(np.float64)
    want = reference[list(PROPERTY_NAMES)].to_numpy(np.float64)[:len(frame)]
    nan_mismatch = int((np.isnan(got) != np.isnan(want)).sum())
    both = ~np.isnan(got) & ~np.isnan(want)
    return float(np.abs(got[both] - want[both]).max(initial=0.0)), nan_mismatch


def score_table(smiles: list[str], reward, n_jobs: int) -> pd.DataFrame:
    """What `score` writes (the 25 properties, canonical SMILES, reward and desirabilities)
    with `n_jobs` processes."""
    props = batch_properties(smiles, n_jobs=n_jobs, canonical=True)
    return reward.evaluate(props)


def score_reward(smiles: list[str], reward, n_jobs: int) -> pd.DataFrame:
    """What selecting candidates needs: the reward from only the properties it uses."""
    props = batch_properties(smiles, n_jobs=n_jobs, canonical=True, names=reward.properties)
    return props.assign(reward=reward.score(props))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--reward", default="drug_like", help="preset key or reward file")
    parser.add_argument("--source", choices=("bank", "moses"), default="bank")
    parser.add_argument("--reference", type=Path, help="a table written by --save")
    parser.add_argument("--save", type=Path, help="write this run's values here")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path.home() / ".cache" / "rcfg-studio" / "moses")
    args = parser.parse_args(argv)
    smiles = read_smiles(args.source, args.n, args.cache_dir)
    reward = load_reward(args.reward)
    # once per process, not per batch (the NP and SA models, the alert patterns): a
    # long-running scorer pays it once
    batch_properties(smiles[:10], n_jobs=1)
    load_before = os.getloadavg()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}, {len(smiles):,} molecules ({args.source}), "
          f"reward {args.reward}; load average before {load_before[0]:.2f} "
          f"{load_before[1]:.2f} {load_before[2]:.2f}")
    print("| processes | scored | molecules/s | CPU ms/molecule |\n|---|---|---|---|")
    values = None
    for jobs in args.jobs:
        rate, cpu_ms, values = measure(lambda s, j=jobs: score_table(s, reward, j), smiles)
        print(f"| {jobs} | 25 properties + reward | {rate:,.0f} | {cpu_ms:.2f} |")
        rate, cpu_ms, _ = measure(lambda s, j=jobs: score_reward(s, reward, j), smiles)
        print(f"| {jobs} | the reward's {len(reward.properties)} properties + reward "
              f"| {rate:,.0f} | {cpu_ms:.2f} |")
    load_after = os.getloadavg()
    print(f"# load average after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if values is None:
        values = batch_properties(smiles, canonical=True)
    if args.reference is not None:
        diff, nan_mismatch = max_difference(values, pd.read_parquet(args.reference))
        print(f"# max abs difference from {args.reference}: {diff:.3g} over the 25 "
              f"properties, {nan_mismatch} cells NaN in one table only")
    if args.save is not None:
        values[["smiles", "canonical_smiles", "valid", *PROPERTY_NAMES]].to_parquet(args.save)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
