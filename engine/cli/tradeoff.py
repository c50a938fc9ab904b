"""`tradeoff`: weightings between two terms of a reward (or two rewards) in one batch, and
the front they trace."""
from __future__ import annotations

from pathlib import Path

from engine.cli.common import (UsageError, decoding_options, field_default, force_option,
                               from_args, gamma_options, guidance_options, progress_bar)
from engine.output import check_output, timestamped, write_csv
from engine.sampling import methods as M


def run_tradeoff(args) -> int:
    from engine.chem.rewards import load_reward  # noqa: PLC0415
    from engine.model.checkpoint import load_checkpoint  # noqa: PLC0415
    from engine.sampling.sampler import SampleSettings  # noqa: PLC0415
    from engine.sampling.tradeoff import (reward_pair, term_pair, tradeoff,  # noqa: PLC0415
                                          weightings)

    if args.reward is not None and args.terms is None:
        raise UsageError("--reward needs --terms A B: the properties of two of its terms, "
                         "e.g. --terms tpsa logp")
    if args.rewards is not None and args.terms is not None:
        raise UsageError("--terms goes with --reward (two terms of one reward); --rewards A B "
                         "compares two whole rewards")
    pair = (term_pair(load_reward(args.reward), *args.terms) if args.reward is not None
            else reward_pair(*map(load_reward, args.rewards)))
    settings = from_args(SampleSettings, args, candidates=1)
    out = check_output(args.out or timestamped("tradeoff"), args.force)   # before any work
    result = tradeoff(load_checkpoint(args.checkpoint), pair, settings,
                      weightings(args.weightings), progress=progress_bar(f"trade-off, {args.method}"))
    write_csv(result.molecules, out)
    print(f"A = {pair.a.name}, B = {pair.b.name}; desirabilities are means over valid "
          "molecules ± standard error")
    for row in result.front.itertuples():
        print(f"w(A) {row.weighting:.2f}: validity {row.validity:.3f}, mean reward "
              f"{row.mean_reward:.3f}, A {row.mean_a:.3f} ± {row.se_a:.3f}, "
              f"B {row.mean_b:.3f} ± {row.se_b:.3f}  [{row.steering}]")
    s = result.summary
    batches = "one batch" if s["batches"] == 1 else f"{s['batches']} batches"
    print(f"wrote {len(result.molecules)} molecules to {out} ({s['wall_time_s']:.1f} s "
          f"on {s['device']}, {batches} for {args.weightings} weightings)")
    return 0


def tradeoff_options(to) -> None:
    from engine.sampling.sampler import SampleSettings  # noqa: PLC0415

    pick = to.add_mutually_exclusive_group(required=True)
    pick.add_argument("--reward", help="preset key or .toml file whose --terms are traded off")
    pick.add_argument("--rewards", nargs=2, metavar=("A", "B"),
                      help="two rewards (preset keys or .toml files) traded off as "
                           "w r_A + (1 - w) r_B")
    to.add_argument("--terms", nargs=2, metavar=("A", "B"),
                    help="with --reward: two of its terms' properties, e.g. tpsa logp")
    to.add_argument("--weightings", type=int, default=5,
                    help="weightings from all-A to all-B (5: w = 1, 0.75, 0.5, 0.25, 0 on A)")
    to.add_argument("--n", type=int, default=field_default(SampleSettings, "n"),
                    help="molecules per weighting")
    to.add_argument("--method", choices=[k for k, m in M.METHODS.items() if m.rows != "null"],
                    default=M.DEFAULT_METHOD, help="a method whose molecules depend on the "
                    "reward")
    gamma_options(to, candidates=False)
    guidance_options(to, "")
    decoding_options(to)
    to.add_argument("--out", type=Path,
                    help="one row per molecule, with its `weighting` (the weight on A); "
                         "default: a new tradeoff-DATE-TIME.csv here")
    force_option(to)
    to.set_defaults(func=run_tradeoff)
