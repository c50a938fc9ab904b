"""Scoring tables: one row per molecule with validity, the 25 properties and (given a reward)
its value and each term's desirability, and the summary figures of such a table.

Used by the sampler, training, benchmarks and the dashboard; nothing here samples.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.chem.properties import PROPERTY_NAMES, batch_properties


def score_molecules(smiles: list[str], reward=None) -> pd.DataFrame:
    """Properties (canonical SMILES where valid), plus `reward` and `d_<property>` columns
    when a reward is given."""
    props = batch_properties(smiles, canonical=True)
    # one dtype whatever the content (a chunk of invalid molecules alone would be object)
    props["smiles"] = (props["canonical_smiles"].where(props["valid"], props["smiles"])
                       .astype(str))
    props = props.drop(columns=["canonical_smiles"])
    return props if reward is None else rescore(props, reward)


def rescore(frame: pd.DataFrame, reward) -> pd.DataFrame:
    """Replace `reward` and `d_*` columns for a new reward, without re-sampling."""
    frame = frame.drop(columns=[c for c in frame.columns
                                if c == "reward" or c.startswith("d_")])
    scored = reward.evaluate(frame)
    cols = ["smiles", "valid", "reward", *PROPERTY_NAMES,
            *[c for c in scored.columns if c.startswith("d_")]]
    return scored[cols + [c for c in scored.columns if c not in cols]]


def best_of_groups(frame: pd.DataFrame, group: int) -> pd.DataFrame:
    """The highest-reward row of each consecutive group of `group` rows (first on ties),
    with the frame's index kept."""
    n = len(frame) // group
    rewards = frame["reward"].to_numpy()[:n * group].reshape(n, group)
    pick = np.arange(n) * group + rewards.argmax(1)
    return frame.iloc[pick]


def summarize(frame: pd.DataFrame, bank_smiles: set[str], r_star: float | None,
              base_mean_reward: float | None) -> dict:
    """Mean reward (invalid = 0, and over valid molecules only), normalized score,
    validity, uniqueness and novelty of a result table.

    Reward figures are None for a table without a `reward` column (and the valid-only mean
    when no molecule is valid)."""
    valid = frame["valid"].to_numpy(bool)
    unique = set(frame.loc[valid, "smiles"])
    mean_r = mean_valid = None
    if "reward" in frame:
        mean_r = float(frame["reward"].fillna(0).mean()) if len(frame) else 0.0
        mean_valid = float(frame.loc[valid, "reward"].mean()) if valid.any() else None
    score = None
    if (mean_r is not None and r_star is not None and base_mean_reward is not None
            and r_star - base_mean_reward > 1e-12):
        score = (mean_r - base_mean_reward) / (r_star - base_mean_reward)
    return {
        "n": int(len(frame)),
        "mean_reward": mean_r,
        "mean_reward_valid": mean_valid,     # over valid molecules only: why a run won or lost
        "base_mean_reward": base_mean_reward,
        "r_star": r_star,
        "normalized_score": score,
        "validity": float(valid.mean()) if len(frame) else 0.0,
        "uniqueness": len(unique) / max(1, int(valid.sum())),
        "novelty": len(unique - bank_smiles) / max(1, len(unique)),
    }
