"""Property-scoring throughput: molecules/s with 1 and 2 processes on MOSES molecules.

`python -m engine.bench.properties --n 8000` prints a markdown table row per setting.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from engine.chem.properties import batch_properties
from engine.train.data import read_moses


def measure(smiles: list[str], n_jobs: int) -> float:
    t0 = time.perf_counter()
    frame = batch_properties(smiles, n_jobs=n_jobs, chunk_size=max(1, len(smiles) // (4 * n_jobs)))
    wall = time.perf_counter() - t0
    assert frame["valid"].all()
    return len(smiles) / wall


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=8000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cache-dir", type=Path,
                        default=Path.home() / ".cache" / "rcfg-studio" / "moses")
    args = parser.parse_args(argv)
    smiles = read_moses("test", args.cache_dir)[:args.n]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}, {len(smiles)} MOSES test molecules")
    print("| processes | molecules/s |\n|---|---|")
    for jobs in args.jobs:
        print(f"| {jobs} | {measure(smiles, jobs):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
