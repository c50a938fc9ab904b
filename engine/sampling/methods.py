"""Every sampling method's facts in one table, and the guidance defaults.

The decoder, the sampler, the CLI, the dashboard and distillation all read this module;
nothing else restates which method uses gamma, |Y_S| or a reward, or how many forward
rows it costs. The defaults were chosen by `python -m engine.bench.sweep` (BENCHMARKS.md,
"Choosing the guidance defaults").
"""
from __future__ import annotations

from dataclasses import dataclass

ADVANTAGES = ("z", "relative")          # RCFG weights: z-scores or (r - mean) / mean
Q_WEIGHTS = ("posterior", "prior")      # Q-tilt branch weights: running posterior or uniform

DEFAULT_GAMMA = 1.0
DEFAULT_YS = 16
DEFAULT_ADVANTAGE = "z"
DEFAULT_PLAUSIBILITY = 0.1
DEFAULT_Q_WEIGHTS = "posterior"
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 0.95
# molecules per dashboard request: with K = 16 on a 2-core CPU about 15 s to the first plots
# (BENCHMARKS.md, "Dashboard"); the speed benchmark times the same request
DEFAULT_N = 192


@dataclass(frozen=True)
class Method:
    key: str
    label: str            # the name on screen
    summary: str          # one line for help texts
    rule: str             # guidance rule in the decoder: none, cfg, rcfg or qtilt
    rows: str             # condition rows per molecule: null, target, null+target, null+ys
    uses_gamma: bool
    uses_ys: bool
    reward: str           # needs a reward: "yes", "or_target" (or a target vector), "no"

    def rows_per_molecule(self, ys: int) -> int:
        """Forward rows per output molecule (best-of-N decodes 1 + K base molecules)."""
        if self.rows == "null+ys" or self.key == "best_of_n":
            return 1 + ys
        return 2 if self.rows == "null+target" else 1

    @property
    def guided(self) -> bool:
        """Mixes a base row with conditional rows (the plausibility constraint applies)."""
        return self.rule != "none"


METHODS: dict[str, Method] = {m.key: m for m in (
    Method("rcfg", "RCFG", "steers each molecule toward the property profiles of |Y_S| "
           "random training molecules that score well on your reward and away from those "
           "that score poorly (ML: reward-weighted classifier-free guidance, 1 + |Y_S| rows)",
           "rcfg", "null+ys", True, True, "yes"),
    Method("qtilt", "Q-tilt", "favours each next atom or bond by the reward it is expected to "
           "lead to, judged from the same |Y_S| profiles weighted by how well each fits the "
           "SMILES so far (ML: Q-tilt, posterior-weighted; 1 + |Y_S| rows)", "qtilt",
           "null+ys", True, True, "yes"),
    Method("cfg", "CFG toward y*", "pushes every molecule toward one profile: the "
           "best-scoring training molecule's (y*), or your target values (ML: classifier-free "
           "guidance with weight γ, 2 rows)", "cfg", "null+target", True, False, "or_target"),
    Method("conditional", "Conditional on y*", "asks for molecules with the best-scoring "
           "training molecule's profile (y*), or your target values, with no extra push (ML: "
           "conditional sampling, 1 row)", "none", "target", False, False, "or_target"),
    Method("best_of_n", "Best-of-N", "makes N = 1 + |Y_S| ordinary molecules and keeps the "
           "highest-scoring one, at RCFG's cost (ML: best-of-N baseline)", "none", "null",
           False, True, "yes"),
    Method("base", "Base model", "molecules like the training set, ignoring the reward (ML: "
           "unconditional model, 1 row)", "none", "null", False, False, "no"),
)}


def method(key: str) -> Method:
    """The method named `key`; raises ValueError listing the allowed names."""
    if key not in METHODS:
        raise ValueError(f"unknown method {key!r}; allowed: {', '.join(METHODS)}")
    return METHODS[key]
