"""Model quality: MOSES-style validity / uniqueness / novelty and condition fidelity.

`python -m engine.bench.quality --checkpoint DIR` samples 10,000 unconditional molecules at
temperature 1 (top-p 1, and again with the sampler's default top-p 0.95) and 1,000
molecules conditioned on MOSES test vectors (top-p 1), then writes the figures into the
checkpoint's config.json under "quality".
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

from engine.chem.properties import PROPERTY_NAMES, batch_properties
from engine.model.checkpoint import load_checkpoint, update_meta
from engine.sampling.decoder import DecodePlan, decode
from engine.train.data import read_moses
from engine.train.pretrain import pick_device


def _decode_smiles(ckpt, plan: DecodePlan, seed: int, chunk: int, device,
                   top_p: float = 1.0) -> list[str]:
    gen = torch.Generator(device=device).manual_seed(seed)
    tok, out = ckpt.tokenizer, []
    for start in range(0, plan.values.shape[0], chunk):
        sub = replace(plan, values=plan.values[start:start + chunk],
                      mask=plan.mask[start:start + chunk], top_p=top_p)
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


def unconditional_quality(ckpt, n: int, seed: int, train_set: set[str], device,
                          top_p: float = 1.0, chunk: int = 2048) -> dict:
    P = len(PROPERTY_NAMES)
    plan = DecodePlan("base", torch.zeros((n, 1, P), device=device),
                      torch.zeros((n, 1, P), dtype=torch.bool, device=device))
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
    smiles = _decode_smiles(ckpt, DecodePlan("conditional", values, mask), seed, chunk, device)
    got = batch_properties(smiles)
    ok = got["valid"].to_numpy(bool)
    rho = {}
    for j, name in enumerate(PROPERTY_NAMES):
        r = spearmanr(raw[ok, j], got.loc[ok, name]).statistic
        rho[name] = None if np.isnan(r) else float(r)
    return {"n_targets": len(targets), "validity": float(ok.mean()), "spearman": rho}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--n-targets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path.home() / ".cache" / "rcfg-studio" / "moses")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, device=device)
    test = read_moses("test", args.cache_dir)
    pick = np.random.default_rng(args.seed).choice(len(test), args.n_targets, replace=False)
    targets = batch_properties([test[i] for i in pick])
    targets = targets[targets["valid"]]
    train_set = moses_train_canonical(args.cache_dir)
    quality = {"unconditional": unconditional_quality(ckpt, args.n, args.seed, train_set, device),
               "unconditional_top_p_0.95": unconditional_quality(ckpt, args.n, args.seed,
                                                                 train_set, device, 0.95),
               "fidelity": condition_fidelity(ckpt, targets, args.seed, device),
               "measured": time.strftime("%Y-%m-%d"), "device": str(device)}
    update_meta(ckpt.path, quality=quality)
    print(json.dumps(quality, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
