"""Model quality: MOSES-style validity / uniqueness / novelty, condition fidelity and the
MOSES distribution metrics.

`python -m engine.bench.quality --checkpoint DIR` samples 10,000 unconditional molecules at
temperature 1 with the bare decoder (top-p 1, and again with the sampler's default top-p
0.95) and 1,000 molecules conditioned on MOSES test vectors (top-p 1). The "distribution"
section samples through the engine's `sample` (grammar mask on): 10,000 base molecules at
top-p 1, then `--rcfg-n` molecules of default RCFG on `--reward` and as many base molecules
at the same defaults (top-p 0.95), and gives each set's validity, unique@10k, novelty,
IntDiv1, scaffold diversity and FCD to MOSES test. The figures are printed and merged into
the checkpoint's config.json under "quality" (parts skipped keep their recorded figures).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from engine.chem.diversity import (
    fcd_statistics,
    frechet_chemnet_distance,
    internal_diversity,
    scaffold_diversity,
)
from engine.chem.properties import PROPERTY_NAMES, batch_properties
from engine.chem.rewards import load_reward
from engine.device import pick_device
from engine.model.checkpoint import load_checkpoint, update_meta
from engine.sampling.decoder import DecodePlan, decode
from engine.sampling.methods import DEFAULT_YS, MODEL_DISTRIBUTION
from engine.sampling.sampler import SETTING_COLUMNS, SampleSettings, sample
from engine.train.data import read_moses

UNIQUE_AT = 10_000


def _decode_smiles(ckpt, plan: DecodePlan, seed: int, chunk: int, device,
                   top_p: float = 1.0) -> list[str]:
    gen = torch.Generator(device=device).manual_seed(seed)
    tok, out = ckpt.tokenizer, []
    for start in range(0, plan.values.shape[0], chunk):
        sub = replace(plan, values=plan.values[start:start + chunk],
                      mask=plan.mask[start:start + chunk],
                      decoding=replace(plan.decoding, top_p=top_p))
        seqs = decode(ckpt.model, sub, tok.bos_id, tok.eos_id, ckpt.model.cfg.block_size - 2,
                      gen).sequences
        out += [tok.decode(s) for s in seqs]
    return out


def moses_train_canonical(cache_dir: Path) -> set[str]:
    """Canonical SMILES of MOSES train (computed once, cached as parquet)."""
    cache = Path(cache_dir) / "moses_train_canonical.parquet"
    if cache.is_file():
        return set(pd.read_parquet(cache)["smiles"])
    from engine.train.data import canonicalize_all  # noqa: PLC0415

    smiles = canonicalize_all(read_moses("train", cache_dir))
    pd.DataFrame({"smiles": sorted(smiles)}).to_parquet(cache, index=False)
    return smiles


def moses_test_fcd_reference(cache_dir: Path, device: str = "cpu", n: int | None = None
                             ) -> dict[str, np.ndarray]:
    """ChemNet statistics (`fcd_statistics`) of MOSES test, or of `n` of its molecules drawn
    at random with seed 0; computed once and cached as npz, read back without pickle. All
    176,074 molecules take about 20 CPU-minutes."""
    name = "moses_test_fcd_stats" + ("" if n is None else f"_{n}")
    cache = Path(cache_dir) / f"{name}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    test = read_moses("test", cache_dir)
    if n is not None and n < len(test):
        test = [test[i] for i in np.random.default_rng(0).choice(len(test), n, replace=False)]
    stats = fcd_statistics(test, device)
    np.savez(cache.with_suffix(".tmp.npz"), **stats)
    cache.with_suffix(".tmp.npz").replace(cache)
    return stats


def distribution_metrics(frame: pd.DataFrame, train_set: set[str],
                         reference: dict[str, np.ndarray], device: str = "cpu") -> dict:
    """MOSES distribution metrics of a `sample` table (canonical `smiles`, `valid`).

    unique@10k is over the first 10,000 valid molecules (all of them when fewer, `unique_k`
    says how many); novelty is over the unique valid ones; IntDiv1, scaffold diversity and
    the FCD to `reference` are over all valid ones, duplicates included. A metric that is
    undefined (too few valid molecules) is None."""
    valid = frame.loc[frame["valid"].to_numpy(bool), "smiles"].tolist()
    first, unique = valid[:UNIQUE_AT], set(valid)
    return {"n": len(frame), "validity": len(valid) / max(1, len(frame)),
            "unique_k": len(first), "unique": len(set(first)) / max(1, len(first)),
            "novelty": len(unique - train_set) / max(1, len(unique)),
            "intdiv1": internal_diversity(valid), "scaffold_diversity": scaffold_diversity(valid),
            "fcd_test": frechet_chemnet_distance(fcd_statistics(valid, device), reference)}


def distribution(ckpt, reward, runs: dict[str, SampleSettings], train_set: set[str],
                 reference: dict[str, np.ndarray], device: str = "cpu") -> dict:
    """`distribution_metrics` of each named run of `sample`, with the reward's key, the mean
    reward, sampling time, settings and the size of the FCD reference."""
    out = {}
    for name, settings in runs.items():
        t0 = time.perf_counter()
        result = sample(ckpt, reward, settings)
        out[name] = {**distribution_metrics(result.molecules, train_set, reference, device),
                     "reward": reward.key, "mean_reward": result.summary["mean_reward"],
                     "sample_s": result.summary["wall_time_s"],
                     "total_s": time.perf_counter() - t0,
                     "fcd_reference_n": int(reference["n"]),
                     **{col: getattr(settings, col) for col in SETTING_COLUMNS}}
        print(f"distribution {name}: {json.dumps(out[name])}", flush=True)
    return out


def unconditional_quality(ckpt, n: int, seed: int, train_set: set[str], device,
                          top_p: float = 1.0, chunk: int = 2048) -> dict:
    P = len(PROPERTY_NAMES)
    plan = DecodePlan("none", torch.zeros((n, 1, P), device=device),
                      torch.zeros((n, 1, P), dtype=torch.bool, device=device),
                      MODEL_DISTRIBUTION)
    t0 = time.perf_counter()
    smiles = _decode_smiles(ckpt, plan, seed, chunk, device, top_p)
    wall = time.perf_counter() - t0
    props = batch_properties(smiles, canonical=True)
    valid = props[props["valid"]]
    unique = set(valid["canonical_smiles"])
    return {"n": n, "validity": len(valid) / n, "unique": len(unique) / max(1, len(valid)),
            "novelty": len(unique - train_set) / max(1, len(unique)),
            "sampling_s": wall, "temperature": 1.0, "top_p": top_p, "seed": seed}


def condition_fidelity(ckpt, targets: pd.DataFrame, seed: int, device, chunk: int = 1000
                       ) -> dict:
    """Spearman correlation between target and generated value, per property."""
    raw = targets[list(PROPERTY_NAMES)].to_numpy(np.float64)
    values = torch.as_tensor(ckpt.normalize(raw), dtype=torch.float32, device=device)[:, None]
    mask = torch.ones_like(values, dtype=torch.bool)
    smiles = _decode_smiles(ckpt, DecodePlan("none", values, mask, MODEL_DISTRIBUTION), seed, chunk, device)
    got = batch_properties(smiles)
    ok = got["valid"].to_numpy(bool)
    rho = {}
    for j, name in enumerate(PROPERTY_NAMES):
        r = spearmanr(raw[ok, j], got.loc[ok, name]).statistic
        rho[name] = None if np.isnan(r) else float(r)
    return {"n_targets": len(targets), "validity": float(ok.mean()), "spearman": rho}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--n", type=int, default=10000,
                        help="unconditional molecules per top-p, and base ones at top-p 1 in "
                             "the distribution section")
    parser.add_argument("--n-targets", type=int, default=1000)
    parser.add_argument("--rcfg-n", type=int, default=2000,
                        help=f"RCFG molecules ({1 + DEFAULT_YS} forward rows each), and as "
                             "many base ones")
    parser.add_argument("--reward", default="drug_like", help="preset key or .toml file")
    parser.add_argument("--fcd-ref-n", type=int, default=None,
                        help="FCD reference: this many MOSES test molecules (default all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path.home() / ".cache" / "rcfg-studio" / "moses")
    for part in ("unconditional", "fidelity", "distribution", "rcfg"):
        parser.add_argument(f"--skip-{part}", action="store_true",
                            help=f"leave out the {part} part" + (
                                " of the distribution section" if part == "rcfg" else ""))
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, device=device)
    reward = None if args.skip_distribution else load_reward(args.reward)
    needs_train = not (args.skip_unconditional and args.skip_distribution)
    train_set = moses_train_canonical(args.cache_dir) if needs_train else set()
    reference = (None if reward is None
                 else moses_test_fcd_reference(args.cache_dir, str(device), args.fcd_ref_n))
    quality = {}
    if not args.skip_unconditional:
        quality["unconditional"] = unconditional_quality(ckpt, args.n, args.seed, train_set,
                                                         device)
        quality["unconditional_top_p_0.95"] = unconditional_quality(ckpt, args.n, args.seed,
                                                                    train_set, device, 0.95)
    if not args.skip_fidelity:
        test = read_moses("test", args.cache_dir)
        pick = np.random.default_rng(args.seed).choice(len(test), args.n_targets, replace=False)
        targets = batch_properties([test[i] for i in pick])
        quality["fidelity"] = condition_fidelity(ckpt, targets[targets["valid"]], args.seed,
                                                 device)
    if reward is not None:
        common = dict(seed=args.seed, device=str(device))
        runs = {"base_top_p_1": SampleSettings(method="base", n=args.n, top_p=1.0, **common)}
        if not args.skip_rcfg:
            runs["base"] = SampleSettings(method="base", n=args.rcfg_n, **common)
            runs["rcfg"] = SampleSettings(method="rcfg", n=args.rcfg_n, **common)
        quality["distribution"] = {
            **ckpt.meta.get("quality", {}).get("distribution", {}),
            **distribution(ckpt, reward, runs, train_set, reference, str(device))}
    quality.update(measured=time.strftime("%Y-%m-%d"), device=str(device))
    update_meta(ckpt.path, quality={**ckpt.meta.get("quality", {}), **quality})
    print(json.dumps(quality, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
