"""Does guidance raise the reward? The paper's table on our model, with standard errors.

`python -m engine.bench.effect --n 500` runs, for every preset, with the sampler's
defaults (engine/sampling/methods.py): `base`, `conditional` (on y*), RCFG at
|Y_S| = 2, 4, 8, 16, 32, 64, Q-tilt at 16, and best-of-N at the same forward rows as RCFG
16 and 64 (N = 17 and 65). Every cell holds mean reward with its standard error,
normalized score with the standard error of its difference to base, validity, the mean
over valid molecules and uniqueness. The base molecules, and the 65 x n base molecules
best-of-N picks from, do not depend on the reward: they are sampled once and re-scored
per preset (best-of-17 uses the first 17 of each group of 65). Results go to
`bench_results/effect.json` after every preset, a re-run skips presets already measured,
and `--plot docs/effect.png` draws mean normalized score against forward rows per molecule.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from engine.bench.cost import pick
from engine.bench.stats import cell
from engine.chem.rewards import list_presets, load_reward
from engine.chem.scoring import rescore
from engine.model.checkpoint import load_checkpoint
from engine.sampling.sampler import SampleSettings, reward_ceiling, sample

RCFG_KS = (2, 4, 8, 16, 32, 64)
BON_NS = (17, 65)
ROOT = Path(__file__).resolve().parents[2]
# column -> (method settings, forward rows per output molecule)
COLUMNS = {"conditional": (dict(method="conditional"), 1),
           **{f"rcfg_k{k}": (dict(method="rcfg", ys=k), 1 + k) for k in RCFG_KS},
           "qtilt_k16": (dict(method="qtilt", ys=16), 17),
           **{f"best_of_n{n}": (None, n) for n in BON_NS}}


def _cell(frame, base, r_star):
    return cell(frame["reward"].to_numpy(), frame["valid"].to_numpy(bool), frame["smiles"],
                base, r_star)


def best_of(pool_frame, reward, n_out: int, group: int, pool_group: int):
    """Best-of-`group` from the first `group` molecules of each block of `pool_group`."""
    return pick(rescore(pool_frame, reward).reset_index(drop=True), n_out, pool_group, group)


def run_preset(ckpt, reward, n: int, seed: int, base_frame, pool_frame, device,
               columns=tuple(COLUMNS)) -> dict:
    base = rescore(base_frame, reward)
    r_star = reward_ceiling(ckpt, reward)
    row = {"r_star": r_star, "base": _cell(base, None, r_star)}
    for name in columns:
        settings, rows = COLUMNS[name]
        t0 = time.perf_counter()
        if settings is None:
            frame = best_of(pool_frame, reward, n, rows, max(BON_NS))
        else:
            frame = sample(ckpt, reward, SampleSettings(**settings, n=n, seed=seed,
                                                        device=device)).molecules
        row[name] = {**_cell(frame, row["base"], r_star), "rows_per_molecule": rows,
                     "wall_time_s": time.perf_counter() - t0}
    return row


def markdown(results: dict) -> str:
    presets = results["presets"]
    cols = [c for c in COLUMNS if all(c in row for row in presets.values())]
    head = ("| preset | base r | r(y*) | " + " | ".join(cols) + " |\n|"
            + "---|" * (3 + len(cols)) + "\n")
    lines = []
    for key, row in presets.items():
        cells = [f"{row[c]['normalized_score']:+.2f} ± {row[c]['normalized_se']:.2f} "
                 f"({row[c]['validity']:.2f})" for c in cols]
        flag = " (out of support)" if row.get("out_of_support") else ""
        lines.append(f"| {key}{flag} | {row['base']['mean_reward']:.3f} ± "
                     f"{row['base']['se']:.3f} | {row['r_star']:.3f} | " + " | ".join(cells)
                     + " |")
    rows = list(presets.values())
    mean_scores = {c: np.mean([r[c]["normalized_score"] for r in rows]) for c in cols}
    out = head + "\n".join(lines) + "\n\nCells: normalized score ± its standard error " \
        "(validity). Mean normalized score: " + ", ".join(
            f"{c} {v:+.3f}" for c, v in mean_scores.items()) + ".\n"
    if "rcfg_k16" in cols:
        k16 = [r["rcfg_k16"] for r in rows]
        out += (f"RCFG K=16 beats base on {sum(c['delta_over_se'] > 0 for c in k16)} of "
                f"{len(rows)} presets, below base by more than one standard error on "
                f"{sum(c['delta_over_se'] < -1 for c in k16)}; validity mean "
                f"{np.mean([c['validity'] for c in k16]):.3f}, lowest "
                f"{min(c['validity'] for c in k16):.3f}; uniqueness lowest "
                f"{min(c['uniqueness'] for c in k16):.3f}.\n")
    return out


def plot(results: dict, path: Path) -> None:
    """Mean normalized score over the presets against forward rows per molecule."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = list(results["presets"].values())
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    families = {"RCFG": [f"rcfg_k{k}" for k in RCFG_KS], "best-of-N": [
        f"best_of_n{n}" for n in BON_NS], "Q-tilt": ["qtilt_k16"],
        "conditional on y*": ["conditional"]}
    for label, cols in families.items():
        cols = [c for c in cols if all(c in r for r in rows)]
        if not cols:
            continue
        x = [rows[0][c]["rows_per_molecule"] for c in cols]
        y = [np.mean([r[c]["normalized_score"] for r in rows]) for c in cols]
        se = [np.sqrt(np.sum([r[c]["normalized_se"] ** 2 for r in rows])) / len(rows)
              for c in cols]
        ax.errorbar(x, y, yerr=se, marker="o", capsize=3, label=label)
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("forward rows per output molecule")
    ax.set_ylabel(f"mean normalized score ({len(rows)} presets)")
    ax.set_title(f"Guidance on the shipped model, {results['n']} molecules per cell")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--presets", nargs="*", help="preset keys or TOML files (default: all)")
    parser.add_argument("--columns", nargs="*", choices=tuple(COLUMNS),
                        help="methods to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results" / "effect.json")
    parser.add_argument("--plot", type=Path, help="write the rows-vs-score plot here (PNG)")
    args = parser.parse_args(argv)
    ckpt = load_checkpoint(args.checkpoint)
    rewards = ([load_reward(p) for p in args.presets] if args.presets else list_presets())
    columns = tuple(args.columns or COLUMNS)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if (results.get("n"), results.get("seed")) != (args.n, args.seed):
        results = {"n": args.n, "seed": args.seed, "presets": {}}
    results.update(machine=f"{platform.machine()} {platform.processor()}".strip(),
                   date=time.strftime("%Y-%m-%d"), checkpoint=str(ckpt.path),
                   settings={k: v for k, v in vars(SampleSettings()).items()
                             if k not in ("method", "n", "ys", "device", "target")})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    todo = [r for r in rewards if r.key not in results["presets"]]
    if todo:
        neutral = todo[0]
        base = sample(ckpt, neutral, SampleSettings(method="base", n=args.n,
                                                    seed=args.seed + 1,
                                                    device=args.device)).molecules
        pool = None
        if any(c.startswith("best_of_n") for c in columns):
            pool = sample(ckpt, neutral, SampleSettings(
                method="base", n=max(BON_NS) * args.n, seed=args.seed + 2,
                device=args.device)).molecules
    for reward in todo:
        t0 = time.perf_counter()
        row = run_preset(ckpt, reward, args.n, args.seed, base, pool, args.device, columns)
        row["out_of_support"] = reward.out_of_support
        results["presets"][reward.key] = row
        args.out.write_text(json.dumps(results, indent=1))
        k16 = row.get("rcfg_k16", {}).get("mean_reward")
        print(f"{reward.key}: base {row['base']['mean_reward']:.3f}"
              + (f", rcfg K16 {k16:.3f}" if k16 is not None else "")
              + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(markdown(results))
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
