"""Guidance rules as pure functions on next-token log-probabilities (fp32).

Shapes: M molecules, K conditional branches, V vocabulary. Each rule returns unnormalized
log-weights (M, V); temperature and top-p are applied afterwards by `sample_tokens`.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def advantages(rewards: torch.Tensor, rule: str = "z", eps: float = 1e-6) -> torch.Tensor:
    """Advantages of rewards (M, K) within each molecule's Y_S.

    `z`: (r - mean) / (std + eps), population std (the paper's rule). `relative`:
    (r - mean) / (mean + eps), the first-order expansion of log Q around the prior mean
    (docs/METHOD.md). All-equal rewards give all-zero advantages, so RCFG falls back to
    plain sampling; so does an all-zero Y_S under `relative`.
    """
    mean = rewards.mean(dim=1, keepdim=True)
    if rule == "z":
        scale = rewards.std(dim=1, unbiased=False, keepdim=True)
    elif rule == "relative":
        scale = mean
    else:
        raise ValueError(f"unknown advantage rule {rule!r}; allowed: z, relative")
    return (rewards - mean) / (scale + eps)


def rcfg(l0: torch.Tensor, lk: torch.Tensor, adv: torch.Tensor, gamma: float) -> torch.Tensor:
    """RCFG: l0 (M, V) + (gamma / K) * sum_i A_i (l_i - l0), with lk (M, K, V), adv (M, K)."""
    K = lk.shape[1]
    return l0 + (gamma / K) * torch.einsum("mk,mkv->mv", adv, lk - l0[:, None, :])


def cfg(l0: torch.Tensor, l1: torch.Tensor, weight: float) -> torch.Tensor:
    """Classifier-free guidance towards one condition: l0 + w (l1 - l0); all (M, V)."""
    return l0 + weight * (l1 - l0)


def posterior_weights(c: torch.Tensor) -> torch.Tensor:
    """log w_i = log softmax_i(c_i) for cumulative log likelihood ratios c (M, K)."""
    return torch.log_softmax(c, dim=1)


def qtilt(lk: torch.Tensor, c: torch.Tensor, rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Q-tilt: (1 - gamma) M(a) + gamma N(a) (see docs/METHOD.md).

    lk (M, K, V) branch log-probs, c (M, K) cumulative log likelihood ratios of each branch
    over the tokens so far, rewards (M, K) >= 0. Molecules whose rewards are all zero get
    the posterior mixture M(a) alone.
    """
    log_w = posterior_weights(c)[:, :, None]                       # (M, K, 1)
    mix = torch.logsumexp(log_w + lk, dim=1)                       # (M, V)
    log_r = torch.log(rewards.clamp_min(0.0))[:, :, None]          # (M, K, 1), -inf at r = 0
    tilted = torch.logsumexp(log_w + log_r + lk, dim=1)            # (M, V)
    out = (1.0 - gamma) * mix + gamma * tilted
    no_reward = (rewards <= 0).all(dim=1)                          # (M,)
    return torch.where(no_reward[:, None], mix, out)


def tilt_weights(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Reward-tilted conditioning: P(y_j) = r_j^gamma / sum_k r_k^gamma over the prior bank's
    rewards (N,) in [0, 1] (docs/METHOD.md). gamma = 0 is uniform (a random training
    profile); r = 0 gets no mass while gamma > 0. When every reward is 0 there is nothing
    to favour: uniform. Computed in log space, so a large gamma does not underflow."""
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    r = np.asarray(rewards, dtype=np.float64)
    if gamma == 0 or not (r > 0).any():
        return np.full(len(r), 1.0 / len(r))
    with np.errstate(divide="ignore"):
        log_w = gamma * np.log(np.clip(r, 0.0, None))
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def effective_draws(weights: np.ndarray) -> float:
    """1 / sum_j P_j^2: how many distinct bank vectors the draws effectively spread over."""
    return float(1.0 / np.square(weights).sum())


def plausible(l0: torch.Tensor, alpha: float, allowed: torch.Tensor | None = None
              ) -> torch.Tensor | None:
    """Adaptive plausibility constraint: (M, V) bool, True where the base model gives
    pi(a) >= alpha * max_b pi(b), the maximum taken over the `allowed` tokens (M, V) when
    given; the result is then also within `allowed`. l0 (M, V) base log-probs.

    alpha = 0 keeps every token: returns `allowed` unchanged (None when none was given).
    The base model's most likely allowed token always stays, so no row is left empty.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"plausibility alpha must be in [0, 1], got {alpha}")
    if alpha == 0.0:
        return allowed
    if allowed is not None:
        l0 = l0.masked_fill(~allowed, float("-inf"))
    keep = l0 >= l0.max(dim=-1, keepdim=True).values + math.log(alpha)
    return keep if allowed is None else keep & allowed


def sample_tokens(logits: torch.Tensor, temperature: float, top_p: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Temperature, then nucleus sampling on softmax(logits / T): (M, V) -> tokens (M,)."""
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        outside = sorted_p.cumsum(dim=-1) - sorted_p > top_p   # the top token always stays
        sorted_p = sorted_p.masked_fill(outside, 0.0)
        choice = torch.multinomial(sorted_p, 1, generator=generator)  # (M, 1)
        return order.gather(1, choice).squeeze(1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
