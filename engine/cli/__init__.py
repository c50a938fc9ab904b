"""`python -m engine <verb>` (or `rcfg-studio <verb>`): every dashboard action has a
command-line twin.

One module per verb family; `common` holds what they share."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from engine.cli import rewards, sample, score, tradeoff, train
from engine.cli.common import UsageError
from engine.errors import UserError

# verb -> (help line, what adds its options), in the order `--help` lists them
VERBS = {
    "data": ("prepare MOSES or your own CSV of SMILES", train.data_options),
    "train": ("train the conditional GPT on a prepared data folder", train.train_options),
    "sample": ("sample molecules (optionally guided by a reward)", sample.sample_options),
    "score": ("score a CSV of SMILES with a reward", score.score_options),
    "distill": ("distill the RCFG teacher for a reward into the unconditional branch",
                partial(train.finetune_options, kind="distill")),
    "rl": ("RL fine-tuning of the unconditional branch for a reward",
           partial(train.finetune_options, kind="rl")),
    "tradeoff": ("sample weightings between two terms of a reward (or two rewards) in one "
                 "batch and print the front", tradeoff.tradeoff_options),
    "rewards": ("list the reward presets", rewards.rewards_options),
}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The command line. Given `verb`, only that verb gets its options (the others keep
    their help line): options read the settings classes' defaults, and those modules
    import torch, which `rewards` or `score` do not need."""
    prog = "rcfg-studio" if Path(sys.argv[0]).name == "rcfg-studio" else "python -m engine"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    for name, (help_text, add_options) in VERBS.items():
        sub = verbs.add_parser(name, help=help_text)
        if verb not in VERBS or name == verb:
            add_options(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verb = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(verb).parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


__all__ = ["UsageError", "VERBS", "build_parser", "main"]
