"""How long a sampling request takes, before it runs: its forward rows, and the seconds they
take at forward rows per second measured on earlier runs.

Two rates time a request. One-row methods (base, conditional, reward-tilted) decode and
score a candidate per row, so scoring weighs on each row ("base"); the guided methods'
wide batches of 1 + |Y_S| or 2 rows per candidate run more rows per second ("guided").
The base comparison set is a one-row request of n molecules.
"""
from __future__ import annotations

from engine.sampling.sampler import SampleSettings

# Before any measurement on a machine: CPU rates of the shipped model on an idle 2-core
# machine, scoring included (scripts/bench_app.py, BENCHMARKS.md "Dashboard"). No GPU
# default: GPUs vary too much.
TYPICAL_CPU_RATES = {"guided": 370.0, "base": 95.0}


def rate_kind(s: SampleSettings) -> str:
    """Which measured rate times `s`: "base" for a method of one row per candidate, else
    "guided"."""
    return "base" if s.spec.rows_per_candidate(s.ys) == 1 else "guided"


def forward_rows(s: SampleSettings, base: bool = False) -> int:
    """Forward rows of request `s`, every candidate counted, plus the n rows of its base
    comparison set when `base`."""
    return s.rows_per_molecule * s.n + (s.n if base else 0)


def seconds(s: SampleSettings, rates: dict[str, float], base: bool = False) -> float | None:
    """Seconds request `s` takes at `rates` (forward rows/s by `rate_kind`), its base
    comparison set included when `base`; None while a rate it needs is not in `rates`."""
    kind = rate_kind(s)
    if kind not in rates or (base and "base" not in rates):
        return None
    return s.rows_per_molecule * s.n / rates[kind] + (s.n / rates["base"] if base else 0.0)
