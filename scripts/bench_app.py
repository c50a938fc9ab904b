"""Dashboard timings with the shipped model, server side (Streamlit's AppTest runs the real
script): the first Generate with the defaults (the default method, then the base comparison set,
plots and grid built), when its first molecules were drawn and what the estimate shown
beforehand said, a second Generate with another gamma (base set cached), and a re-score
after a reward edit.

    python scripts/bench_app.py
"""
import os
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

TIMING = "s::timing"   # app/components/sampling.py: the last Generate's times
RATES = "s::rows_per_s"  # and the forward rows/s it measured
APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


def timed(label: str, action) -> None:
    t0 = time.perf_counter()
    action()
    print(f"| {label} | {time.perf_counter() - t0:.2f} s |", flush=True)


def main() -> None:
    # a new project: the first estimate is the one a first-time user sees (no rates kept)
    os.environ["RCFG_PROJECT"] = tempfile.mkdtemp(prefix="bench_app_")
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    n = at.number_input(key="s::n").value
    method = at.selectbox(key="s::method").value
    m = at.number_input(key=f"s::candidates::{method}").value
    print(f"| action (defaults: {n} molecules, {method}, {m} candidates each) | time |\n"
          "|---|---|")
    timed(f"first Generate ({method} run + base comparison set, all views)",
          lambda: at.button(key="s::generate").click().run())
    first = at.session_state[TIMING]
    print("\n".join(f"<!-- {line} -->" for line in first["phases"]))
    print(f"| first molecules drawn, first Generate | {first['first_molecules_s']:.2f} s |")
    print(f"| estimate shown before the first Generate (actual {first['total_s']:.2f} s, "
          f"ratio {first['total_s'] / first['estimate_s']:.2f}) | {first['estimate_s']:.2f} s |")
    rates = at.session_state[RATES]
    print("<!-- measured forward rows/s: " + ", ".join(f"{k} {v:.0f}" for k, v in rates.items())
          + " -->")
    gamma = at.slider(key=f"s::gamma::{method}")
    timed(f"second Generate, gamma {gamma.value + 1:g} (base set cached)",
          lambda: gamma.set_value(gamma.value + 1).run()
          .button(key="s::generate").click().run())
    second = at.session_state[TIMING]
    print(f"| first molecules drawn, second Generate | {second['first_molecules_s']:.2f} s |")
    print(f"| estimate from this session's rates (actual {second['total_s']:.2f} s, "
          f"ratio {second['total_s'] / second['estimate_s']:.2f}) | {second['estimate_s']:.2f} s |")
    high = at.number_input(key="rw::logp::high")  # the default preset has a logP term
    timed("re-score after moving the logP bound", lambda: high.set_value(high.value + 0.5).run())
    assert not at.exception, at.exception


if __name__ == "__main__":
    main()
