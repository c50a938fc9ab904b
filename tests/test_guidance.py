"""Guidance rules on hand-checkable cases."""
import math

import pytest
import torch

from engine.sampling import guidance


def _logp(*rows):
    return torch.log(torch.tensor(rows, dtype=torch.float32))


def test_advantages_are_population_z_scores():
    adv = guidance.advantages(torch.tensor([[0.0, 1.0], [0.2, 0.2]]))
    torch.testing.assert_close(adv[0], torch.tensor([-1.0, 1.0]), atol=1e-5, rtol=0)
    assert torch.all(adv[1] == 0)  # equal rewards: no guidance


def test_gamma_zero_gives_the_base_distribution():
    l0 = _logp([0.5, 0.3, 0.2])
    lk = torch.log_softmax(torch.randn(1, 4, 3), -1)
    out = guidance.rcfg(l0, lk, guidance.advantages(torch.rand(1, 4)), gamma=0.0)
    torch.testing.assert_close(out, l0)


def test_rcfg_with_two_branches_is_positive_vs_negative_cfg():
    l0 = _logp([0.5, 0.3, 0.2])
    lk = torch.stack([_logp([0.2, 0.2, 0.6])[0], _logp([0.6, 0.3, 0.1])[0]])[None]  # (1, 2, 3)
    rewards = torch.tensor([[0.9, 0.1]])  # branch 0 is the positive one
    gamma = 2.0
    out = guidance.rcfg(l0, lk, guidance.advantages(rewards), gamma)
    # A = (+1, -1) (up to eps): l0 + gamma/2 * (l_pos - l_neg)
    expected = l0 + gamma / 2 * (lk[:, 0] - lk[:, 1])
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


def test_rcfg_hand_computed_value():
    l0 = torch.tensor([[0.0, 0.0]])
    lk = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])
    adv = torch.tensor([[1.0, -1.0, 0.0]])
    out = guidance.rcfg(l0, lk, adv, gamma=3.0)
    torch.testing.assert_close(out, torch.tensor([[1.0, -1.0]]))


def test_cfg_weight_one_is_the_conditional():
    l0, l1 = _logp([0.5, 0.5]), _logp([0.9, 0.1])
    torch.testing.assert_close(guidance.cfg(l0, l1, 1.0), l1)
    torch.testing.assert_close(guidance.cfg(l0, l1, 0.0), l0)


def test_qtilt_gamma_one_is_reward_weighted_posterior_mixture():
    lk = torch.log(torch.tensor([[[0.7, 0.3], [0.2, 0.8]]]))       # (1, K=2, V=2)
    c = torch.tensor([[math.log(3.0), 0.0]])                        # w = (0.75, 0.25)
    r = torch.tensor([[0.2, 0.6]])
    out = guidance.qtilt(lk, c, r, gamma=1.0)
    w = torch.tensor([0.75, 0.25])
    expected = torch.log((w * r[0])[:, None].mul(lk[0].exp()).sum(0))
    torch.testing.assert_close(out[0], expected)
    # normalized, this is the SIR distribution over branches
    probs = torch.softmax(out[0], 0)
    torch.testing.assert_close(probs, (w * r[0]) @ lk[0].exp() / (w * r[0]).sum())


def test_qtilt_gamma_zero_is_the_posterior_mixture_and_zero_rewards_fall_back():
    lk = torch.log_softmax(torch.randn(2, 3, 5), -1)
    c = torch.randn(2, 3)
    mix = torch.logsumexp(torch.log_softmax(c, 1)[:, :, None] + lk, 1)
    torch.testing.assert_close(guidance.qtilt(lk, c, torch.rand(2, 3), 0.0), mix)
    out = guidance.qtilt(lk, c, torch.zeros(2, 3), 2.0)
    torch.testing.assert_close(out, mix)
    assert torch.isfinite(out).all()


def test_qtilt_equal_branches_and_uniform_prior_reduce_to_base():
    l = torch.log_softmax(torch.randn(1, 1, 4), -1).expand(1, 3, 4)
    out = guidance.qtilt(l, torch.zeros(1, 3), torch.tensor([[0.1, 0.5, 0.9]]), gamma=2.0)
    torch.testing.assert_close(torch.log_softmax(out, -1), l[:, 0], atol=1e-5, rtol=0)


def test_top_p_keeps_the_nucleus_only():
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.08, 0.02]])).expand(2000, 4)
    gen = torch.Generator().manual_seed(0)
    tokens = guidance.sample_tokens(logits, 1.0, 0.8, gen)
    assert set(tokens.tolist()) == {0, 1}
    tokens = guidance.sample_tokens(logits, 1.0, 0.5, gen)
    assert set(tokens.tolist()) == {0}


def test_temperature_sharpens():
    logits = torch.log(torch.tensor([[0.6, 0.4]])).expand(4000, 2)
    gen = torch.Generator().manual_seed(0)
    cold = guidance.sample_tokens(logits, 0.25, 1.0, gen).float().mean()
    warm = guidance.sample_tokens(logits, 1.0, 1.0, gen).float().mean()
    assert cold < 0.25 < warm == pytest.approx(0.4, abs=0.04)


def test_relative_advantages_divide_by_the_mean():
    adv = guidance.advantages(torch.tensor([[0.8, 1.0], [0.2, 0.2], [0.0, 0.0]]), "relative")
    torch.testing.assert_close(adv[0], torch.tensor([-0.1 / 0.9, 0.1 / 0.9]), atol=1e-5,
                               rtol=0)
    assert torch.all(adv[1:] == 0)  # equal (or all-zero) rewards: no guidance
    # where the prior already scores well, z-scores push mean/std times harder
    r = torch.tensor([[0.8, 0.9, 1.0]])
    ratio = guidance.advantages(r, "z") / guidance.advantages(r, "relative")
    torch.testing.assert_close(ratio[0, 0], r.mean() / r.std(unbiased=False), atol=1e-3,
                               rtol=0)
    with pytest.raises(ValueError, match="allowed: z, relative"):
        guidance.advantages(r, "rank")


def test_plausibility_keeps_tokens_near_the_base_maximum():
    l0 = _logp([0.5, 0.3, 0.04, 0.16])
    keep = guidance.plausible(l0, 0.1)                     # threshold 0.05
    assert keep.tolist() == [[True, True, False, True]]
    assert guidance.plausible(l0, 0.0) is None             # alpha 0: nothing masked
    assert guidance.plausible(l0, 1.0).tolist() == [[True, False, False, False]]


def test_plausibility_is_relative_to_the_best_allowed_token():
    l0 = _logp([0.5, 0.3, 0.04, 0.16])
    allowed = torch.tensor([[False, False, True, True]])   # the grammar removed the top two
    keep = guidance.plausible(l0, 0.5, allowed)            # 0.5 * 0.16 = 0.08
    assert keep.tolist() == [[False, False, False, True]]  # never empty
    assert guidance.plausible(l0, 0.0, allowed) is allowed
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        guidance.plausible(l0, 1.5)


def test_qtilt_with_uniform_weights_is_the_prior_estimate():
    """c = 0 (prior weights): N(a) - M(a) = log sum_i r_i pi_i(a) - log sum_i pi_i(a)."""
    lk = torch.log_softmax(torch.randn(1, 3, 4), -1)
    r = torch.tensor([[0.2, 0.5, 0.9]])
    out = guidance.qtilt(lk, torch.zeros(1, 3), r, gamma=1.0)
    expected = torch.log((r[0, :, None] * lk[0].exp()).sum(0) / 3)
    torch.testing.assert_close(out[0], expected, atol=1e-5, rtol=0)
