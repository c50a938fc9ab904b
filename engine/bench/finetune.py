"""Distillation and RL, measured: several rewards and seeds, each run's model scored on
its own samples.

`python -m engine.bench.finetune --rewards 3d_complex cns_penetrant --seeds 0 1` runs, for
every reward and seed, in `--runs DIR/<reward>-s<seed>-<variant>`:

- `distill-all`: distillation of the RCFG teacher (the guidance defaults) on its whole batch
  (as in the paper);
- `distill-valid`: the same, leaving the teacher's invalid molecules out of the loss;
- `distill-tilted`: the reward-tilted teacher (gamma 16, one drawn profile per molecule),
  invalid teacher molecules left out;
- `rl-base`: RL from the start model;
- `rl-student`: RL from the `distill-valid` student (its start and KL reference);
- `rl-tilted-student`: RL from the `distill-tilted` student.

Each finished run's model samples `--eval-n` molecules (method `base`, a seed no run
used); the table gives mean reward (invalid = 0), validity and uniqueness, averaged over
the seeds with the spread (min-max), and for RL the steps to reach 90 % of its gain (the
first evaluated step at start + 0.9 x (final - start) of its own curve). The learning curves (own-sample reward every
`--eval-every` steps) are in each run folder's history.jsonl. Results go to
`bench_results/finetune.json`; a re-run reuses finished run folders.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from engine.chem.rewards import load_reward
from engine.model.checkpoint import load_checkpoint
from engine.sampling.sampler import SampleSettings, sample
from engine.train.finetune import FinetuneConfig, finetune
from engine.train.runfolder import read_history

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ("distill-all", "distill-valid", "distill-tilted", "rl-base", "rl-student",
            "rl-tilted-student")
STUDENT_OF = {"rl-student": "distill-valid", "rl-tilted-student": "distill-tilted"}
EVAL_SEED = 10_007


def _config(variant: str, reward, out: Path, start: str, args, seed: int) -> FinetuneConfig:
    kind = variant.split("-")[0]
    return FinetuneConfig(kind=kind, reward=reward.to_dict(), out=str(out), checkpoint=start,
                          steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                          teacher="tilted" if variant == "distill-tilted" else "rcfg",
                          teacher_keep="all" if variant == "distill-all" else "valid",
                          eval_every=args.eval_every, eval_n=args.curve_n, seed=seed,
                          device=args.device)


def _run(cfg: FinetuneConfig) -> float | None:
    """Train, or reuse a finished run folder made with the same settings (its wall time
    is then unknown: None); returns the wall time in seconds."""
    out = Path(cfg.out)
    meta = out / "config.json"
    if meta.is_file():
        done = json.loads(meta.read_text())["training"]
        same = all(done.get(k) == v for k, v in asdict(cfg).items()
                   if k not in ("out", "device", "checkpoint"))
        if done.get("finished") and same:
            return None
        if not same:
            raise SystemExit(f"{out} holds a run with other settings; remove it or pass "
                             "another --runs folder")
    t0 = time.perf_counter()
    finetune(cfg, resume=out.exists(), progress=False)
    return time.perf_counter() - t0


def _evaluate(folder: Path, reward, n: int, device: str) -> dict:
    res = sample(load_checkpoint(folder), reward,
                 SampleSettings(method="base", n=n, seed=EVAL_SEED, device=device))
    s = res.summary
    return {k: s[k] for k in ("mean_reward", "validity", "uniqueness")}


def run_reward(reward, key: str, seed: int, args, start_eval: dict) -> dict:
    row = {"start": start_eval}
    folder = {v: args.runs / f"{key}-s{seed}-{v}" for v in VARIANTS}
    for variant in args.variants:
        out = folder[variant]
        start = (str(folder[STUDENT_OF[variant]]) if variant in STUDENT_OF
                 else str(args.checkpoint or ""))
        wall = _run(_config(variant, reward, out, start, args, seed))
        curve = [(h["step"], h["eval_reward"]) for h in read_history(out) if "eval_reward" in h]
        row[variant] = {**_evaluate(out, reward, args.eval_n, args.device), "wall_s": wall,
                        "curve": curve, "steps_to_90": steps_to_90(curve)}
    return row


def steps_to_90(curve: list[tuple[int, float]]) -> int | None:
    """The first evaluated step whose reward reaches start + 0.9 x (final - start); None
    without a gain."""
    if len(curve) < 2 or curve[-1][1] <= curve[0][1]:
        return None
    goal = curve[0][1] + 0.9 * (curve[-1][1] - curve[0][1])
    return next(step for step, r in curve if r >= goal)


def markdown(results: dict) -> str:
    lines = ["| reward | model | mean reward | validity | uniqueness | RL steps to 90 % |",
             "|---|---|---|---|---|---|"]
    for key, seeds in results["rewards"].items():
        for variant in ("start", *VARIANTS):
            if not all(variant in s for s in seeds.values()):
                continue
            cells = []
            for metric in ("mean_reward", "validity", "uniqueness", "steps_to_90"):
                vals = [s[variant].get(metric) for s in seeds.values()]
                if metric == "steps_to_90":
                    cells.append(", ".join("-" if v is None else str(v) for v in vals)
                                 if variant.startswith("rl") else "")
                    continue
                spread = f" ({min(vals):.3f}-{max(vals):.3f})" if len(vals) > 1 else ""
                cells.append(f"{np.mean(vals):.3f}{spread}")
            lines.append(f"| {key} | {variant} | " + " | ".join(cells) + " |")
    n_seeds = {len(s) for s in results["rewards"].values()}
    return ("\n".join(lines) + f"\n\n{results['eval_n']} samples per model, mean over "
            f"{', '.join(map(str, sorted(n_seeds)))} seed(s) (min-max in brackets); "
            f"{results['steps']} steps x {results['batch_size']} molecules, lr "
            f"{results['lr']:g}.\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rewards", nargs="+", default=["3d_complex"],
                        help="preset keys or .toml files")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--curve-n", type=int, default=128,
                        help="own samples scored every --eval-every steps (learning curve)")
    parser.add_argument("--eval-n", type=int, default=1000, help="samples per final model")
    parser.add_argument("--checkpoint", type=Path, help="start model (default: shipped)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-finetune")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results" / "finetune.json")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="runs to make (an RL student needs its distillation run)")
    args = parser.parse_args(argv)
    missing = [STUDENT_OF[v] for v in args.variants
               if v in STUDENT_OF and STUDENT_OF[v] not in args.variants]
    if missing:
        parser.error(f"--variants needs {', '.join(missing)} too (the students' start)")
    args.variants = [v for v in VARIANTS if v in args.variants]   # students after teachers
    start = load_checkpoint(args.checkpoint)
    results = {"machine": f"{platform.machine()} {platform.processor()}".strip(),
               "date": time.strftime("%Y-%m-%d"), "checkpoint": str(start.path),
               "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
               "eval_n": args.eval_n, "rewards": {}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.rewards:
        reward = load_reward(name)
        key = reward.key or Path(name).stem
        reward_start = _evaluate(start.path, reward, args.eval_n, args.device)
        for seed in args.seeds:
            t0 = time.perf_counter()
            row = run_reward(reward, key, seed, args, reward_start)
            results["rewards"].setdefault(key, {})[str(seed)] = row
            args.out.write_text(json.dumps(results, indent=1))
            print(f"{key} seed {seed}: " + ", ".join(
                f"{v} {row[v]['mean_reward']:.3f}/{row[v]['validity']:.2f}"
                for v in args.variants)
                + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
