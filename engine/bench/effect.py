"""Does guidance raise the reward? Mean reward and normalized score per preset and method.

`python -m engine.bench.effect --n 500` runs, for every preset: `base`, `conditional`,
`rcfg` at K = 2, 8, 16, 64 (gamma = 2), `qtilt` at K = 16 and `best_of_n` at N = 17, each
with n output molecules, and writes `bench_results/effect.json` plus the markdown table
into BENCHMARKS.md. The base samples (and the 17 x n base molecules best-of-N picks from)
do not depend on the reward, so they are drawn once and re-scored per preset.
Results are saved after every preset, and a re-run skips presets already measured.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from engine.chem.rewards import list_presets
from engine.model.checkpoint import load_checkpoint
from engine.sampling.sampler import (SampleSettings, bank_rewards, best_of_groups, rescore,
                                     sample, summarize)

RCFG_KS = (2, 8, 16, 64)
ROOT = Path(__file__).resolve().parents[2]


def _cell(frame, bank, r_star, base_mean):
    s = summarize(frame, bank, r_star, base_mean)
    return {k: s[k] for k in ("mean_reward", "normalized_score", "validity", "uniqueness",
                              "novelty")}


def run_preset(ckpt, reward, n: int, seed: int, base_frame, pool_frame, device,
               n_k64: int | None = None) -> dict:
    bank = set(ckpt.bank["smiles"])
    base = rescore(base_frame, reward)
    base_mean = float(base["reward"].mean())
    r_star = float(bank_rewards(ckpt, reward).max())
    row = {"base": _cell(base, bank, r_star, base_mean), "r_star": r_star}
    runs = [("conditional", SampleSettings(method="conditional", n=n, seed=seed, device=device))]
    runs += [(f"rcfg_k{k}", SampleSettings(method="rcfg", ys=k, gamma=2.0,
                                           n=n_k64 or n if k == 64 else n, seed=seed,
                                           device=device)) for k in RCFG_KS]
    runs += [("qtilt_k16", SampleSettings(method="qtilt", ys=16, gamma=2.0, n=n, seed=seed,
                                          device=device))]
    for name, settings in runs:
        result = sample(ckpt, reward, settings, base_mean_reward=base_mean)
        row[name] = _cell(result.molecules, bank, r_star, base_mean)
        row[name]["wall_time_s"] = result.summary["wall_time_s"]
        row[name]["n"] = settings.n
    bon = best_of_groups(rescore(pool_frame, reward), 17)
    row["best_of_n17"] = _cell(bon, bank, r_star, base_mean)
    return row


def markdown(results: dict, n: int) -> str:
    cols = ["conditional", *[f"rcfg_k{k}" for k in RCFG_KS], "qtilt_k16", "best_of_n17"]
    head = ("| preset | base r | r(y*) | " + " | ".join(cols) + " |\n|"
            + "---|" * (3 + len(cols)) + "\n")
    lines = []
    for key, row in results["presets"].items():
        cells = [f"{row[c]['mean_reward']:.3f} / {row[c]['normalized_score']:+.2f}" for c in cols]
        flag = " (out of support)" if row.get("out_of_support") else ""
        lines.append(f"| {key}{flag} | {row['base']['mean_reward']:.3f} | {row['r_star']:.3f} | "
                     + " | ".join(cells) + " |")
    rows = results["presets"].values()
    mean_scores = {c: np.mean([r[c]["normalized_score"] for r in rows]) for c in cols}
    wins = sum(r["rcfg_k16"]["mean_reward"] > r["base"]["mean_reward"] for r in rows)
    q_better = sum(r["qtilt_k16"]["mean_reward"] > r["rcfg_k16"]["mean_reward"] for r in rows)
    bon_better = sum(r["best_of_n17"]["mean_reward"] > r["rcfg_k16"]["mean_reward"] for r in rows)
    val = min(r["rcfg_k16"]["validity"] for r in rows)
    uniq = min(r["rcfg_k16"]["uniqueness"] for r in rows)
    k64 = results.get("n_k64") or n
    summary = (f"\nCells: mean reward / normalized score, {n} molecules each"
               + (f" ({k64} for RCFG K=64)" if k64 != n else "") + ". "
               f"Mean normalized score: " + ", ".join(f"{c} {v:+.3f}" for c, v in
                                                     mean_scores.items())
               + f".\nRCFG K=16 beats base on {wins} of {len(results['presets'])} presets; "
               f"Q-tilt K=16 beats RCFG K=16 on {q_better}; best-of-17 beats RCFG K=16 on "
               f"{bon_better}. Lowest validity / uniqueness under RCFG K=16 (gamma 2): "
               f"{val:.3f} / {uniq:.3f}.\n")
    return head + "\n".join(lines) + "\n" + summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-k64", type=int, help="molecules for RCFG K=64 (default: --n)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--presets", nargs="*", help="preset keys (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results" / "effect.json")
    args = parser.parse_args(argv)
    ckpt = load_checkpoint(args.checkpoint)
    presets = [p for p in list_presets() if not args.presets or p.key in args.presets]
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if (results.get("n"), results.get("seed"), results.get("n_k64")) != (args.n, args.seed,
                                                                        args.n_k64):
        results = {"n": args.n, "seed": args.seed, "n_k64": args.n_k64, "presets": {}}
    results.update(machine=f"{platform.machine()} {platform.processor()}".strip(),
                   date=time.strftime("%Y-%m-%d"), checkpoint=str(ckpt.path))
    neutral = presets[0]
    base = sample(ckpt, neutral, SampleSettings(method="base", n=args.n, seed=args.seed + 1,
                                                device=args.device)).molecules
    pool = sample(ckpt, neutral, SampleSettings(method="base", n=17 * args.n,
                                                seed=args.seed + 2, device=args.device)).molecules
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for reward in presets:
        if reward.key in results["presets"]:
            continue
        t0 = time.perf_counter()
        row = run_preset(ckpt, reward, args.n, args.seed, base, pool, args.device, args.n_k64)
        row["out_of_support"] = reward.out_of_support
        results["presets"][reward.key] = row
        args.out.write_text(json.dumps(results, indent=1))
        print(f"{reward.key}: base {row['base']['mean_reward']:.3f}, rcfg K16 "
              f"{row['rcfg_k16']['mean_reward']:.3f} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    print(markdown(results, args.n))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
