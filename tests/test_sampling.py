"""The one batched decoder: every method, determinism, layout, chunking, CLI."""
import numpy as np
import pandas as pd
import pytest
import torch

from engine.chem.alerts import COLUMNS as ALERT_AND_FLAG_COLUMNS
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.rewards import Reward, Term
from engine.cli import main
from engine.model.checkpoint import load_checkpoint
from engine.sampling.methods import DEFAULT_METHOD as M_DEFAULT
from engine.sampling.methods import METHODS
from engine.sampling.sampler import SampleSettings, SamplingError, sample

REWARD = Reward(name="small polar", terms=(Term("mw", "minimize", 250.0, 400.0),
                                           Term("tpsa", "range", 60.0, 90.0, ramp=30.0)))


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_scored_rows(ckpt, method):
    result = sample(ckpt, REWARD, SampleSettings(method=method, n=6, ys=3, device="cpu"),
                    base_mean_reward=0.1)
    frame = result.molecules
    assert len(frame) == 6
    for col in ("smiles", "valid", "reward", *PROPERTY_NAMES, "d_mw", "d_tpsa", "nll",
                "method", "gamma", "ys", "seed"):
        assert col in frame.columns, col
    assert (frame["method"] == method).all()
    assert frame["reward"].between(0, 1).all()
    assert (frame.loc[~frame["valid"], "reward"] == 0).all()
    assert (frame["nll"] > 0).all()
    s = result.summary
    assert 0 <= s["validity"] <= 1 and s["normalized_score"] is not None
    assert s["molecules_per_s"] > 0


def test_same_seed_same_molecules(ckpt):
    a = sample(ckpt, REWARD, SampleSettings(method="rcfg", n=8, ys=4, seed=3, device="cpu"))
    b = sample(ckpt, REWARD, SampleSettings(method="rcfg", n=8, ys=4, seed=3, device="cpu"))
    c = sample(ckpt, REWARD, SampleSettings(method="rcfg", n=8, ys=4, seed=4, device="cpu"))
    assert a.molecules["smiles"].tolist() == b.molecules["smiles"].tolist()
    assert a.molecules["smiles"].tolist() != c.molecules["smiles"].tolist()


def test_small_chunks_decode_every_molecule_reproducibly(ckpt, monkeypatch):
    """max_rows splits the decode into chunks that together give every molecule, the same
    ones on every run with the seed. The chunks draw from one random stream, so the
    molecules do depend on the chunking (a dashboard run is reproduced with its
    first_chunk)."""
    import engine.sampling.sampler as sampler_mod

    s = SampleSettings(method="base", n=12, seed=1, device="cpu", max_rows=5)
    sizes, real = [], sampler_mod.decode

    def spy(model, plan, *a, **k):
        sizes.append(plan.values.shape[0])
        return real(model, plan, *a, **k)

    monkeypatch.setattr(sampler_mod, "decode", spy)
    small = sample(ckpt, REWARD, s).molecules
    monkeypatch.undo()
    assert sizes == [5, 5, 2] and len(small) == 12
    assert small["smiles"].tolist() == sample(ckpt, REWARD, s).molecules["smiles"].tolist()


@pytest.mark.parametrize("method, max_rows", [("rcfg", 8192), ("base", 5)])
def test_molecules_shown_as_they_finish_are_the_final_ones(ckpt, method, max_rows):
    """A preview every step: each call holds only finished, scored molecules, never fewer
    than the call before; the final table equals a run without preview (same seed)."""
    # the tiny model runs most strings to the length limit: a seed where some end earlier
    s = SampleSettings(method=method, n=12, ys=4, seed=0, device="cpu", max_rows=max_rows)
    previews, phases = [], []
    shown = sample(ckpt, REWARD, s, preview=lambda f: previews.append(f.copy()),
                   preview_every=0.0, phase=phases.append)
    plain = sample(ckpt, REWARD, s)
    pd.testing.assert_frame_equal(shown.molecules, plain.molecules)
    assert len(previews) >= 2 and 0 < len(previews[0]) < 12
    assert [len(f) for f in previews] == sorted(len(f) for f in previews)
    for frame in previews:
        assert frame["reward"].between(0, 1).all()
        assert frame["smiles"].tolist() == shown.molecules.loc[frame.index, "smiles"].tolist()
    assert phases[0].startswith("Rewards of the") and phases[0].endswith("reference profiles")
    assert phases[1:] == ["Decoding", "Scoring the molecules", "Likelihood under the base model"]


@pytest.mark.parametrize("method, candidates", [("rcfg", 1), ("base", 4)])
def test_a_first_chunk_finishes_on_its_own_and_is_reproducible(ckpt, method, candidates,
                                                               monkeypatch):
    import engine.sampling.sampler as sampler_mod

    s = SampleSettings(method=method, n=10, ys=3, seed=2, device="cpu", first_chunk=3,
                       candidates=candidates)
    sizes, real = [], sampler_mod.decode

    def spy(model, plan, *a, **k):
        sizes.append(plan.values.shape[0])
        return real(model, plan, *a, **k)

    monkeypatch.setattr(sampler_mod, "decode", spy)
    first = sample(ckpt, REWARD, s)
    monkeypatch.undo()
    assert sizes == [3 * candidates, 7 * candidates]   # candidates come in whole groups
    again = sample(ckpt, REWARD, s)
    assert first.molecules["smiles"].tolist() == again.molecules["smiles"].tolist()
    with pytest.raises(SamplingError, match="first_chunk"):
        SampleSettings(first_chunk=-1)

def test_previews_show_kept_molecules_and_leave_the_result_unchanged(ckpt):
    s = SampleSettings(method="tilted", n=12, candidates=3, seed=4, device="cpu",
                       first_chunk=4)
    previews = []
    shown = sample(ckpt, REWARD, s, preview=previews.append, preview_every=0.0)
    quiet = sample(ckpt, REWARD, s)
    assert previews and all(len(p) <= 12 for p in previews)
    assert {"smiles", "valid", "reward"} <= set(previews[0].columns)
    pd.testing.assert_frame_equal(shown.molecules, quiet.molecules)

class _Spy(torch.nn.Module):
    """Counts forward calls and rows of the real model it wraps."""

    def __init__(self, model):
        super().__init__()
        self.model, self.cfg, self.calls = model, model.cfg, []

    def new_cache(self, *a, **k):
        return self.model.new_cache(*a, **k)

    def prefill(self, values, mask, bos, cache):
        self.calls.append(("prefill", values.shape[0]))
        return self.model.prefill(values, mask, bos, cache)

    def decode_step(self, tokens, cache):
        self.calls.append(("step", tokens.shape[0]))
        return self.model.decode_step(tokens, cache)

    def forward(self, *a, **k):
        return self.model(*a, **k)


def test_one_forward_pass_per_step_for_all_branches(ckpt):
    spy = _Spy(ckpt.model)
    real, ckpt.model = ckpt.model, spy
    try:
        sample(ckpt, REWARD, SampleSettings(method="rcfg", n=5, ys=7, device="cpu"))
    finally:
        ckpt.model = real
    assert spy.calls[0] == ("prefill", 5 * 8)
    steps = [rows for kind, rows in spy.calls if kind == "step"]
    assert steps[0] == 5 * 8 and all(rows % 8 == 0 for rows in steps)
    assert len(steps) < ckpt.model.cfg.block_size  # one call per token step, not per branch


def test_gamma_zero_rcfg_is_base_sampling(ckpt):
    base = sample(ckpt, REWARD, SampleSettings(method="base", n=40, seed=5, device="cpu"))
    rcfg = sample(ckpt, REWARD, SampleSettings(method="rcfg", gamma=0.0, ys=4, n=40, seed=5,
                                               device="cpu", plausibility=0.0))
    same = np.mean(base.molecules["smiles"].to_numpy() == rcfg.molecules["smiles"].to_numpy())
    assert same >= 0.9  # identical up to rare float ties between batch layouts


def test_candidates_keep_the_best_of_each_group_without_repeats(ckpt):
    result = sample(ckpt, REWARD, SampleSettings(method="base", n=10, candidates=5, seed=2,
                                                 device="cpu"))
    cands, kept = result.candidates, result.molecules
    assert len(cands) == 50 and len(kept) == 10
    groups = cands["reward"].to_numpy().reshape(10, 5)
    valid = cands["valid"].to_numpy().reshape(10, 5)
    for g in range(10):
        if valid[g].any():   # kept: valid, and the best unless it repeats an earlier pick
            assert kept["valid"][g]
            assert kept["reward"][g] in set(groups[g][valid[g]])
    first_picks = [max(r[v]) if v.any() else 0.0 for r, v in zip(groups, valid)]
    assert kept["reward"].sum() <= sum(first_picks) + 1e-9
    good = kept.loc[kept["valid"], "smiles"]
    assert good.is_unique or len(set(cands.loc[cands["valid"], "smiles"])) < 10
    # the kept rows are scored in full: the same as scoring their SMILES from scratch
    again = sample(ckpt, REWARD, SampleSettings(method="base", n=10, candidates=5, seed=2,
                                                device="cpu"))
    pd.testing.assert_frame_equal(kept, again.molecules)
    assert result.summary["forward_rows_per_molecule"] == 5
    assert result.summary["cpu_decode_s"] > 0 and result.summary["cpu_score_s"] > 0


def test_selection_needs_a_reward(ckpt):
    with pytest.raises(SamplingError, match="needs a reward"):
        sample(ckpt, None, SampleSettings(method="base", n=3, candidates=2, device="cpu"))


def test_former_best_of_n_runs_read_as_base_with_candidates():
    s = SampleSettings.from_stored({"method": "best_of_n", "ys": 16, "n": 8, "gone": 1})
    assert (s.method, s.candidates, s.n) == ("base", 17, 8)


def test_cuda_out_of_memory_halves_the_chunk(ckpt, monkeypatch):
    import engine.sampling.sampler as sampler_mod

    real = sampler_mod.decode
    sizes = []

    def flaky(model, plan, *a, **k):
        sizes.append(plan.values.shape[0])
        if plan.values.shape[0] > 4:
            raise torch.OutOfMemoryError("simulated: more than 4 molecules")
        return real(model, plan, *a, **k)

    monkeypatch.setattr(sampler_mod, "decode", flaky)
    result = sample(ckpt, REWARD, SampleSettings(method="base", n=10, device="cpu"))
    assert len(result.molecules) == 10 and sizes[:3] == [10, 5, 2]


@pytest.mark.parametrize("bad, message", [
    (dict(method="magic"), "unknown method"), (dict(ys=1), "from 2 to 64"),
    (dict(ys=65), "from 2 to 64"), (dict(n=0), "positive integer"),
    (dict(temperature=0), "temperature"), (dict(top_p=1.5), "top-p"),
    (dict(target={"mass": 300.0}), "unknown target properties"),
    (dict(precision="int8"), "unknown precision"),
    (dict(gamma=-1.0), "gamma must be a number from 0"), (dict(gamma=1e6), "to 64"),
    (dict(candidates=0), "candidates per molecule"), (dict(candidates=2.5), "candidates"),
])
def test_bad_settings(bad, message):
    with pytest.raises(SamplingError, match=message):
        SampleSettings(**bad)


def test_without_a_reward_base_gives_properties_only(ckpt):
    result = sample(ckpt, None, SampleSettings(method="base", n=3, device="cpu"))
    assert "reward" not in result.molecules and result.summary["mean_reward"] is None
    with pytest.raises(SamplingError, match="needs a reward"):
        sample(ckpt, None, SampleSettings(method="rcfg", n=3, device="cpu"))


def test_half_precision_needs_cuda(ckpt):
    with pytest.raises(SamplingError, match="needs a CUDA device"):
        sample(ckpt, REWARD, SampleSettings(method="base", n=2, device="cpu", precision="bf16"))


def test_user_target_conditions_on_a_subset(ckpt, monkeypatch):
    """Every molecule is conditioned on the given property alone, at its value; the other
    properties are masked out (left for the model to choose)."""
    import engine.sampling.sampler as sampler_mod

    plans, real = [], sampler_mod.decode

    def spy(model, plan, *a, **k):
        plans.append(plan)
        return real(model, plan, *a, **k)

    monkeypatch.setattr(sampler_mod, "decode", spy)
    result = sample(ckpt, REWARD, SampleSettings(method="conditional", n=4, device="cpu",
                                                 target={"tpsa": 60.0}))
    assert len(result.molecules) == 4
    (plan,) = plans
    tpsa = PROPERTY_NAMES.index("tpsa")
    assert plan.mask.shape == (4, 1, len(PROPERTY_NAMES))
    assert plan.mask[..., tpsa].all() and int(plan.mask.sum()) == 4   # tpsa, nothing else
    raw = np.full(len(PROPERTY_NAMES), np.nan)
    raw[tpsa] = 60.0
    expected = torch.tensor(ckpt.normalize(raw)[tpsa], dtype=torch.float32)
    assert torch.allclose(plan.values[..., tpsa], expected)


def test_cli_sample_writes_csv(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "s.csv"
    code = main(["sample", "--checkpoint", str(tiny_checkpoint), "--n", "6", "--method",
                 "rcfg", "--ys", "3", "--reward", "drug_like", "--out", str(out),
                 "--device", "cpu"])
    assert code == 0
    frame = pd.read_csv(out)
    assert len(frame) == 6
    assert {"smiles", "valid", "reward", "nll", "method", "gamma", "ys", "seed"} <= set(frame)
    assert list(frame.columns[-len(ALERT_AND_FLAG_COLUMNS) - 1:]) == [*ALERT_AND_FLAG_COLUMNS,
                                                                      "scaffold"]
    printed = capsys.readouterr().out
    assert "normalized score" in printed
    assert "share of valid molecules with" in printed or "alerts: no valid molecule" in printed


def test_cli_condition_without_reward(tiny_checkpoint, tmp_path):
    out = tmp_path / "c.csv"
    assert main(["sample", "--checkpoint", str(tiny_checkpoint), "--n", "3", "--condition",
                 "tpsa=70", "--out", str(out), "--device", "cpu"]) == 0
    frame = pd.read_csv(out)
    assert (frame["method"] == "conditional").all()
    assert "reward" not in frame and not any(c.startswith("d_") for c in frame)


@pytest.mark.parametrize("argv, message", [
    (["--condition", "tpsa"], "expected NAME=NUMBER"),
    (["--condition", "weight=3"], "unknown target properties"),
    (["--method", "rcfg"], "needs --reward"),
    (["--reward", "no_such_preset"], "no_such_preset"),
    (["--ys", "100", "--reward", "drug_like", "--method", "rcfg"], "from 2 to 64"),
    (["--candidates", "3"], "--candidates needs --reward"),
    (["--gamma", "-1", "--reward", "drug_like"], "gamma must be a number from 0"),
    (["--candidates", "0", "--reward", "drug_like"], "candidates per molecule must be"),
])
def test_cli_errors(tiny_checkpoint, tmp_path, capsys, argv, message):
    code = main(["sample", "--checkpoint", str(tiny_checkpoint), "--n", "2",
                 "--out", str(tmp_path / "x.csv"), "--device", "cpu", *argv])
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("kw, match", [
    (dict(advantage="rank"), "allowed: z, relative"),
    (dict(plausibility=1.5), "from 0 \\(off\\) to 1"),
    (dict(plausibility=-0.1), "from 0 \\(off\\) to 1"),
    (dict(q_weights="uniform"), "allowed: posterior, prior"),
])
def test_bad_guidance_settings_name_what_is_allowed(kw, match):
    with pytest.raises(SamplingError, match=match):
        SampleSettings(**kw)


def test_qtilt_prior_weights_differ_from_the_posterior(ckpt):
    runs = {w: sample(ckpt, REWARD, SampleSettings(method="qtilt", q_weights=w, n=12, ys=3,
                                                   seed=4, device="cpu")).molecules
            for w in ("posterior", "prior")}
    assert (runs["posterior"]["smiles"] != runs["prior"]["smiles"]).any()
    assert {"advantage", "plausibility", "grammar"} <= set(runs["prior"].columns)


def test_settings_a_method_ignores_do_not_name_its_runs():
    from engine.project import run_name

    base = SampleSettings(method="base", gamma=3.0, ys=8, advantage="relative",
                          plausibility=0.0, q_weights="prior", temperature=0.8)
    assert run_name(base.in_use()) == "base, n=100 (T=0.8)"
    rcfg = SampleSettings(method="rcfg", gamma=3.0, ys=8, advantage="relative",
                          q_weights="prior")
    assert "Q weights" not in run_name(rcfg.in_use())
    assert {"γ=3", "|Y_S|=8", "advantage=relative"} <= set(
        run_name(rcfg.in_use()).split(" (")[1].rstrip(")").split(", "))


def test_sample_with_a_reward_uses_the_dashboards_default_method(tiny_checkpoint, tmp_path,
                                                                 capsys):
    out = tmp_path / "default.csv"
    assert main(["sample", "--checkpoint", str(tiny_checkpoint), "--reward", "drug_like",
                 "--n", "3", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    spec = METHODS[M_DEFAULT]
    assert (frame["method"] == M_DEFAULT).all()
    assert (frame["candidates"] == spec.default_candidates).all()
    assert (frame["gamma"] == spec.default_gamma).all()
    printed = capsys.readouterr().out
    assert f"cost: {3 * spec.default_candidates} forward rows" in printed
    assert "decoding" in printed and "scoring" in printed
    assert main(["sample", "--checkpoint", str(tiny_checkpoint), "--reward", "drug_like",
                 "--n", "2", "--method", "base", "--out", str(tmp_path / "b.csv")]) == 0
    assert (pd.read_csv(tmp_path / "b.csv")["candidates"] == 1).all()   # base: as asked
