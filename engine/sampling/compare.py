"""The base model's comparison set and the normalized score: one home for both fronts.

Every guided run is judged against base-model molecules drawn with the same n, seed,
temperature, top-p and decoding checks, so the CLI, the dashboard and the benchmarks
report the same normalized score for the same request (the score itself:
`engine.chem.scoring.normalized_score`).
"""
from __future__ import annotations

from engine.sampling.sampler import SampleResult, SampleSettings, sample

# what a comparison set depends on, by setting name (the reward is not among them: the set
# is re-scored for any reward); a project finds a stored set by them (Project.find_base)
BASE_KEYS = ("n", "seed", "temperature", "top_p", "grammar", "ring_check")


def base_settings(s: SampleSettings) -> SampleSettings:
    """The base comparison set's settings for request `s`: the base model, one candidate,
    and the request's n, seed and decoding, decoded in one go (how the request itself is
    chunked does not change its comparison set)."""
    return SampleSettings(method="base", n=s.n, seed=s.seed, temperature=s.temperature,
                          top_p=s.top_p, grammar=s.grammar, ring_check=s.ring_check,
                          device=s.device, precision=s.precision)


def base_key(s: SampleSettings) -> tuple:
    """What the comparison set of `s` depends on (a cache key): its BASE_KEYS."""
    b = base_settings(s)
    return tuple(getattr(b, k) for k in BASE_KEYS)


def sample_base(ckpt, reward, s: SampleSettings, **kwargs) -> SampleResult:
    """The base comparison set of request `s` (`kwargs` go to `sample`)."""
    return sample(ckpt, reward, base_settings(s), **kwargs)
