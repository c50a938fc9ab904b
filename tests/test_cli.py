"""The command line (engine/cli/): every settings field has its option with the settings'
own default, options do not depend on the order of dataclass fields, and bad input is one
line naming the problem."""
from __future__ import annotations

from dataclasses import fields

import pytest

from engine.cli import build_parser, main
from engine.cli.common import GUIDANCE_FIELDS
from engine.cli.train import FINETUNE_OPTIONS, RUN_FIELDS
from engine.sampling.sampler import SampleSettings
from engine.train.finetune import DEFAULT_STEPS, FinetuneConfig


@pytest.mark.parametrize("kind", ["distill", "rl"])
def test_every_finetune_field_is_an_option_with_the_config_default(kind):
    covered = set(RUN_FIELDS) | set(FINETUNE_OPTIONS) | set(GUIDANCE_FIELDS)
    assert {f.name for f in fields(FinetuneConfig)} <= covered
    args = build_parser(kind).parse_args([kind, "--reward", "drug_like", "--out", "x"])
    for f in fields(FinetuneConfig):
        if f.name in RUN_FIELDS:
            continue
        want = DEFAULT_STEPS[kind] if f.name == "steps" else f.default
        assert getattr(args, f.name) == want, f.name
    # the config built from the defaults is the config's own default
    from engine.cli.common import from_args
    from engine.chem.rewards import load_reward
    cfg = from_args(FinetuneConfig, args, kind=kind, out="x",
                    reward=load_reward("drug_like").to_dict(), checkpoint="")
    assert cfg == FinetuneConfig(kind=kind, out="x", reward=load_reward("drug_like").to_dict(),
                                 steps=DEFAULT_STEPS[kind])


def test_sample_options_default_to_the_sample_settings():
    args = build_parser("sample").parse_args(["sample"])
    skip = {"method", "gamma", "candidates", "n", "target", "max_rows"}  # worked out per run
    for f in fields(SampleSettings):
        if f.name not in skip:
            assert getattr(args, f.name) == f.default, f.name
    assert args.gamma is None and args.candidates is None   # the method's own defaults


@pytest.mark.parametrize("argv,message", [
    (["sample", "--condition", "tpsa60", "--out", "x.csv"], "--condition 'tpsa60': expected "
     "NAME=NUMBER"),
    (["sample", "--method", "rcfg"], "--method rcfg needs --reward"),
    (["sample", "--candidates", "4"], "--candidates needs --reward"),
    (["tradeoff", "--reward", "drug_like"], "--reward needs --terms A B"),
])
def test_usage_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
