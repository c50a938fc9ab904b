"""The time a sampling request takes before it runs (engine/sampling/estimate.py): its
forward rows, the rate that times it, and the seconds at given rates."""
from engine.sampling import estimate as E
from engine.sampling.sampler import SampleSettings


def test_forward_rows_count_every_candidate_and_the_base_set():
    rcfg = SampleSettings(method="rcfg", ys=64, n=2000)
    assert E.forward_rows(rcfg) == 65 * 2000
    assert E.forward_rows(rcfg, base=True) == 65 * 2000 + 2000    # the dashboard's 132,000
    tilted = SampleSettings(method="tilted", candidates=4, n=10)
    assert E.forward_rows(tilted) == 40


def test_one_row_methods_take_the_base_rate_and_guided_ones_their_own():
    assert E.rate_kind(SampleSettings(method="tilted", candidates=8)) == "base"
    assert E.rate_kind(SampleSettings(method="conditional")) == "base"
    assert E.rate_kind(SampleSettings(method="base", candidates=4)) == "base"
    assert E.rate_kind(SampleSettings(method="rcfg")) == "guided"
    assert E.rate_kind(SampleSettings(method="cfg")) == "guided"


def test_seconds_at_the_rates_and_none_while_a_rate_is_unknown():
    rcfg = SampleSettings(method="rcfg", ys=16, n=10)        # 17 rows per molecule
    rates = {"guided": 170.0, "base": 10.0}
    assert E.seconds(rcfg, rates) == 1.0
    assert E.seconds(rcfg, rates, base=True) == 2.0          # + 10 base rows at 10 rows/s
    assert E.seconds(rcfg, {"base": 10.0}) is None
    assert E.seconds(rcfg, {"guided": 170.0}) == 1.0
    assert E.seconds(rcfg, {"guided": 170.0}, base=True) is None
    tilted = SampleSettings(method="tilted", candidates=4, n=10)
    assert E.seconds(tilted, rates) == 4.0                    # 40 rows at the base rate
    assert set(E.TYPICAL_CPU_RATES) == {"guided", "base"}
