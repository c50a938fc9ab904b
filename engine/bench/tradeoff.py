"""The trade-off explorer's one batch against sampling each weighting on its own.

`python -m engine.bench.tradeoff` samples the same weightings (default 5 x 64 molecules with
the default method, one candidate each, the other settings at their defaults, two terms of `cns_penetrant`) on the
shipped model both ways: `tradeoff()` (one batched decode) and one `sample()` per weighting
with that weighting's reward. Both include scoring and the base-model NLL, and each
weighting draws the same condition vectors either way. Prints both wall times and their ratio.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import replace

import torch

from engine.chem.rewards import load_reward
from engine.model.checkpoint import load_checkpoint
from engine.sampling import methods as M
from engine.sampling.sampler import SampleSettings, sample
from engine.sampling.tradeoff import term_pair, tradeoff, weightings


def _timed(run) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = run()
    return time.perf_counter() - t0, out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reward", default="cns_penetrant")
    parser.add_argument("--terms", nargs=2, default=["tpsa", "logp"], metavar=("A", "B"))
    parser.add_argument("--n", type=int, default=64, help="molecules per weighting")
    parser.add_argument("--method", default=M.DEFAULT_METHOD,
                        help="a method the explorer allows (default: the default method)")
    parser.add_argument("--ys", type=int, default=16, help="|Y_S| (RCFG, Q-tilt)")
    parser.add_argument("--weightings", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1,
                        help="timings per way, alternating; the median is reported")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint", help="checkpoint folder (default: the shipped one)")
    args = parser.parse_args(argv)
    ckpt = load_checkpoint(args.checkpoint)
    pair = term_pair(load_reward(args.reward), *args.terms)
    s = SampleSettings(method=args.method, n=args.n, ys=args.ys, candidates=1,
                       device=args.device)
    weights = weightings(args.weightings)
    sample(ckpt, pair.reward_at(weights[0]), replace(s, n=2))  # warm-up
    batch_times, single_times = [], []
    for _ in range(args.repeats):
        seconds, batch = _timed(lambda: tradeoff(ckpt, pair, s, weights))
        batch_times.append(seconds)
        seconds, singles = _timed(lambda: [sample(ckpt, pair.reward_at(w), s)
                                           for w in weights])
        single_times.append(seconds)
    device = batch.summary["device"]
    name = (torch.cuda.get_device_name(0) if device.startswith("cuda")
            else f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
    rows = args.n * s.rows_per_molecule
    print(f"# {name}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}: {pair.name}, "
          f"{len(weights)} weightings x {args.n} molecules, {s.method}, "
          f"{rows:,} forward rows per weighting, max_rows {s.max_rows:,}\n")
    one_batch, one_by_one = statistics.median(batch_times), statistics.median(single_times)
    validity_batch = batch.front["validity"].mean()
    validity_single = sum(r.summary["validity"] for r in singles) / len(singles)
    print("| way | wall s | molecules/s | validity |\n|---|---|---|---|")
    total = len(weights) * args.n
    print(f"| one batch (`tradeoff`) | {one_batch:.1f} | {total / one_batch:.1f} | "
          f"{validity_batch:.3f} |")
    print(f"| one by one (`sample` x {len(weights)}) | {one_by_one:.1f} | "
          f"{total / one_by_one:.1f} | {validity_single:.3f} |")
    print(f"\none by one / one batch = {one_by_one / one_batch:.2f} (median of "
          f"{args.repeats} alternating timing{'s' * (args.repeats != 1)} per way)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
