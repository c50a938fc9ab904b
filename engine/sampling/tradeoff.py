"""The trade-off explorer: several weightings between two objectives, sampled in one batch.

Objectives A and B are two terms of one reward (`term_pair`) or two rewards
(`reward_pair`). Weighting w is the weight on A, from 1 (all A) to 0 (all B), and steers
with its own reward. A DecodePlan's Y_S rewards are per molecule, so the plans of all
weightings are concatenated and decoded together: each molecule's advantages come from
its own weighting's reward, at the cost of one wider batch instead of one run per
weighting. Every molecule is then scored with its weighting's reward and with the
desirability of A and of B; the per-weighting means are the achieved front.
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from engine.chem.properties import PROPERTY_NAMES
from engine.chem.rewards import Reward, RewardError
from engine.chem.scoring import score_molecules
from engine.sampling import methods as M
from engine.model.likelihood import base_log_likelihood
from engine.sampling.decoder import DecodePlan
from engine.sampling.sampler import (SETTING_COLUMNS, SampleSettings, SamplingError,
                                     bank_rewards, build_plan, decode_molecules,
                                     prepare_device, target_vector)

WEIGHTS = (1.0, 0.75, 0.5, 0.25, 0.0)
# Methods whose plan depends on the reward (Y_S rewards or y*): base and best-of-N decode
# the same unguided molecules whatever the weighting.
METHODS = tuple(k for k, m in M.METHODS.items() if m.rows != "null")


@dataclass(frozen=True)
class Blend:
    """w r_A(y) + (1 - w) r_B(y): the reward of one weighting between two rewards. It scores
    like a `Reward`, invalid rows included (both give them 0, so does the blend)."""

    a: Reward
    b: Reward
    w: float

    @property
    def name(self) -> str:
        return f"{self.w:g} × {self.a.name} + {1 - self.w:g} × {self.b.name}"

    def score(self, values) -> np.ndarray:
        """(N,) rewards in [0, 1]; same inputs and errors as `Reward.score`."""
        return self.w * self.a.score(values) + (1.0 - self.w) * self.b.score(values)

    @property
    def structures(self) -> tuple:
        """The structure terms of both rewards (see `Reward.structures`)."""
        return self.a.structures + self.b.structures

    @property
    def steering(self) -> Blend | None:
        """The blend of both rewards' steering parts (see `Reward.steering`); None when
        either has no property term."""
        if not self.structures:
            return self
        a, b = self.a.steering, self.b.steering
        return None if a is None or b is None else Blend(a, b, self.w)


@dataclass(frozen=True)
class Pair:
    """Objectives A and B and the reward that steers each weighting between them.

    `a` and `b` measure the front: their scores are "the desirability of A / B". With
    `within` (two terms of that reward, see `term_pair`) weighting w is `within` with A's
    and B's weights reweighted; without it (see `reward_pair`) it is the `Blend` of a and b.
    Build it with `term_pair` or `reward_pair`, which validate it.
    """

    a: Reward
    b: Reward
    within: Reward | None = None

    @property
    def name(self) -> str:
        if self.within is None:
            return f"{self.a.name} vs {self.b.name}"
        return f"{self.a.properties[0]} vs {self.b.properties[0]} in {self.within.name}"

    def _shares(self, w: float) -> dict[str, float]:
        """A's and B's weights in `within` at weighting w: their combined weight split
        w : (1 - w), so every other term keeps its share of the reward at every weighting."""
        pa, pb = self.a.properties[0], self.b.properties[0]
        total = sum(t.weight for t in self.within.terms if t.property in (pa, pb))
        return {pa: w * total, pb: (1.0 - w) * total}

    def steering(self, w: float) -> str:
        """How weighting w steers, in a few words: the two terms' weights, or the blend."""
        w = _weight(w)
        if self.within is None:
            return f"{w:g} × A + {1 - w:g} × B"
        return " / ".join(f"{p} {v:g}" for p, v in self._shares(w).items())

    def reward_at(self, w: float) -> Reward | Blend:
        """The reward of weighting w (the weight on A); SamplingError unless w is in [0, 1]."""
        w = _weight(w)
        if self.within is None:
            return Blend(self.a, self.b, w)
        share = self._shares(w)
        terms = tuple(replace(t, weight=share.get(t.property, t.weight))
                      for t in self.within.terms)
        return replace(self.within, terms=terms, key="",
                       name=f"{self.within.name} · {self.steering(w)}")


def term_pair(reward: Reward, prop_a: str, prop_b: str) -> Pair:
    """A and B are the terms of `reward` on properties `prop_a` and `prop_b`.

    Weighting w is the full `reward` with A's and B's combined weight split w : (1 - w)
    and every other term as it is: a chemist asks what B gains when A gives way *with the
    rest of the profile held*, and the weighting they pick is a setting of the two weight
    sliders. (Keeping only the two terms would show molecules that break the rest of the
    profile.) The desirability of A is A's term desirability.
    Raises RewardError when the properties are equal, not terms of `reward`, or both have
    weight 0 (then no weighting moves anything).
    """
    if prop_a == prop_b:
        raise RewardError(f"the two terms must differ, got {prop_a!r} twice")
    terms = {t.property: t for t in reward.terms}
    missing = [p for p in (prop_a, prop_b) if p not in terms]
    if missing:
        raise RewardError(f"{', '.join(map(repr, missing))} is not a term of reward "
                          f"{reward.name!r}; its terms: {', '.join(terms)}")
    if terms[prop_a].weight + terms[prop_b].weight <= 0:
        raise RewardError(f"terms {prop_a} and {prop_b} both have weight 0 in {reward.name!r}, "
                          "so no weighting can move between them; give one a weight > 0")
    a, b = (Reward(name=f"d({p})", terms=(replace(terms[p], weight=1.0),))
            for p in (prop_a, prop_b))
    return Pair(a, b, within=reward)


def conflicting_terms(reward: Reward, values) -> tuple[str, str]:
    """The two terms of `reward` whose desirabilities are least correlated over `values`
    (e.g. the prior bank, (N, 25)): the pair most worth trading off. A term that is the
    same for every molecule (e.g. molecular weight below the bound for all of MOSES) has
    nothing to trade and is only picked when fewer than two others vary; ties go to term
    order. Raises RewardError for a reward with fewer than two terms."""
    props = reward.properties
    if len(props) < 2:
        raise RewardError(f"reward {reward.name!r} has {len(props)} term; a trade-off needs two")
    d = reward.desirabilities(values)
    d = d[~np.isnan(d).any(axis=1)]                                        # (N, terms)
    varies = [j for j in range(len(props)) if len(d) > 1 and d[:, j].std() > 0]
    if len(varies) < 2:
        return props[0], props[1]
    corr = np.corrcoef(d[:, varies].T)
    corr[np.diag_indices_from(corr)] = np.inf
    i, j = np.unravel_index(int(np.argmin(corr)), corr.shape)
    return props[varies[min(i, j)]], props[varies[max(i, j)]]


def reward_pair(reward_a: Reward, reward_b: Reward) -> Pair:
    """A and B are two rewards; weighting w steers with w r_A + (1 - w) r_B (a `Blend`, since
    two rewards with other aggregates or shared properties are not one `Reward`). Raises
    RewardError when they are the same reward."""
    if reward_a == reward_b:
        raise RewardError(f"the two rewards are the same ({reward_a.name!r}); pick two "
                          "different ones")
    return Pair(reward_a, reward_b)


def weightings(count: int) -> tuple[float, ...]:
    """`count` weightings evenly from all-A (1) to all-B (0); count=5 gives WEIGHTS. Raises
    SamplingError for fewer than 2."""
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 2:
        raise SamplingError(f"a trade-off needs at least 2 weightings, got {count!r}")
    return tuple(round(1.0 - i / (count - 1), 6) for i in range(count))


def _weight(w) -> float:
    if isinstance(w, bool) or not isinstance(w, numbers.Real) or not 0 <= w <= 1:
        raise SamplingError(f"weighting {w!r} is not allowed: a weighting is the weight on A, "
                            "a number from 0 (all B) to 1 (all A)")
    return float(w)


def check_weights(weights) -> tuple[float, ...]:
    """The weightings as floats; raises SamplingError unless there are at least 2, each a
    number in [0, 1] (the weight on A), none repeated."""
    ws = tuple(_weight(w) for w in weights)
    if len(ws) < 2 or len(set(ws)) < len(ws):
        raise SamplingError(f"a trade-off needs at least 2 different weightings, got "
                            f"{list(ws)}")
    return ws


def check_settings(s: SampleSettings) -> None:
    """Raises SamplingError when the settings cannot steer a trade-off: a method whose
    molecules do not depend on the reward, or a target vector (the same for every
    weighting)."""
    if s.method not in METHODS:
        raise SamplingError(f"method {s.method} cannot steer a trade-off (its molecules do not "
                            f"depend on the weighting); allowed: {', '.join(METHODS)}")
    if s.target:
        raise SamplingError("a target vector steers every weighting to the same place; leave "
                            "the target unset for a trade-off")
    if s.candidates != 1:
        raise SamplingError(f"the trade-off explorer keeps every molecule it draws (got "
                            f"{s.candidates} candidates per molecule); use 1")


def stack_plans(plans: list[DecodePlan]) -> DecodePlan:
    """The molecules of several plans, in order, as one plan; the knobs (method, gamma,
    sampling, grammar) are the first plan's, as all were built from the same settings."""
    first = plans[0]
    rewards = None if first.rewards is None else torch.cat([p.rewards for p in plans])
    return replace(first, values=torch.cat([p.values for p in plans]),
                   mask=torch.cat([p.mask for p in plans]), rewards=rewards)


@dataclass
class TradeoffResult:
    molecules: pd.DataFrame  # one row per molecule; `weighting` is its weight on A
    front: pd.DataFrame      # one row per weighting (see `front`)
    pair: Pair
    settings: SampleSettings
    summary: dict            # wall_time_s, molecules_per_s, device, batches, rows per molecule


def tradeoff(ckpt, pair: Pair, settings: SampleSettings, weights=WEIGHTS,
             progress=None) -> TradeoffResult:
    """Sample `settings.n` molecules per weighting in one batched decode (chunked only when
    the rows exceed `settings.max_rows`) and score each with its own weighting's reward.

    Each weighting draws its Y_S with `settings.seed` (the vectors `sample` would draw), so
    all weightings see the same prior vectors and differ only by their rewards; one token
    generator runs through the whole batch.
    `progress(done, total)` over all weightings' molecules. Raises SamplingError on bad
    weights or settings (see `check_weights`, `check_settings`).
    """
    s, weights = settings, check_weights(weights)
    check_settings(s)
    device = prepare_device(ckpt, s)
    t0 = time.perf_counter()
    plans = []
    for w in weights:
        r_bank = bank_rewards(ckpt, pair.reward_at(w))
        target = (target_vector(ckpt, r_bank, None)
                  if M.METHODS[s.method].rows in ("target", "null+target") else None)
        plans.append(build_plan(ckpt, s, s.n, np.random.default_rng(s.seed), device, r_bank,
                                target))
    plan = stack_plans(plans)
    sequences = decode_molecules(ckpt, s, len(plans) * s.n, s.rows_per_molecule, device,
                                 progress, lambda start, n: plan.take(slice(start, start + n)))
    tok = ckpt.tokenizer
    frame = score_tradeoff([tok.decode(seq) for seq in sequences], pair, weights)
    frame["nll"] = -base_log_likelihood(ckpt.model, sequences, tok.bos_id, tok.eos_id, device)
    for col in SETTING_COLUMNS:
        frame[col] = getattr(s, col)
    wall = time.perf_counter() - t0
    summary = {"wall_time_s": wall, "molecules_per_s": len(frame) / wall,
               "device": str(device), "forward_rows_per_molecule": s.rows_per_molecule,
               # decode calls, as chunked by max_rows (a CUDA out-of-memory retry adds more)
               "batches": math.ceil(len(frame) / max(1, s.max_rows // s.rows_per_molecule))}
    return TradeoffResult(frame, front(frame, pair), pair, s, summary)


def score_tradeoff(smiles: list[str], pair: Pair, weights) -> pd.DataFrame:
    """The molecules table of SMILES sampled as equal consecutive blocks, one per weighting
    in `weights` order: `weighting`, validity, `reward` under the block's own weighting,
    the desirabilities of A and B (NaN for invalid molecules), the 25 properties and, for
    two terms of one reward, that reward's `d_<property>` columns. Raises SamplingError
    when the SMILES do not split evenly into the weightings."""
    weights = check_weights(weights)
    n = len(smiles) // len(weights)
    if n * len(weights) != len(smiles):
        raise SamplingError(f"{len(smiles)} molecules do not split evenly into "
                            f"{len(weights)} weightings")
    frame = score_molecules(smiles, pair.within)
    valid = frame["valid"].to_numpy(bool)
    out = pd.DataFrame({
        "weighting": np.repeat(weights, n),
        "smiles": frame["smiles"], "valid": frame["valid"],
        "reward": np.concatenate([pair.reward_at(w).score(frame.iloc[i * n:(i + 1) * n])
                                  for i, w in enumerate(weights)]),
        "desirability_a": np.where(valid, pair.a.score(frame), np.nan),
        "desirability_b": np.where(valid, pair.b.score(frame), np.nan)})
    d_cols = [c for c in frame.columns if c.startswith("d_")]  # the terms of `within`
    return pd.concat([out, frame[[*PROPERTY_NAMES, *d_cols]]], axis=1)


def front(molecules: pd.DataFrame, pair: Pair) -> pd.DataFrame:
    """One row per weighting, in the order sampled: how it steers (`Pair.steering`), n,
    validity, mean reward (invalid = 0, as everywhere), and the mean and standard error of
    the desirability of A and of B over the *valid* molecules (validity is reported beside
    them); a mean is NaN without valid molecules, a standard error below two."""
    rows = []
    for w, group in molecules.groupby("weighting", sort=False):
        valid = group[group["valid"]]
        rows.append({"weighting": w, "steering": pair.steering(w), "n": len(group),
                     "validity": float(group["valid"].mean()),
                     "mean_reward": float(group["reward"].mean()),
                     "mean_a": valid["desirability_a"].mean(),
                     "se_a": valid["desirability_a"].sem(),
                     "mean_b": valid["desirability_b"].mean(),
                     "se_b": valid["desirability_b"].sem()})
    return pd.DataFrame(rows)
