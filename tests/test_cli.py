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
from engine.train.finetune import DEFAULT_STEPS, NO_OPTION, FinetuneConfig


@pytest.mark.parametrize("kind", ["distill", "rl"])
def test_every_finetune_field_is_an_option_with_the_config_default(kind):
    covered = set(RUN_FIELDS) | set(FINETUNE_OPTIONS) | set(GUIDANCE_FIELDS) | set(NO_OPTION)
    assert {f.name for f in fields(FinetuneConfig)} <= covered
    args = build_parser(kind).parse_args([kind, "--reward", "drug_like", "--out", "x"])
    for f in fields(FinetuneConfig):
        if f.name in RUN_FIELDS or f.name in NO_OPTION:
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


@pytest.mark.parametrize("verb,cls", [("sample", "SampleSettings"), ("tradeoff", "SampleSettings"),
                                      ("distill", "FinetuneConfig"), ("rl", "FinetuneConfig")])
def test_decoding_options_come_from_the_one_decoding_dataclass(verb, cls):
    """Every decoding field a verb takes is one option generated from `methods.Decoding`,
    defaulting to the verb's settings class (a run draws untruncated: top-p 1)."""
    from engine.cli.common import field_default
    from engine.sampling.methods import DECODING_FIELDS, Decoding
    owner = {"SampleSettings": SampleSettings, "FinetuneConfig": FinetuneConfig}[cls]
    assert issubclass(owner, Decoding)
    required = {"distill": ["--reward", "x", "--out", "x"], "rl": ["--reward", "x", "--out", "x"],
                "tradeoff": ["--reward", "x"]}.get(verb, [])
    parser = build_parser(verb)
    args = parser.parse_args([verb, *required])
    verb_parser = parser._subparsers._group_actions[0].choices[verb]
    for name in DECODING_FIELDS:
        if verb in ("distill", "rl") and name in NO_OPTION:
            assert not hasattr(args, name)
            continue
        assert getattr(args, name) == field_default(owner, name), (verb, name)
        # exactly one option writes the field
        assert sum(a.dest == name for a in verb_parser._actions) == 1, (verb, name)
    if verb in ("distill", "rl"):
        assert (args.temperature, args.top_p) == (1.0, 1.0)
    else:
        assert args.top_p == Decoding().top_p < 1.0


def test_sampling_and_runs_share_the_decoding_check_and_it_is_frozen():
    import dataclasses

    from engine.sampling.methods import Decoding, SamplingError
    from engine.train.finetune import FinetuneError
    for bad, message in [({"top_p": 0.0}, "top-p must be in (0, 1]"),
                         ({"ys": 1}, "|Y_S| (ys) must be an integer from 2 to 64"),
                         ({"gamma": -1.0}, "gamma must be a number from 0"),
                         ({"grammar": "yes"}, "grammar must be true or false")]:
        for make, error in [(lambda: Decoding(**bad), SamplingError),
                            (lambda: SampleSettings(method="rcfg", **bad), SamplingError),
                            (lambda: FinetuneConfig("distill", {}, "x", **bad), FinetuneError)]:
            with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")
                               .replace("|", r"\|")):
                make()
    s = SampleSettings(method="rcfg", gamma=2.0, top_p=0.9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.gamma = 3.0
    assert s.decoding == Decoding(gamma=2.0, top_p=0.9)
    # a run's teacher samples with the run's decoding, whatever the sampler's defaults
    from engine.chem.rewards import load_reward
    cfg = FinetuneConfig("distill", load_reward("drug_like").to_dict(), "x", ys=8)
    assert cfg.sample_settings("rcfg", 4).decoding == cfg.decoding
    assert cfg.decoding.top_p == 1.0 and cfg.decoding.ys == 8
