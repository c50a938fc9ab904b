"""Dashboard timings with the shipped model, server side (Streamlit's AppTest runs the real
script): the first Generate with the defaults (base comparison set + RCFG run, plots and
grid built), a second Generate with another gamma (base set cached), and a re-score after
a reward edit.

    python scripts/bench_app.py
"""
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


def timed(label: str, action) -> None:
    t0 = time.perf_counter()
    action()
    print(f"| {label} | {time.perf_counter() - t0:.2f} s |", flush=True)


def main() -> None:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    n = at.number_input(key="s::n").value
    ys = at.slider(key="s::ys").value
    print(f"| action (defaults: {n} molecules, RCFG, |Y_S| = {ys}) | time |\n|---|---|")
    timed("first Generate (base comparison set + RCFG run, all views)",
          lambda: at.button(key="s::generate").click().run())
    timed("second Generate, gamma 1.5 (base set cached)",
          lambda: at.slider(key="s::gamma").set_value(1.5).run()
          .button(key="s::generate").click().run())
    high = at.number_input(key="rw::logp::high")  # the default preset has a logP term
    timed("re-score after moving the logP bound", lambda: high.set_value(high.value + 0.5).run())
    assert not at.exception, at.exception


if __name__ == "__main__":
    main()
