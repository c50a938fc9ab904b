"""The Pareto (non-dominated) front of two objectives, and a reward term's goal as an
objective."""
from __future__ import annotations

import numpy as np


def non_dominated(x: np.ndarray, y: np.ndarray, x_higher: bool, y_higher: bool) -> np.ndarray:
    """(N,) True for the points no other point beats on both axes (ties kept once).

    x_higher / y_higher say whether larger is better on that axis. Never raises on NaN: a
    point with a NaN coordinate does not change the others' result, but its own flag is
    meaningless, so callers drop non-finite points first (the app marks them off the front)."""
    sx, sy = (x if x_higher else -x), (y if y_higher else -y)
    front = np.zeros(len(x), dtype=bool)
    best = -np.inf
    for i in np.lexsort((-sy, -sx)):  # best x first; among equal x, best y first
        if sy[i] > best:
            front[i], best = True, sy[i]
    return front


def goal_distance(term, values: np.ndarray) -> np.ndarray:
    """(N,) how far each raw value is from where `term`'s desirability is 1, in the
    property's units: 0 inside that region, growing outside it (maximize: below `high`;
    minimize: above `low`; range: outside [low, high]). Lower is better; NaN stays NaN.

    As a Pareto objective this follows the reward: a CNS molecule with logP 2.5 meets a
    "minimize logP, 1 at 2.5" term as fully as one with logP -1.4, so neither beats the
    other on that axis."""
    x = np.asarray(values, dtype=float)
    if term.goal == "maximize":
        out = np.maximum(0.0, term.high - x)
    elif term.goal == "minimize":
        out = np.maximum(0.0, x - term.low)
    else:
        out = np.maximum(0.0, np.maximum(term.low - x, x - term.high))
    return np.where(np.isnan(x), np.nan, out)


def goal_margin(term, values: np.ndarray) -> np.ndarray:
    """(N,) by how much each raw value meets `term`'s goal, in the property's units: beyond
    `high` (maximize), below `low` (minimize), or from the nearer end of [low, high] (range);
    negative where the goal is missed. Larger is better; NaN stays NaN. Breaks the ties of
    `goal_distance` among molecules that all meet the goal: the widest margin first."""
    x = np.asarray(values, dtype=float)
    if term.goal == "maximize":
        return x - term.high
    if term.goal == "minimize":
        return term.low - x
    return np.minimum(x - term.low, term.high - x)


def lexicographic(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(N,) one larger-is-better objective ranking by `first`, then by `second` on ties:
    dense ranks from 1, equal only for equal pairs; NaN where either is NaN."""
    first, second = np.asarray(first, float), np.asarray(second, float)
    out = np.full(len(first), np.nan)
    ok = np.flatnonzero(np.isfinite(first) & np.isfinite(second))
    order = ok[np.lexsort((second[ok], first[ok]))]
    pairs = np.stack([first[order], second[order]], axis=1)
    new = np.r_[True, np.any(np.diff(pairs, axis=0) != 0, axis=1)] if len(order) else []
    out[order] = np.cumsum(new)
    return out
