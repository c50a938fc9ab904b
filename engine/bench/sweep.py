"""Choosing the guidance defaults: RCFG over advantage rule x gamma x plausibility.

`python -m engine.bench.sweep --stage coarse` runs the grid (rules z / relative, gamma
0.5 / 1 / 2 / 4, plausibility 0 / 0.02 / 0.05 / 0.1; grammar-safe decoding, K = 16) on a
spread of presets at about 200 molecules per cell. `--stage final --settings
relative:1:0.05 z:2:0.05 ...` runs the best few on all 24 presets at 500 or more. Every
cell records mean reward, its standard error, normalized score, validity and
uniqueness; the base model (same grammar, same n) is sampled once per seed and re-scored
per preset. Results are saved after every cell, and a re-run skips cells already measured
(`--out` holds them; other n / K / seeds start a new file only with a new `--out`).
"""
from __future__ import annotations

import argparse
import itertools
import json
import platform
import time
from pathlib import Path

import numpy as np

from engine.bench.stats import cell
from engine.chem.diversity import internal_diversity, scaffold_diversity
from engine.chem.rewards import list_presets, load_reward
from engine.chem.scoring import rescore
from engine.model.checkpoint import load_checkpoint
from engine.sampling.sampler import SampleSettings, reward_ceiling, sample

ROOT = Path(__file__).resolve().parents[2]
COARSE_PRESETS = ("cns_penetrant", "ghose", "veber", "3d_complex", "antibacterial_like",
                  "kinase_inhibitor_like")


def setting_key(rule: str, gamma: float, alpha: float) -> str:
    return f"{rule}:{gamma:g}:{alpha:g}"


def parse_setting(key: str) -> tuple[str, float, float]:
    """`rule:gamma:alpha` -> (rule, gamma, alpha); raises ValueError on a malformed key."""
    rule, gamma, alpha = key.split(":")
    return rule, float(gamma), float(alpha)


def diversity(frame) -> dict:
    """IntDiv1 and scaffold diversity of a sample's valid molecules."""
    valid = frame.loc[frame["valid"].to_numpy(bool), "smiles"].tolist()
    return {"intdiv1": internal_diversity(valid), "scaffold_diversity": scaffold_diversity(valid)}


def summarize(results: dict, settings: list[str]) -> list[dict]:
    """Per setting, over the presets where it was measured (all seeds pooled per preset):
    mean normalized score, wins over base, losses beyond one standard error, validity."""
    rows = []
    for key in settings:
        cells = [c[key] for p in results["presets"].values() for c in [p.get("cells", {})]
                 if key in c]
        if not cells:
            continue
        scores = [c["normalized_score"] for c in cells]
        rows.append({"setting": key, "presets": len(cells),
                     "mean_normalized": float(np.mean(scores)),
                     "wins": sum(c["delta_over_se"] > 0 for c in cells),
                     "losses_beyond_1se": sum(c["delta_over_se"] < -1 for c in cells),
                     "mean_validity": float(np.mean([c["validity"] for c in cells])),
                     "min_validity": float(min(c["validity"] for c in cells)),
                     "min_uniqueness": float(min(c["uniqueness"] for c in cells))})
    return sorted(rows, key=lambda r: -r["mean_normalized"])


def markdown(rows: list[dict]) -> str:
    head = ("| setting (rule:gamma:alpha) | presets | mean normalized | beats base | below "
            "base by > 1 SE | validity mean / min | uniqueness min |\n|---|---|---|---|---|"
            "---|---|\n")
    return head + "\n".join(
        f"| {r['setting']} | {r['presets']} | {r['mean_normalized']:+.3f} | {r['wins']} | "
        f"{r['losses_beyond_1se']} | {r['mean_validity']:.3f} / {r['min_validity']:.3f} | "
        f"{r['min_uniqueness']:.3f} |" for r in rows) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", choices=("coarse", "final"), default="coarse")
    parser.add_argument("--presets", nargs="*",
                        help="preset keys or reward TOML files (default: a spread of 6 for "
                             "coarse, all 24 for final)")
    parser.add_argument("--settings", nargs="*", help="rule:gamma:alpha (default: the grid)")
    parser.add_argument("--rules", nargs="*", default=["z", "relative"])
    parser.add_argument("--gammas", type=float, nargs="*", default=[0.5, 1.0, 2.0, 4.0])
    parser.add_argument("--alphas", type=float, nargs="*", default=[0.0, 0.02, 0.05, 0.1])
    parser.add_argument("--n", type=int, help="molecules per cell (200 coarse, 500 final)")
    parser.add_argument("--ys", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-grammar", action="store_true", help="measure without the mask")
    parser.add_argument("--diversity", action="store_true",
                        help="also record IntDiv1 and scaffold diversity of every cell")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--out", type=Path, help="results JSON (default: "
                        "bench_results/sweep_<stage>.json)")
    args = parser.parse_args(argv)
    n = args.n or (200 if args.stage == "coarse" else 500)
    out = args.out or ROOT / "bench_results" / f"sweep_{args.stage}.json"
    settings = args.settings or [setting_key(r, g, a) for r, g, a in
                                 itertools.product(args.rules, args.gammas, args.alphas)]
    for key in settings:
        parse_setting(key)
    if args.presets:
        rewards = [load_reward(p) for p in args.presets]
    else:
        rewards = [p for p in list_presets()
                   if args.stage == "final" or p.key in COARSE_PRESETS]
    ckpt = load_checkpoint(args.checkpoint)
    grammar = not args.no_grammar
    results = json.loads(out.read_text()) if out.is_file() else {}
    header = {"n": n, "ys": args.ys, "seed": args.seed, "grammar": grammar,
              **({"diversity": True} if args.diversity else {})}
    if results.get("header") != header:
        results = {"header": header, "presets": {}}
    results.update(machine=f"{platform.machine()} {platform.processor()}".strip(),
                   date=time.strftime("%Y-%m-%d"), checkpoint=str(ckpt.path))
    out.parent.mkdir(parents=True, exist_ok=True)
    base_frame = None
    for reward in rewards:
        row = results["presets"].setdefault(reward.key, {"cells": {}})
        todo = [k for k in settings if k not in row["cells"]]
        if not todo:
            continue
        if base_frame is None:
            base_frame = sample(ckpt, reward, SampleSettings(
                method="base", n=n, seed=args.seed + 1, grammar=grammar,
                device=args.device)).molecules
        base = rescore(base_frame, reward)
        r_star = reward_ceiling(ckpt, reward)
        row["r_star"] = r_star
        row["base"] = cell(base["reward"].to_numpy(), base["valid"].to_numpy(bool),
                           base["smiles"], None, r_star)
        if args.diversity:
            row["base"].update(diversity(base))
        for key in todo:
            rule, gamma, alpha = parse_setting(key)
            t0 = time.perf_counter()
            res = sample(ckpt, reward, SampleSettings(
                method="rcfg", ys=args.ys, gamma=gamma, advantage=rule, plausibility=alpha,
                n=n, seed=args.seed, grammar=grammar, device=args.device))
            m = res.molecules
            row["cells"][key] = cell(m["reward"].to_numpy(), m["valid"].to_numpy(bool),
                                     m["smiles"], row["base"], r_star)
            row["cells"][key]["wall_time_s"] = time.perf_counter() - t0
            if args.diversity:
                row["cells"][key].update(diversity(m))
            out.write_text(json.dumps(results, indent=1))
            c = row["cells"][key]
            print(f"{reward.key} {key}: {c['mean_reward']:.3f} +- {c['se']:.3f} (base "
                  f"{row['base']['mean_reward']:.3f}), normalized {c['normalized_score']:+.2f}, "
                  f"valid {c['validity']:.3f} ({c['wall_time_s']:.0f} s)", flush=True)
    print(markdown(summarize(results, settings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
