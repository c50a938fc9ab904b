"""One benchmark cell: a sample's mean reward with its standard error, against base."""
from __future__ import annotations

import numpy as np


def cell(rewards: np.ndarray, valid: np.ndarray, smiles, base: dict | None,
         r_star: float) -> dict:
    """Mean reward (invalid = 0) with its standard error, the mean over valid molecules,
    validity and uniqueness of one sample; with `base` (a cell of the base model), also
    the normalized score with the standard error of the difference to base (the two
    samples are independent) and that difference in standard errors."""
    n = len(rewards)
    mean = float(rewards.mean())
    se = float(rewards.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    out = {"n": n, "mean_reward": mean, "se": se, "validity": float(valid.mean()),
           "mean_reward_valid": float(rewards[valid].mean()) if valid.any() else 0.0,
           "uniqueness": len(set(np.asarray(smiles)[valid])) / max(1, int(valid.sum()))}
    if base is not None:
        span = max(r_star - base["mean_reward"], 1e-12)
        diff_se = float(np.hypot(se, base["se"]))
        out["normalized_score"] = (mean - base["mean_reward"]) / span
        out["normalized_se"] = diff_se / span
        out["delta_over_se"] = (mean - base["mean_reward"]) / max(diff_se, 1e-12)
    return out
