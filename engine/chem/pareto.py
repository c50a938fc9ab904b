"""The Pareto (non-dominated) front of two objectives."""
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
