"""The MOSES benchmark's own metric code (the `molsets` 0.3.1 wheel) on a model's samples.

`python -m engine.bench.moses --samples FILE.csv --out moses.json` reads the `smiles`
column of a sample file (every generated string, invalid ones included: `python -m engine
sample --method base --n 30000 --top-p 1 --no-reference --out FILE.csv` writes one) and
computes what MOSES' `get_all_metrics` computes, one metric at a time, rewriting `--out`
after each so a long run shows its progress: valid, unique@1k/@10k, FCD, SNN, Frag and
Scaf against Test and TestSF, IntDiv, IntDiv2, Filters, the logP/SA/QED/weight
Wasserstein distances and Novelty.

molsets is installed nowhere: its wheel (fetched once with `pip download --no-deps`, see
engine.train.data) is unpacked into the cache folder and imported from there, with three
shims for what moved since 2020: RDKit no longer has `rdkit.six` (its SA scorer imports
`iteritems`); pandas 3 has no `DataFrame.append` (used once, at import, to join the MCF
and PAINS tables); and SciPy's cosine distance now overflows on integer count vectors
(Frag, Scaf), so it is given floats. The wheel's two pickled files (the test-set statistics and the SA
fragment scores) are read with an unpickler that admits only numpy arrays, Counters and
plain containers, so no code from a file runs.
"""
from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import os
import pickle
import platform
import sys
import time
import types
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import cosine

from engine.train.data import fetch_moses_wheel

CACHE_DIR = Path.home() / ".cache" / "rcfg-studio" / "moses"
UNIQUE_AT = (1000, 10000)
# what the statistics pickles name: numpy arrays (with their dtype) and Counters
ALLOWED = {("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
           ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
           ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
           ("collections", "Counter"): Counter, ("_codecs", "encode"): codecs.encode}


class _Restricted(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in MOSES data files")
        return ALLOWED[(module, name)]


def restricted_load(stream) -> object:
    """Unpickle `stream` admitting only the classes in ALLOWED; raises
    pickle.UnpicklingError naming any other."""
    return _Restricted(stream).load()


def load_statistics(root: Path, split: str) -> dict:
    """MOSES' precomputed statistics of 'test' or 'test_scaffolds' (FCD mu/sigma, SNN
    fingerprints, fragment and scaffold counts, property values) from the unpacked wheel
    under `root`, without np.load's pickle."""
    path = Path(root) / "moses" / "dataset" / "data" / f"{split}_stats.npz"
    with zipfile.ZipFile(path) as zf, zf.open("stats.npy") as f:
        major, _ = np.lib.format.read_magic(f)
        header = {1: np.lib.format.read_array_header_1_0, 2: np.lib.format.read_array_header_2_0}
        header[major](f)   # shape (), dtype object: a pickled 0-d array holding the dict
        return restricted_load(f).item()


def _six_module() -> types.ModuleType:
    six = types.ModuleType("rdkit.six")
    six.iteritems = lambda d: iter(d.items())
    return six


@contextlib.contextmanager
def _frame_append():
    """DataFrame.append (removed in pandas 2) for as long as the block runs."""
    had = hasattr(pd.DataFrame, "append")
    if not had:
        pd.DataFrame.append = lambda self, other, sort=False: pd.concat([self, other],
                                                                        sort=sort)
    try:
        yield
    finally:
        if not had:
            del pd.DataFrame.append


def unpack_molsets(cache_dir: Path = CACHE_DIR) -> Path:
    """The folder holding the molsets wheel's `moses` package, unpacked once from the
    wheel in `cache_dir` (downloaded with pip when missing; raises DataError if that
    fails)."""
    root = Path(cache_dir) / "molsets-0.3.1"
    if not (root / "moses" / "__init__.py").is_file():
        staging = root.with_name(root.name + ".partial")
        with zipfile.ZipFile(fetch_moses_wheel(cache_dir)) as zf:
            zf.extractall(staging, [n for n in zf.namelist() if n.startswith("moses/")])
        staging.replace(root)
    return root


def import_moses(cache_dir: Path = CACHE_DIR) -> types.ModuleType:
    """`moses.metrics.metrics` of molsets 0.3.1 with the shims in place (see the module
    docstring)."""
    root = unpack_molsets(cache_dir)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    sys.modules.setdefault("rdkit.six", _six_module())
    with _frame_append():
        from moses.metrics import metrics  # noqa: PLC0415
        from moses.metrics.SA_Score import sascorer  # noqa: PLC0415
    # the SA scorer's fragment scores (plain lists) through the restricted unpickler
    sascorer.pickle = types.SimpleNamespace(load=restricted_load)
    metrics.cos_distance = float_cosine
    return metrics


def float_cosine(u, v) -> float:
    """SciPy's cosine distance on float copies: Frag and Scaf pass integer count vectors,
    and SciPy 1.17 multiplies their squared norms as int64, which overflows for MOSES test's
    fragment counts (3.0e10 times about 9e8 for 30,000 molecules); the SciPy of 2020
    averaged in float."""
    return cosine(np.asarray(u, dtype=float), np.asarray(v, dtype=float))


def moses_metrics(smiles: list[str], out: Path | None = None, cache_dir: Path = CACHE_DIR,
                  device: str = "cpu") -> dict[str, float]:
    """MOSES' metrics of the generated strings `smiles` (invalid ones included), in the
    order of `get_all_metrics`; each is added to `out` (JSON, rewritten whole) as soon as
    it is known."""
    m = import_moses(cache_dir)
    root = unpack_molsets(cache_dir)
    result: dict[str, float] = {}

    def record(name: str, value) -> None:
        result[name] = float(value)
        print(f"{name}: {result[name]:.4f}", flush=True)
        if out is not None:
            tmp = Path(out).with_suffix(".tmp")
            tmp.write_text(json.dumps({"n": len(smiles), "metrics": result}, indent=2))
            tmp.replace(out)

    m.disable_rdkit_log()
    record("valid", m.fraction_valid(smiles))
    gen = m.remove_invalid(smiles, canonize=True)
    for k in UNIQUE_AT:
        record(f"unique@{k // 1000}k", m.fraction_unique(gen, k))
    mols = [m.get_mol(s) for s in gen]
    kwargs = {"n_jobs": 1, "device": device, "batch_size": 512}
    fcd = m.FCDMetric(**kwargs).precalc(gen)
    snn = m.SNNMetric(**kwargs).precalc(mols)
    frag = m.FragMetric(**kwargs).precalc(mols)
    scaf = m.ScafMetric(**kwargs).precalc(mols)
    for split, tag in (("test", "Test"), ("test_scaffolds", "TestSF")):
        ref = load_statistics(root, split)
        record(f"FCD/{tag}", m.FCDMetric(**kwargs).metric(ref["FCD"], fcd))
        record(f"SNN/{tag}", m.SNNMetric(**kwargs).metric(ref["SNN"], snn))
        record(f"Frag/{tag}", m.FragMetric(**kwargs).metric(ref["Frag"], frag))
        record(f"Scaf/{tag}", m.ScafMetric(**kwargs).metric(ref["Scaf"], scaf))
    record("IntDiv", m.internal_diversity(mols, 1, device=device))
    record("IntDiv2", m.internal_diversity(mols, 1, device=device, p=2))
    record("Filters", m.fraction_passes_filters(mols, 1))
    test = load_statistics(root, "test")
    for name, func in (("logP", m.logP), ("SA", m.SA), ("QED", m.QED), ("weight", m.weight)):
        record(name, m.WassersteinMetric(func, **kwargs)(gen=mols, pref=test[name]))
    record("Novelty", m.novelty(mols, m.get_dataset("train"), 1))
    m.enable_rdkit_log()
    return result


def _cpu_name() -> str:
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, required=True,
                        help="CSV with a `smiles` column: every generated string")
    parser.add_argument("--out", type=Path, required=True, help="JSON, rewritten as it goes")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    args = parser.parse_args(argv)
    smiles = pd.read_csv(args.samples, dtype={"smiles": str}, keep_default_na=False)
    started = time.time()
    result = moses_metrics(smiles["smiles"].tolist(), args.out, args.cache_dir, args.device)
    info = {"n": len(smiles), "metrics": result, "samples": str(args.samples),
            "measured": time.strftime("%Y-%m-%d"), "seconds": round(time.time() - started),
            "machine": f"{_cpu_name()}, {len(os.sched_getaffinity(0))} cores"}
    args.out.write_text(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
