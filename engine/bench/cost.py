"""Guidance at matched cost: every method family placed on the best-of-N curve.

`python -m engine.bench.cost --n 500` measures, for every preset: best-of-N for N = 1..65
as a curve (mean reward, normalized score, unique good scaffolds: distinct Bemis-Murcko
scaffolds among molecules with reward >= 0.8), and each method family with M = 1, 2, 4, 8
candidates per molecule, placed on that curve at matched CPU time and at matched forward
rows. The question a chemist asks: for the same CPU, does the method give better molecules
than drawing N from the base model and keeping the best?

How the cost is counted (one torch thread, `--threads`): CPU seconds of decoding
(measured per decoded molecule of each family, by the sampler's own clock) plus scoring
(measured per candidate with only the reward's properties, and per kept molecule with all
25). A cell with M candidates costs M decodes + M candidate scorings (none for M = 1) +
one full scoring per output molecule; best-of-N is the base model with N candidates and is
costed the same way. The base pool (n x 65 base molecules) does not depend on the reward:
it is decoded once and re-scored per preset; best-of-N uses the first N of each block of
65. A family is sampled once with its largest M; smaller M use the first M candidates of
each group, which are independent draws. Results go to `--out` after every preset and a
re-run skips what is there; `--plot` draws mean normalized score against CPU ms per
molecule.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from engine.chem.diversity import internal_diversity, murcko_scaffold
from engine.chem.rewards import list_presets, load_reward
from engine.chem.scoring import rescore, score_candidates, score_molecules, select_candidates
from engine.device import cpu_seconds
from engine.model.checkpoint import load_checkpoint
from engine.sampling.sampler import SampleSettings, reward_ceiling, sample

ROOT = Path(__file__).resolve().parents[2]
BON_MAX = 65
M_VALUES = (1, 2, 4, 8)
GOOD = 0.8   # a "good" molecule for the scaffold count
# the cells reported preset by preset: the default method's, and RCFG's at K = 16
DEFAULT_CELLS = {("tilted_g16", 4), ("tilted_g32", 4), ("rcfg_k16", 1)}
# family -> (settings, largest M measured): RCFG and Q-tilt cost 17 rows per candidate
FAMILIES = {
    "tilted_g8": (dict(method="tilted", gamma=8.0), 8),
    "tilted_g16": (dict(method="tilted", gamma=16.0), 8),
    "tilted_g32": (dict(method="tilted", gamma=32.0), 8),
    "tilted_g64": (dict(method="tilted", gamma=64.0), 8),
    "conditional": (dict(method="conditional"), 8),
    "rcfg_k16": (dict(method="rcfg", ys=16), 2),
    "qtilt_k16": (dict(method="qtilt", ys=16), 1),
}


class Scaffolds:
    """Murcko scaffolds by SMILES, each computed once for the whole benchmark."""

    def __init__(self):
        self.cache: dict[str, str | None] = {}

    def good(self, frame: pd.DataFrame) -> int:
        """Distinct scaffolds among valid molecules with reward >= GOOD (acyclic: none)."""
        keep = frame.loc[frame["valid"].astype(bool) & (frame["reward"] >= GOOD), "smiles"]
        out = set()
        for smi in keep:
            if smi not in self.cache:
                self.cache[smi] = murcko_scaffold(smi)
            if self.cache[smi]:
                out.add(self.cache[smi])
        return len(out)


def metrics(kept: pd.DataFrame, base: dict | None, r_star: float, scaffolds: Scaffolds,
            cost_ms: float, rows: int, diversity: bool = False) -> dict:
    """One cell: mean reward and its SE, normalized score (and the SE of its difference to
    base), validity, uniqueness, good scaffolds, cost."""
    r = np.nan_to_num(kept["reward"].to_numpy(np.float64))
    valid = kept["valid"].to_numpy(bool)
    n = len(r)
    out = {"n": n, "mean_reward": float(r.mean()), "se": float(r.std(ddof=1) / np.sqrt(n)),
           "validity": float(valid.mean()),
           "uniqueness": len(set(kept.loc[valid, "smiles"])) / max(1, int(valid.sum())),
           "good_scaffolds": scaffolds.good(kept), "cpu_ms": cost_ms, "rows": rows}
    if base is not None:
        span = max(r_star - base["mean_reward"], 1e-12)
        out["normalized_score"] = (out["mean_reward"] - base["mean_reward"]) / span
        out["normalized_se"] = float(np.hypot(out["se"], base["se"])) / span
    if diversity:
        out["intdiv"] = internal_diversity(kept.loc[valid, "smiles"].tolist())
    return out


def pick(candidates: pd.DataFrame, n: int, block: int, m: int) -> pd.DataFrame:
    """The kept molecule of each output: selection over the first `m` of each `block`."""
    idx = (np.arange(n)[:, None] * block + np.arange(m)[None]).reshape(-1)
    frame = candidates.iloc[idx].reset_index(drop=True)
    return frame if m == 1 else frame.iloc[select_candidates(frame, m)]


def cost_ms(m: int, decode_ms: float, cand_ms: float, full_ms: float) -> float:
    """CPU ms per output molecule with m candidates (see the module docstring)."""
    return m * decode_ms + (m * cand_ms if m > 1 else 0.0) + full_ms


def timed(fn, *args):
    t0 = cpu_seconds()
    out = fn(*args)
    return out, cpu_seconds() - t0


def at_cost(curve: list[dict], cost: float, key: str) -> float:
    """Best-of-N's `key` at CPU cost `cost`, linear between neighbouring N (the ends held)."""
    xs = np.array([c["cpu_ms"] for c in curve])
    return float(np.interp(cost, xs, [c[key] for c in curve]))


def base_pool(ckpt, n: int, seed: int, device: str, cache: Path) -> tuple[pd.DataFrame, float]:
    """n x BON_MAX base molecules with all 25 properties, and CPU ms to decode one; kept in
    `cache` (a parquet beside its JSON) so a re-run does not decode them again."""
    meta = cache.with_suffix(".json")
    want = {"n": n * BON_MAX, "seed": seed, "checkpoint": str(ckpt.path)}
    if cache.is_file() and meta.is_file() and json.loads(meta.read_text())["key"] == want:
        return pd.read_parquet(cache), json.loads(meta.read_text())["decode_ms"]
    result = sample(ckpt, None, SampleSettings(method="base", n=n * BON_MAX, seed=seed,
                                               device=device))
    decode_ms = 1000 * result.summary["cpu_decode_s"] / (n * BON_MAX)
    cache.parent.mkdir(parents=True, exist_ok=True)
    result.molecules[["smiles", "valid", *[c for c in result.molecules.columns
                                           if c not in ("smiles", "valid")]]].to_parquet(cache)
    meta.write_text(json.dumps({"key": want, "decode_ms": decode_ms}))
    return result.molecules, decode_ms


def run_preset(ckpt, reward, n: int, seed: int, pool: pd.DataFrame, base_decode_ms: float,
               families: list[str], row: dict, device: str, scaffolds: Scaffolds,
               max_candidates: int = max(M_VALUES)) -> dict:
    """Fill `row` (the preset's results so far) with what is missing."""
    scored = rescore(pool, reward)[["smiles", "valid", "reward"]]
    r_star = reward_ceiling(ckpt, reward)
    if "costs" not in row:   # scoring costs of this reward, per molecule
        smiles = pool["smiles"].tolist()[:1000]
        _, cand = timed(score_candidates, smiles, reward)
        _, full = timed(score_molecules, smiles[:500], reward)
        row["costs"] = {"candidate_ms": 1000 * cand / len(smiles), "full_ms": 1000 * full / 500,
                        "base_decode_ms": base_decode_ms}
    c = row["costs"]
    row["r_star"] = r_star
    base = metrics(pick(scored, n, BON_MAX, 1), None, r_star, scaffolds,
                   cost_ms(1, base_decode_ms, c["candidate_ms"], c["full_ms"]), 1, True)
    row["base"] = base
    if "best_of_n" not in row:
        row["best_of_n"] = [
            {"N": m, **metrics(pick(scored, n, BON_MAX, m), base, r_star, scaffolds,
                               cost_ms(m, base_decode_ms, c["candidate_ms"], c["full_ms"]),
                               m, m in M_VALUES)}
            for m in range(1, BON_MAX + 1)]
    curve = row["best_of_n"]
    for name in families:
        if name in row.setdefault("families", {}):
            continue
        settings, m_max = FAMILIES[name]
        m_max = min(m_max, max_candidates)
        s = SampleSettings(**settings, n=n, candidates=m_max, seed=seed, device=device)
        result = sample(ckpt, reward, s)
        decode_ms = 1000 * result.summary["cpu_decode_s"] / (n * m_max)
        candidates = (result.candidates if m_max > 1
                      else result.molecules[["smiles", "valid", "reward"]])
        rows_per = s.spec.rows_per_candidate(s.ys)
        cells = {}
        for m in (v for v in M_VALUES if v <= m_max):
            cell = metrics(pick(candidates, n, m_max, m), base, r_star, scaffolds,
                           cost_ms(m, decode_ms, c["candidate_ms"], c["full_ms"]),
                           m * rows_per, True)
            cell["best_of_n_at_cpu"] = {k: at_cost(curve, cell["cpu_ms"], k) for k in
                                        ("normalized_score", "mean_reward", "good_scaffolds")}
            matched = curve[min(cell["rows"], BON_MAX) - 1]
            cell["best_of_n_at_rows"] = {k: matched[k] for k in
                                         ("normalized_score", "mean_reward", "good_scaffolds")}
            cells[str(m)] = cell
        row["families"][name] = {"decode_ms": decode_ms, "cells": cells,
                                 "effective_profiles": result.summary.get("effective_profiles")}
    return row


def table(results: dict) -> list[dict]:
    """One line per family and M over the presets measured for it."""
    lines = []
    presets = results["presets"]
    names = sorted({f for row in presets.values() for f in row.get("families", {})})
    for name in names:
        rows = [row for row in presets.values() if name in row.get("families", {})]
        for m in M_VALUES:
            cells = [row["families"][name]["cells"].get(str(m)) for row in rows]
            pairs = [(row, cell) for row, cell in zip(rows, cells) if cell is not None]
            if not pairs:
                continue
            get = lambda k: np.array([cell[k] for _, cell in pairs])  # noqa: E731
            drops = [cell["intdiv"] - row["base"]["intdiv"] for row, cell in pairs
                     if cell["intdiv"] is not None and row["base"]["intdiv"] is not None]
            ns = get("normalized_score")
            cpu_bon = np.array([cell["best_of_n_at_cpu"]["normalized_score"] for _, cell in pairs])
            lines.append({
                "family": name, "M": m, "presets": len(pairs),
                "rows": int(pairs[0][1]["rows"]), "cpu_ms": float(get("cpu_ms").mean()),
                "normalized_score": float(ns.mean()), "lowest": float(ns.min()),
                "lowest_preset": [k for k, row in presets.items()
                                  if name in row.get("families", {})][int(ns.argmin())],
                "normalized_se": float(np.sqrt((get("normalized_se") ** 2).mean() / len(ns))),
                "best_of_n_at_cpu": float(cpu_bon.mean()),
                "wins_reward_cpu": int(sum(cell["mean_reward"] > cell["best_of_n_at_cpu"][
                    "mean_reward"] for _, cell in pairs)),
                "wins_scaffolds_cpu": int(sum(cell["good_scaffolds"] > cell["best_of_n_at_cpu"][
                    "good_scaffolds"] for _, cell in pairs)),
                "wins_reward_rows": int(sum(cell["mean_reward"] > cell["best_of_n_at_rows"][
                    "mean_reward"] for _, cell in pairs)),
                "validity": float(get("validity").mean()),
                "min_validity": float(get("validity").min()),
                "min_uniqueness": float(get("uniqueness").min()),
                "intdiv_vs_base": float(np.mean(drops)) if drops else float("nan"),
                "worst_intdiv_vs_base": float(min(drops)) if drops else float("nan")})
    return lines


def markdown(results: dict) -> str:
    head = ("| family | M | presets | rows | CPU ms/mol | mean normalized ± SE | lowest | "
            "best-of-N at same CPU | beats BoN@CPU: reward / good scaffolds | beats BoN@rows |"
            " validity (min) | uniqueness min | IntDiv vs base (worst) |\n|"
            + "---|" * 13 + "\n")
    body = "\n".join(
        f"| {t['family']} | {t['M']} | {t['presets']} | {t['rows']} | {t['cpu_ms']:.1f} | "
        f"{t['normalized_score']:+.3f} ± {t['normalized_se']:.3f} | {t['lowest']:+.2f} "
        f"({t['lowest_preset']}) | {t['best_of_n_at_cpu']:+.3f} | {t['wins_reward_cpu']} / "
        f"{t['wins_scaffolds_cpu']} | {t['wins_reward_rows']} | {t['validity']:.3f} "
        f"({t['min_validity']:.3f}) | {t['min_uniqueness']:.3f} | {t['intdiv_vs_base']:+.3f} "
        f"({t['worst_intdiv_vs_base']:+.3f}) |" for t in table(results))
    presets = list(results["presets"].values())
    bon = {m: np.mean([row["best_of_n"][m - 1]["normalized_score"] for row in presets])
           for m in (2, 4, 8, 17, 33, 65)}
    cpu = {m: np.mean([row["best_of_n"][m - 1]["cpu_ms"] for row in presets]) for m in bon}
    return (head + body + "\n\nBest-of-N over the same presets (mean normalized, CPU ms/mol): "
            + ", ".join(f"N={m} {bon[m]:+.3f} ({cpu[m]:.0f} ms)" for m in bon) + ".\n")


def preset_table(results: dict, family: str, m: int) -> str:
    """Markdown, one line per preset: the family's cell with M candidates against base and
    against best-of-N at the same CPU time (a cell the family lacks is left out)."""
    lines = ["| preset | base r | r(y*) | mean r ± SE | normalized ± SE | BoN at same CPU | "
             "good scaffolds (BoN) | validity | uniqueness | IntDiv (base) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key, row in results["presets"].items():
        cell = row.get("families", {}).get(family, {}).get("cells", {}).get(str(m))
        if cell is None:
            continue
        bon, base = cell["best_of_n_at_cpu"], row["base"]
        intdiv = ("n/a" if cell.get("intdiv") is None or base.get("intdiv") is None else
                  f"{cell['intdiv']:.3f} ({base['intdiv']:.3f})")
        lines.append(
            f"| {key} | {base['mean_reward']:.3f} | {row['r_star']:.3f} | "
            f"{cell['mean_reward']:.3f} ± {cell['se']:.3f} | {cell['normalized_score']:+.3f} ± "
            f"{cell['normalized_se']:.3f} | {bon['normalized_score']:+.3f} | "
            f"{cell['good_scaffolds']} ({bon['good_scaffolds']:.0f}) | {cell['validity']:.3f} | "
            f"{cell['uniqueness']:.3f} | {intdiv} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path, extra: dict | None = None) -> None:
    """Mean normalized score against CPU ms per molecule: the best-of-N curve, each family
    as a line over M; the families of `extra` (results at another n) dashed beside them."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    presets = list(results["presets"].values())
    fig, ax = plt.subplots(figsize=(7.0, 4.4), dpi=120)
    xs = [np.mean([row["best_of_n"][m]["cpu_ms"] for row in presets]) for m in range(BON_MAX)]
    ys = [np.mean([row["best_of_n"][m]["normalized_score"] for row in presets])
          for m in range(BON_MAX)]
    ax.plot(xs, ys, color="black", label="best-of-N (N = 1..65)")
    for t in (1, 4, 16, 64):
        ax.annotate(f"N={t}", (xs[t - 1], ys[t - 1]), fontsize=7, color="black")
    for source, style in ((results, "-"), (extra, "--")):
        if not source:
            continue
        lines: dict[str, list[dict]] = {}
        for t in table(source):
            if t["presets"] == len(source["presets"]):
                lines.setdefault(t["family"], []).append(t)
        n = source["header"]["n"]
        for name, pts in lines.items():
            ax.plot([p["cpu_ms"] for p in pts], [p["normalized_score"] for p in pts],
                    marker="o", linestyle=style,
                    label=f"{name} (M = {', '.join(str(p['M']) for p in pts)}; n = {n}, "
                          f"{len(source['presets'])} presets)")
    ax.set_xscale("log")
    ax.set_xlabel("CPU ms per output molecule (decoding + scoring, one thread)")
    ax.set_ylabel(f"mean normalized score ({len(presets)} presets)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


RESULTS = (ROOT / "bench_results" / "cost.json", ROOT / "bench_results" / "cost_sweep.json")


def family_of(s: SampleSettings) -> str | None:
    """The benchmark family of settings `s` (None when the benchmark has none like it)."""
    for name, (settings, _) in FAMILIES.items():
        if s.method == settings["method"] and all(
                getattr(s, k) == v for k, v in settings.items() if k != "method"):
            return name
    return None


def standing(s: SampleSettings, results_files=RESULTS) -> str | None:
    """One line: how the method and number of candidates of `s` stood against best-of-N at
    the same CPU time in the matched-cost benchmark (mean normalized score over the presets
    it measured), or None when the benchmark has no such cell. Best-of-N itself (the base
    model with N candidates) is placed on its own curve."""
    for path in results_files:
        if not path.is_file():
            continue
        results = json.loads(path.read_text())
        n, rows = results["header"]["n"], list(results["presets"].values())
        if s.method == "base":
            if s.candidates > BON_MAX or not rows:
                continue
            cells = [row["best_of_n"][s.candidates - 1] for row in rows]
            return (f"matched-cost benchmark ({len(rows)} presets, {n} molecules each): "
                    f"best-of-{s.candidates} scored {np.mean([c['normalized_score'] for c in cells]):+.2f}"
                    f" normalized at {np.mean([c['cpu_ms'] for c in cells]):.0f} CPU ms per "
                    "molecule")
        line = next((t for t in table(results) if t["family"] == family_of(s)
                     and t["M"] == s.candidates), None)
        if line is None:
            continue
        verdict = ("better than" if line["normalized_score"] > line["best_of_n_at_cpu"] else
                   "worse than")
        return (f"matched-cost benchmark ({line['presets']} presets, {n} molecules each): "
                f"this method with {s.candidates} candidate{'s' * (s.candidates > 1)} scored "
                f"{line['normalized_score']:+.2f} normalized at {line['cpu_ms']:.0f} CPU ms per "
                f"molecule, {verdict} best-of-N at the same CPU time "
                f"({line['best_of_n_at_cpu']:+.2f}; higher reward on "
                f"{line['wins_reward_cpu']} of {line['presets']} presets)")
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="output molecules per cell")
    parser.add_argument("--presets", nargs="*", help="preset keys or reward TOML files "
                        "(default: all presets)")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES),
                        choices=list(FAMILIES))
    parser.add_argument("--max-candidates", type=int, default=max(M_VALUES),
                        help="measure M up to this many candidates (a family's own limit "
                             "holds too)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: CPU time is comparable across methods)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results" / "cost.json")
    parser.add_argument("--plot", type=Path, help="write the plot here (e.g. docs/cost.png)")
    parser.add_argument("--plot-with", type=Path, metavar="JSON",
                        help="also draw the families of these results (another n), dashed")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.checkpoint)
    rewards = [load_reward(p) for p in args.presets] if args.presets else list_presets()
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    header = {"n": args.n, "seed": args.seed, "threads": args.threads,
              "checkpoint": str(ckpt.path)}
    if results.get("header") != header:
        results = {"header": header, "presets": {}}
    results.update(machine=f"{platform.machine()} {platform.processor()}".strip(),
                   date=time.strftime("%Y-%m-%d"), torch=torch.__version__)
    pool, decode_ms = base_pool(ckpt, args.n, args.seed + 1, args.device,
                                ROOT / ".cache" / "bench" / f"cost_pool_{args.n}.parquet")
    scaffolds = Scaffolds()
    for reward in rewards:
        key = reward.key or reward.name
        row = results["presets"].setdefault(key, {})
        run_preset(ckpt, reward, args.n, args.seed, pool, decode_ms, args.families, row,
                   args.device, scaffolds, args.max_candidates)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(args.out)
        print(f"{key}: done", flush=True)
    families = [f for f in args.families
                if any(f in row.get("families", {}) for row in results["presets"].values())]
    report = markdown(results) + "".join(
        f"\n{name}, M = {m}:\n\n" + preset_table(results, name, m)
        for name in families for m in M_VALUES
        if m <= min(FAMILIES[name][1], args.max_candidates) and (name, m) in DEFAULT_CELLS)
    args.out.with_suffix(".md").write_text(report)
    print(report)
    if args.plot:
        plot(results, args.plot,
             json.loads(args.plot_with.read_text()) if args.plot_with else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
