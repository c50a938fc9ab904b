"""Libraries: `sample --n 1000000 --out DIR/` writes fixed-size parquet shards as it goes.

Shard k holds molecules k * shard_size ... and is decoded with its own seed, drawn from
(seed, k) by numpy's SeedSequence, so a shard's molecules depend only on the settings, the
seed and k: a run killed and resumed any number of times, or split over any number of
ranks (`torchrun --nproc_per_node N -m engine sample ...`, rank r takes the shards k with
k mod N = r), writes the same shards. A shard is written to a temporary file and renamed
(the rename is its commit), with its summary beside it; `--resume` skips the shards there
and refuses a folder made with other settings. `library.json` holds the plan (settings,
reward, checkpoint, n, shard size, seed); `manifest.json`, written at the end, lists the
shards with their counts and sums the summary: validity, mean reward, CPU seconds, and
alert rates over a seeded subset of at most ALERT_SAMPLE valid molecules (about 30 ms
each). Memory stays at
one shard, and the decoder works on MAX_ROWS rows at a time. `dedupe` drops molecules whose InChIKey an earlier shard (or row) already had,
writing `unique/shard-*.parquet` and the counts.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from engine.device import cpu_seconds
from engine.errors import UserError
from engine.sampling.sampler import SampleSettings, sample

SHARD_SIZE = 10_000
PLAN_FILE, MANIFEST_FILE, UNIQUE_DIR = "library.json", "manifest.json", "unique"
ALERT_SAMPLE = 2_000
# forward rows decoded at once: with the sampler's default of 8,192 a library run held
# 3.2 GB; with 1,024 (and the decoder handing freed heap back) a 10^6 library over two
# ranks peaks at 1.48 GB per process (BENCHMARKS.md, "Libraries")
MAX_ROWS = 1024


class LibraryError(UserError):
    """A library folder that cannot be written or resumed as asked."""


def shard_seed(seed: int, k: int) -> int:
    """The seed of shard k: independent streams for every (seed, k)."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1, np.uint32)[0])


def shard_name(k: int) -> str:
    return f"shard-{k:06d}.parquet"


@dataclass(frozen=True)
class LibraryPlan:
    """What a library folder holds: n molecules in shards of `shard_size`, decoded with
    `settings` (its seed is the library's seed) and `reward_toml` ("" for none)."""

    n: int
    shard_size: int
    settings: dict
    reward_toml: str
    checkpoint: str

    def __post_init__(self):
        for name in ("n", "shard_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LibraryError(f"{name} must be a positive integer, got {value!r}")

    @property
    def shards(self) -> int:
        return math.ceil(self.n / self.shard_size)

    def size(self, k: int) -> int:
        return min(self.shard_size, self.n - k * self.shard_size)

    def shard_settings(self, k: int) -> SampleSettings:
        s = SampleSettings(**self.settings)
        return replace(s, n=self.size(k), seed=shard_seed(s.seed, k))


def _atomic_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def open_plan(out: Path, plan: LibraryPlan, resume: bool, rank: int = 0) -> None:
    """Create `out` with its plan, or (resume) check that the plan there is the same.
    Raises LibraryError for a folder that holds something else."""
    if out.exists() and not out.is_dir():
        raise LibraryError(f"--out {out} is a file; give a folder for the shards (DIR/)")
    file = out / PLAN_FILE
    if file.is_file():
        stored = json.loads(file.read_text())
        if not resume:
            raise LibraryError(f"{out} already holds a library; add --resume to continue it, "
                               "or choose a new folder")
        wanted = json.loads(json.dumps(asdict(plan)))
        changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        if changed:
            detail = {k: (stored.get(k), wanted.get(k)) for k in changed if k != "settings"}
            if "settings" in changed:
                s1, s2 = stored.get("settings", {}), wanted["settings"]
                detail["settings"] = {k: (s1.get(k), s2.get(k)) for k in set(s1) | set(s2)
                                      if s1.get(k) != s2.get(k)}
            raise LibraryError(f"{out} was started with other settings ({detail}); resume "
                               "it with the same command, or choose a new folder")
        return
    if out.exists() and any(out.iterdir()) and not file.is_file():
        raise LibraryError(f"{out} exists and is not a library folder; choose a new folder")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        _atomic_json(file, asdict(plan))


def done_shards(out: Path) -> set[int]:
    return {int(p.stem.split("-")[1]) for p in out.glob("shard-*.parquet")}


def write_shards(ckpt, reward, plan: LibraryPlan, out: Path, rank: int = 0, world: int = 1,
                 progress=None) -> dict:
    """Decode and write this rank's missing shards; returns {"written": k list, "cpu_s"}.
    `progress(done, total)` counts this rank's molecules (all of them with one rank),
    starting from those of its shards already written, so the rate and the time left are
    this run's (ranks run alongside on equal shares)."""
    done = done_shards(out)
    ours = [k for k in range(plan.shards) if k % world == rank]
    total = sum(plan.size(k) for k in ours)
    finished = sum(plan.size(k) for k in ours if k in done)
    mine = [k for k in ours if k not in done]
    if progress:
        progress(finished, total)
    written, cpu0 = [], cpu_seconds()
    for k in mine:
        s = plan.shard_settings(k)
        base = finished
        step = (lambda d, t, b=base: progress(b + d, total)) if progress else None
        result = sample(ckpt, reward, s, progress=step)
        frame = result.molecules
        frame.insert(0, "library_index", np.arange(k * plan.shard_size,
                                                   k * plan.shard_size + len(frame)))
        summary = {key: result.summary.get(key) for key in
                   ("n", "mean_reward", "validity", "uniqueness", "cpu_s", "wall_time_s")}
        _atomic_json(out / f"shard-{k:06d}.json", summary)
        tmp = out / f".{shard_name(k)}.{os.getpid()}.tmp"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, out / shard_name(k))          # the shard's commit
        finished += len(frame)
        if progress:
            progress(finished, total)
        written.append(k)
    return {"written": written, "cpu_s": cpu_seconds() - cpu0}


def manifest(out: Path, plan: LibraryPlan) -> dict:
    """Summarize the finished shards into manifest.json (and return it). Raises
    LibraryError when shards are missing."""
    from engine.chem.alerts import alert_rates, with_alerts  # noqa: PLC0415

    missing = [k for k in range(plan.shards) if not (out / shard_name(k)).is_file()]
    if missing:
        raise LibraryError(f"{len(missing)} of {plan.shards} shards are not written yet "
                           f"(first: {shard_name(missing[0])}); run again with --resume")
    rows, valid, reward_sum, cpu = 0, 0, 0.0, 0.0
    shards = []
    rng = np.random.default_rng(0)
    per_shard = max(1, ALERT_SAMPLE // plan.shards)
    picked = []
    for k in range(plan.shards):
        frame = pd.read_parquet(out / shard_name(k), columns=[
            c for c in ("smiles", "valid", "reward")
            if c in pq.read_schema(out / shard_name(k)).names])
        info = json.loads((out / f"shard-{k:06d}.json").read_text())
        n_valid = int(frame["valid"].sum())
        rows += len(frame)
        valid += n_valid
        if "reward" in frame:
            reward_sum += float(frame["reward"].fillna(0).sum())
        cpu += info.get("cpu_s") or 0.0
        shards.append({"file": shard_name(k), "rows": len(frame), "valid": n_valid})
        ok = frame.loc[frame["valid"], "smiles"].to_numpy()
        if len(ok):
            picked += list(rng.choice(ok, size=min(per_shard, len(ok)), replace=False))
    rates = alert_rates(with_alerts(pd.DataFrame({"smiles": picked}))) if picked else {}
    data = {"n": rows, "valid": valid, "validity": valid / max(1, rows),
            "mean_reward": reward_sum / rows if plan.reward_toml and rows else None,
            "cpu_s": cpu, "shards": shards,
            "alert_rates": {"sample": len(picked), **rates}}
    previous = out / MANIFEST_FILE
    if previous.is_file():   # keep what dedupe added
        data.update({k: v for k, v in json.loads(previous.read_text()).items()
                     if k == "dedupe"})
    _atomic_json(previous, data)
    return data


def dedupe(out: Path, plan: LibraryPlan, progress=None) -> dict:
    """Drop molecules whose InChIKey an earlier row of the library already had (invalid
    ones are kept out too), shard by shard in order, into `unique/`; counts go into the
    manifest and are returned. Re-running rebuilds `unique/` from the shards."""
    from rdkit import Chem, RDLogger  # noqa: PLC0415

    RDLogger.DisableLog("rdApp.*")
    target = out / UNIQUE_DIR
    target.mkdir(exist_ok=True)
    seen: set[str] = set()
    kept = dropped = invalid = 0
    for k in range(plan.shards):
        frame = pd.read_parquet(out / shard_name(k))
        keys = []
        for smi, ok in zip(frame["smiles"], frame["valid"]):
            mol = Chem.MolFromSmiles(smi) if ok else None
            keys.append(Chem.MolToInchiKey(mol) if mol is not None else "")
        frame["inchikey"] = keys
        keep = np.zeros(len(frame), bool)
        for i, key in enumerate(keys):
            if key and key not in seen:
                seen.add(key)
                keep[i] = True
        invalid += int(sum(1 for key in keys if not key))
        dropped += int(sum(1 for key, kp in zip(keys, keep) if key and not kp))
        kept += int(keep.sum())
        tmp = target / f".{shard_name(k)}.tmp"
        frame[keep].to_parquet(tmp, index=False)
        os.replace(tmp, target / shard_name(k))
        if progress:
            progress(k + 1, plan.shards)
    counts = {"unique": kept, "duplicates_dropped": dropped, "invalid_dropped": invalid}
    file = out / MANIFEST_FILE
    data = json.loads(file.read_text()) if file.is_file() else {}
    data["dedupe"] = counts
    _atomic_json(file, data)
    return counts


def run_library(ckpt, reward, settings: SampleSettings, n: int, out: Path,
                shard_size: int = SHARD_SIZE, resume: bool = False, rank: int = 0,
                world: int = 1, progress=None, barrier=None) -> dict | None:
    """The whole library run for one rank; rank 0 writes the manifest after `barrier()`
    (torchrun) and returns it, other ranks return None."""
    plan = LibraryPlan(n=n, shard_size=shard_size,
                       settings={**asdict(settings), "n": shard_size,
                                 "max_rows": min(settings.max_rows, MAX_ROWS)},
                       reward_toml=reward.to_toml() if reward is not None else "",
                       checkpoint=str(ckpt.path))
    if rank == 0:
        open_plan(out, plan, resume, rank)
    before = len(done_shards(out))   # before any rank writes: they start after the barrier
    if barrier:
        barrier()
    if rank != 0:
        open_plan(out, plan, True, rank)
    t0 = time.perf_counter()
    write_shards(ckpt, reward, plan, out, rank, world, progress)
    if barrier:
        barrier()
    if rank != 0:
        return None
    data = manifest(out, plan)
    # every rank's shards: the manifest checked that all are there now
    data.update(wall_time_s=time.perf_counter() - t0, shards_written_now=plan.shards - before)
    return data
