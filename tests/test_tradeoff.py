"""The trade-off explorer: all weightings in one decode, each molecule steered and scored by
its own weighting's reward, the front, the errors and the CLI twin."""
import numpy as np
import pandas as pd
import pytest
import torch

import engine.sampling.sampler as sampler_mod
from engine.chem.rewards import Reward, RewardError, Term
from engine.bench import tradeoff as bench
from engine.cli import main
from engine.model.checkpoint import load_checkpoint
from engine.sampling.sampler import SampleSettings, SamplingError, bank_rewards
from engine.sampling.tradeoff import (WEIGHTS, Blend, check_weights, conflicting_terms, front,
                                      reward_pair, term_pair, tradeoff, weightings)

SMALL = Reward(name="small", terms=(Term("mw", "minimize", 250.0, 400.0),))
POLAR = Reward(name="polar", terms=(Term("tpsa", "range", 60.0, 90.0, ramp=30.0),
                                    Term("logp", "maximize", 0.0, 3.0)))
PROFILE = Reward(name="profile", terms=(Term("mw", "minimize", 250.0, 400.0, weight=2.0),
                                        Term("tpsa", "range", 60.0, 90.0, ramp=30.0),
                                        Term("logp", "maximize", 0.0, 3.0, weight=3.0)))


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


@pytest.fixture
def decode_calls(monkeypatch):
    """Every plan the sampler hands to the decoder."""
    real, plans = sampler_mod.decode, []

    def spy(model, plan, *args, **kwargs):
        plans.append(plan)
        return real(model, plan, *args, **kwargs)

    monkeypatch.setattr(sampler_mod, "decode", spy)
    return plans


def test_all_weightings_in_one_decode_each_with_its_own_rewards(ckpt, decode_calls):
    n, ys = 4, 3
    pair = reward_pair(SMALL, POLAR)
    result = tradeoff(ckpt, pair, SampleSettings(method="rcfg", n=n, ys=ys, seed=7,
                                                device="cpu"))
    assert len(decode_calls) == 1 and result.summary["batches"] == 1
    plan = decode_calls[0]
    assert plan.values.shape[:2] == (len(WEIGHTS) * n, 1 + ys)
    # every weighting draws Y_S with the seed; its rows carry its own reward of those vectors
    idx = np.random.default_rng(7).integers(0, len(ckpt.bank), size=(n, ys))
    r_a, r_b = bank_rewards(ckpt, SMALL), bank_rewards(ckpt, POLAR)
    for i, w in enumerate(WEIGHTS):
        block = plan.rewards[i * n:(i + 1) * n].numpy()
        assert np.allclose(block, (w * r_a + (1 - w) * r_b)[idx], atol=1e-6), w
    assert np.allclose(plan.rewards[:n].numpy(), r_a[idx], atol=1e-6)        # w = 1: all A
    assert np.allclose(plan.rewards[-n:].numpy(), r_b[idx], atol=1e-6)       # w = 0: all B
    frame = result.molecules
    assert frame["weighting"].tolist() == [w for w in WEIGHTS for _ in range(n)]
    for w, group in frame.groupby("weighting"):
        assert np.allclose(group["reward"], pair.reward_at(w).score(group))
    assert frame.loc[~frame["valid"], "desirability_a"].isna().all()
    assert {"smiles", "nll", "method", "seed", "mw", "tpsa"} <= set(frame.columns)
    assert result.front["weighting"].tolist() == list(WEIGHTS)
    assert (result.front["n"] == n).all()


def test_chunks_keep_the_weighting_order(ckpt, decode_calls):
    s = SampleSettings(method="rcfg", n=3, ys=2, device="cpu", max_rows=3 * 4)  # 4 per chunk
    result = tradeoff(ckpt, term_pair(PROFILE, "tpsa", "logp"), s, weights=(1.0, 0.0, 0.5))
    assert [p.values.shape[0] for p in decode_calls] == [4, 4, 1]
    assert result.summary["batches"] == 3
    assert result.molecules["weighting"].tolist() == [1.0] * 3 + [0.0] * 3 + [0.5] * 3


def test_tilted_draws_each_weighting_its_own_profiles(ckpt, decode_calls):
    result = tradeoff(ckpt, reward_pair(SMALL, POLAR),
                      SampleSettings(method="tilted", gamma=64.0, n=30, candidates=1, seed=3,
                                     device="cpu"), weights=(1.0, 0.0))
    values = decode_calls[0].values                   # (60, 1, P): one drawn profile each
    assert values.shape[:2] == (60, 1)
    bank = torch.as_tensor(ckpt.normalize(ckpt.bank_values()), dtype=torch.float32)
    for i, reward in enumerate((SMALL, POLAR)):       # each block drew by its own reward
        rows = values[i * 30:(i + 1) * 30, 0]
        idx = [int(torch.cdist(r[None], torch.nan_to_num(bank)).argmin()) for r in rows]
        r_bank = bank_rewards(ckpt, reward)
        assert r_bank[idx].mean() > r_bank.mean()
        assert r_bank[idx].mean() >= np.quantile(r_bank, 0.75)
    assert result.summary["forward_rows_per_molecule"] == 1


def test_cfg_steers_each_weighting_towards_its_own_best_vector(ckpt, decode_calls):
    tradeoff(ckpt, reward_pair(SMALL, POLAR), SampleSettings(method="cfg", n=2, device="cpu"),
             weights=(1.0, 0.0))
    values = decode_calls[0].values                   # (4, 2, P): null row, then y*
    best = [ckpt.normalize(ckpt.bank_values()[int(np.argmax(bank_rewards(ckpt, r)))])
            for r in (SMALL, POLAR)]
    assert np.allclose(values[0, 1].numpy(), np.nan_to_num(best[0]), atol=1e-5)
    assert np.allclose(values[2, 1].numpy(), np.nan_to_num(best[1]), atol=1e-5)


def test_two_terms_share_their_weight_and_keep_the_rest():
    pair = term_pair(PROFILE, "tpsa", "logp")
    weights = {w: {t.property: t.weight for t in pair.reward_at(w).terms} for w in (1, .25, 0)}
    assert weights[1] == {"mw": 2.0, "tpsa": 4.0, "logp": 0.0}
    assert weights[.25] == {"mw": 2.0, "tpsa": 1.0, "logp": 3.0}
    assert weights[0] == {"mw": 2.0, "tpsa": 0.0, "logp": 4.0}
    values = pd.DataFrame({"mw": [300.0], "tpsa": [120.0], "logp": [1.5]})
    assert pair.a.score(values)[0] == 0.0 and pair.b.score(values)[0] == 0.5  # d(tpsa), d(logp)
    assert pair.reward_at(0.5).aggregate == PROFILE.aggregate


def test_default_terms_are_the_least_correlated_varying_pair():
    values = pd.DataFrame({"mw": [300.0, 350.0, 380.0, 420.0],   # d(mw) falls
                           "tpsa": [70.0, 70.0, 70.0, 70.0],     # d(tpsa) = 1 throughout
                           "logp": [0.5, 1.0, 2.0, 2.5]})        # d(logp) rises
    assert conflicting_terms(PROFILE, values) == ("mw", "logp")
    flat = values.assign(logp=1.0)
    assert conflicting_terms(PROFILE, flat) == ("mw", "tpsa")     # fewer than two vary
    with pytest.raises(RewardError, match="has 1 term; a trade-off needs two"):
        conflicting_terms(SMALL, values)


def test_blend_of_two_rewards():
    values = pd.DataFrame({"mw": [325.0], "tpsa": [75.0], "logp": [0.0]})
    r_a, r_b = SMALL.score(values)[0], POLAR.score(values)[0]
    assert Blend(SMALL, POLAR, 0.25).score(values)[0] == pytest.approx(0.25 * r_a + 0.75 * r_b)


def test_front_means_over_valid_molecules_with_standard_errors():
    molecules = pd.DataFrame({
        "weighting": [1.0, 1.0, 1.0, 0.0, 0.0],
        "valid": [True, True, False, False, False],
        "reward": [0.5, 1.0, 0.0, 0.0, 0.0],
        "desirability_a": [0.2, 0.6, np.nan, np.nan, np.nan],
        "desirability_b": [1.0, 1.0, np.nan, np.nan, np.nan]})
    table = front(molecules, reward_pair(SMALL, POLAR))
    first, last = table.iloc[0], table.iloc[1]
    assert first["validity"] == pytest.approx(2 / 3) and first["mean_reward"] == 0.5
    assert first["mean_a"] == pytest.approx(0.4)
    assert first["se_a"] == pytest.approx(np.std([0.2, 0.6], ddof=1) / np.sqrt(2))
    assert first["se_b"] == 0.0 and first["steering"] == "1 × A + 0 × B"
    assert last["validity"] == 0 and np.isnan(last["mean_a"]) and np.isnan(last["se_b"])


def test_weightings_are_even_from_all_a_to_all_b():
    assert weightings(5) == WEIGHTS
    assert weightings(2) == (1.0, 0.0)
    with pytest.raises(SamplingError, match="at least 2 weightings, got 1"):
        weightings(1)


@pytest.mark.parametrize("weights, message", [
    ((1.0, 1.5), "weighting 1.5 is not allowed"),
    ((1.0, -0.1), "weighting -0.1 is not allowed"),
    ((0.5,), "at least 2 different weightings"),
    ((0.5, 0.5), "at least 2 different weightings"),
    ((1.0, "x"), "weighting 'x' is not allowed"),
])
def test_bad_weights(weights, message):
    with pytest.raises(SamplingError, match=message):
        check_weights(weights)


def test_pair_errors_name_the_problem():
    with pytest.raises(RewardError, match="must differ, got 'tpsa' twice"):
        term_pair(PROFILE, "tpsa", "tpsa")
    with pytest.raises(RewardError, match="'qed' is not a term of reward 'profile'; its terms: "
                                          "mw, tpsa, logp"):
        term_pair(PROFILE, "qed", "tpsa")
    zero = Reward("z", (Term("mw", "minimize", 1, 2), Term("qed", "maximize", 0, 1, weight=0),
                        Term("logp", "maximize", 0, 1, weight=0)))
    with pytest.raises(RewardError, match="both have weight 0"):
        term_pair(zero, "qed", "logp")
    with pytest.raises(RewardError, match="the two rewards are the same"):
        reward_pair(POLAR, Reward.from_dict(POLAR.to_dict(), key="another"))


@pytest.mark.parametrize("settings, message", [
    (dict(method="base"), "method base cannot steer a trade-off"),
    (dict(method="base", candidates=3), "allowed: tilted, rcfg, qtilt, cfg, conditional"),
    (dict(method="tilted", candidates=3), "keeps every molecule it draws"),
    (dict(method="conditional", target={"tpsa": 60.0}), "leave the target unset"),
])
def test_settings_that_cannot_steer_a_tradeoff(ckpt, settings, message):
    with pytest.raises(SamplingError, match=message):
        tradeoff(ckpt, reward_pair(SMALL, POLAR),
                 SampleSettings(**{"n": 2, "device": "cpu", **settings}))


def test_cli_twin(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "tradeoff.csv"
    assert main(["tradeoff", "--checkpoint", str(tiny_checkpoint), "--reward", "cns_penetrant",
                 "--terms", "tpsa", "logp", "--n", "3", "--ys", "2", "--weightings", "3",
                 "--device", "cpu", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert frame["weighting"].tolist() == [1.0] * 3 + [0.5] * 3 + [0.0] * 3
    assert "w(A) 0.50" in capsys.readouterr().out
    assert main(["tradeoff", "--checkpoint", str(tiny_checkpoint), "--rewards", "cns_penetrant",
                 "drug_like", "--n", "2", "--ys", "2", "--device", "cpu", "--out", str(out),
                 "--force"]) == 0
    assert len(pd.read_csv(out)) == 2 * len(WEIGHTS)
    assert main(["tradeoff", "--reward", "cns_penetrant", "--out", str(out)]) == 2
    assert "--reward needs --terms" in capsys.readouterr().err
    assert main(["tradeoff", "--reward", "cns_penetrant", "--terms", "tpsa", "qed",
                 "--out", str(out)]) == 2
    assert "'qed' is not a term" in capsys.readouterr().err


def test_benchmark_times_both_ways(tiny_checkpoint, capsys):
    assert bench.main(["--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--n", "2",
                       "--ys", "2", "--weightings", "2"]) == 0
    out = capsys.readouterr().out
    assert "| one batch (`tradeoff`) |" in out and "| one by one (`sample` x 2) |" in out
    assert "one by one / one batch = " in out
