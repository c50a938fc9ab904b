"""Every sampling method's facts in one table, and the guidance defaults.

The decoder, the sampler, the CLI, the dashboard and distillation all read this module;
nothing else restates which method uses gamma, |Y_S| or a reward, which knobs name a run,
or how many forward rows it costs. Selection (M candidates per output molecule, keep the
best by the reward) applies to every method and multiplies its rows by M; best-of-N is the
base model with N candidates. The defaults were chosen by measurement: `python -m
engine.bench.cost` (BENCHMARKS.md, "Guidance at matched cost").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from engine.errors import UserError

ADVANTAGES = ("z", "relative")          # RCFG weights: z-scores or (r - mean) / mean
Q_WEIGHTS = ("posterior", "prior")      # Q-tilt branch weights: running posterior or uniform

# "Make analogues" / `sample --analogues-of`: the conditional model on the lead's profile
# (with the reward's goals put in), keeping the best of this many candidates (lead
# optimization benchmark, BENCHMARKS.md: the only arm that reached the similarity window)
ANALOGUE_METHOD, ANALOGUE_CANDIDATES = "conditional", 16
DEFAULT_METHOD = "tilted"               # what a reward gets when no method is named
DEFAULT_CANDIDATES = 4                  # the default method's candidates per molecule
DEFAULT_GAMMA = 1.0                     # RCFG, Q-tilt and CFG
DEFAULT_YS = 16
DEFAULT_ADVANTAGE = "z"
DEFAULT_PLAUSIBILITY = 0.1
DEFAULT_Q_WEIGHTS = "posterior"
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 0.95
GAMMA_RANGE = (0.0, 64.0)               # every method: 0 = no push; beyond 64 nothing changes
MAX_CANDIDATES = 128
# molecules per dashboard request (BENCHMARKS.md, "Dashboard"); the speed benchmark times
# the same request
DASHBOARD_N = 192


@dataclass(frozen=True)
class Method:
    """One sampling method. `rows` is the condition rows each candidate decodes with:
    null (unconditional), target (y* or the user's target), null+target (CFG), null+ys
    (1 + |Y_S| for RCFG and Q-tilt), drawn (one bank vector drawn per candidate with
    P(y) proportional to r(y)^gamma)."""

    key: str
    label: str            # the name on screen
    summary: str          # one line for help texts
    rule: str             # guidance rule in the decoder: none, cfg, rcfg or qtilt
    rows: str
    uses_gamma: bool
    uses_ys: bool
    reward: str           # needs a reward: "yes", "or_target" (or a target vector), "no"
    default_gamma: float = DEFAULT_GAMMA
    default_candidates: int = 1
    knobs: tuple[str, ...] = ()   # further settings the method reads (they name a run)

    def rows_per_candidate(self, ys: int) -> int:
        """Forward rows per decoded molecule."""
        return {"null+ys": 1 + ys, "null+target": 2}.get(self.rows, 1)

    def rows_per_molecule(self, ys: int, candidates: int = 1) -> int:
        """Forward rows per output molecule: each of its `candidates` decodes its rows."""
        return self.rows_per_candidate(ys) * candidates

    @property
    def guided(self) -> bool:
        """Mixes a base row with conditional rows (the plausibility constraint applies)."""
        return self.rule != "none"

    @property
    def conditional(self) -> bool:
        """Decodes with one condition vector per candidate (y*, a target or a drawn one)."""
        return self.rows in ("target", "drawn")


METHODS: dict[str, Method] = {m.key: m for m in (
    Method("tilted", "Reward-tilted", "asks each molecule for the property profile of a "
           "training molecule drawn at random, favouring profiles that score well on your "
           "reward (γ: how strongly); exact for a faithful model, and as cheap as the base "
           "model (ML: reward-tilted conditioning, P(y) ∝ r(y)^γ, 1 row)", "none", "drawn",
           True, False, "yes", default_gamma=16.0, default_candidates=DEFAULT_CANDIDATES),
    Method("rcfg", "RCFG", "steers each molecule toward the property profiles of |Y_S| "
           "random training molecules that score well on your reward and away from those "
           "that score poorly (ML: reward-weighted classifier-free guidance, 1 + |Y_S| rows)",
           "rcfg", "null+ys", True, True, "yes", knobs=("advantage", "plausibility")),
    Method("qtilt", "Q-tilt", "favours each next atom or bond by the reward it is expected to "
           "lead to, judged from the same |Y_S| profiles weighted by how well each fits the "
           "SMILES so far (ML: Q-tilt, posterior-weighted; 1 + |Y_S| rows)", "qtilt",
           "null+ys", True, True, "yes", knobs=("q_weights", "plausibility")),
    Method("cfg", "CFG toward y*", "pushes every molecule toward one profile: the "
           "best-scoring training molecule's (y*), or your target values (ML: classifier-free "
           "guidance with weight γ, 2 rows)", "cfg", "null+target", True, False, "or_target",
           knobs=("plausibility",)),
    Method("conditional", "Conditional on y*", "asks for molecules with the best-scoring "
           "training molecule's profile (y*), or your target values, with no extra push (ML: "
           "conditional sampling, 1 row)", "none", "target", False, False, "or_target"),
    Method("base", "Base model", "molecules like the training set, ignoring the reward (ML: "
           "unconditional model, 1 row); with N candidates per molecule it is best-of-N",
           "none", "null", False, False, "no"),
)}


def method(key: str) -> Method:
    """The method named `key`; raises ValueError listing the allowed names."""
    if key not in METHODS:
        raise ValueError(f"unknown method {key!r}; allowed: {', '.join(METHODS)}")
    return METHODS[key]


def from_stored(settings: dict) -> dict:
    """Stored run settings in today's terms: a run of the former `best_of_n` method
    (N = 1 + ys) is the base model with N candidates."""
    if settings.get("method") != "best_of_n":
        return settings
    return {**settings, "method": "base", "candidates": 1 + int(settings.get("ys", DEFAULT_YS))}


class SamplingError(UserError):
    """Sampling settings that cannot be used, with the allowed values."""


def _option(help: str = "", **cli) -> dict:
    """Field metadata for the field's command-line option (engine.cli.common.decoding_option):
    its help ("{whose}" is filled with e.g. "teacher's "), and optionally `flag` (a bool
    field's --no-... switch), `choices` and `metavar`."""
    return {"help": help, **cli}


_GAMMA_DEFAULTS = ", ".join(f"{k} {m.default_gamma:g}" for k, m in METHODS.items()
                            if m.uses_gamma)


@dataclass(frozen=True, kw_only=True)
class Decoding:
    """How each token is drawn: the one home of the decoding settings, their defaults and
    their bounds. `SampleSettings` (a sampling request) and `FinetuneConfig` (the teacher
    and policy samples of a training run) extend it, so they share its fields, defaults
    and check and their stored JSON stays flat; every `DecodePlan` carries one, and the
    CLI's options are generated from the fields' metadata. Raises SamplingError naming the
    first value out of range and what is allowed. `gamma` None means the method's own
    default, filled in by the settings that know the method."""

    gamma: float | None = field(default=None, metadata=_option(
        f"how greedy, {GAMMA_RANGE[0]:g}..{GAMMA_RANGE[1]:g} (default per method: "
        f"{_GAMMA_DEFAULTS})"))
    ys: int = field(default=DEFAULT_YS, metadata=_option("|Y_S| (K) of RCFG and Q-tilt, 2..64"))
    temperature: float = field(default=DEFAULT_TEMPERATURE, metadata=_option())
    top_p: float = field(default=DEFAULT_TOP_P, metadata=_option())
    advantage: str = field(default=DEFAULT_ADVANTAGE, metadata=_option(
        "{whose}RCFG advantage rule: z-scores of the Y_S rewards, or relative (r - mean) / "
        "mean (docs/METHOD.md)", choices=ADVANTAGES))
    plausibility: float = field(default=DEFAULT_PLAUSIBILITY, metadata=_option(
        "{whose}plausibility constraint for guided methods: keep tokens the base model gives "
        "at least ALPHA x its top token's probability (0 = off)", metavar="ALPHA"))
    q_weights: str = field(default=DEFAULT_Q_WEIGHTS, metadata=_option(
        "Q-tilt branch weights: the running posterior, or uniform (the exact-prior estimate)",
        choices=Q_WEIGHTS))
    # mask tokens that would make a SMILES unparsable (engine/sampling/grammar.py)
    grammar: bool = field(default=True, metadata=_option(
        "turn off grammar-safe decoding, ring checks included (for measurement)",
        flag="--no-grammar"))
    # with the grammar: refuse ring closures RDKit cannot make a molecule of
    ring_check: bool = field(default=True, metadata=_option(
        "keep the grammar but let ring closures through that RDKit cannot kekulize or that "
        "overfill an atom (for measurement)", flag="--no-ring-check"))

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        if self.advantage not in ADVANTAGES:
            raise SamplingError(f"unknown advantage rule {self.advantage!r}; allowed: "
                                f"{', '.join(ADVANTAGES)}")
        if self.q_weights not in Q_WEIGHTS:
            raise SamplingError(f"unknown Q-tilt weights {self.q_weights!r}; allowed: "
                                f"{', '.join(Q_WEIGHTS)}")
        if not (isinstance(self.plausibility, (int, float)) and 0 <= self.plausibility <= 1):
            raise SamplingError(f"plausibility must be a number from 0 (off) to 1, got "
                                f"{self.plausibility!r}")
        if isinstance(self.ys, bool) or not isinstance(self.ys, int) or not 2 <= self.ys <= 64:
            raise SamplingError(f"|Y_S| (ys) must be an integer from 2 to 64, got {self.ys!r}")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
                and self.temperature > 0):
            raise SamplingError(f"temperature must be > 0, got {self.temperature}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise SamplingError(f"top-p must be in (0, 1], got {self.top_p}")
        low, high = GAMMA_RANGE
        if self.gamma is not None and not (isinstance(self.gamma, (int, float))
                                           and low <= self.gamma <= high):
            raise SamplingError(f"gamma must be a number from {low:g} (no push) to {high:g}, "
                                f"got {self.gamma!r}; a negative gamma pushes away from the "
                                "reward")
        for name in ("grammar", "ring_check"):
            if not isinstance(getattr(self, name), bool):
                raise SamplingError(f"{name} must be true or false, got "
                                    f"{getattr(self, name)!r}")

    @property
    def decoding(self) -> Decoding:
        """The decoding settings alone (of a SampleSettings or FinetuneConfig)."""
        return Decoding(**{f.name: getattr(self, f.name) for f in fields(Decoding)})


DECODING_FIELDS = tuple(f.name for f in fields(Decoding))
# the model's own next-token distribution: no temperature, no truncation, no grammar (the
# quality benchmark's unconditional samples, tests of the decoder)
MODEL_DISTRIBUTION = Decoding(temperature=1.0, top_p=1.0, plausibility=0.0, grammar=False,
                              ring_check=False)
