"""Every run of the session under the current reward, and two runs side by side."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import state
from app.components import results

ss = st.session_state
SETTINGS = ("method", "gamma", "ys", "n", "temperature", "top_p", "seed")
METRICS = (("mean_reward", "mean reward", "{:.3f}"), ("base_mean_reward", "base mean", "{:.3f}"),
           ("normalized_score", "normalized score", "{:.2f}"), ("validity", "validity", "{:.1%}"),
           ("uniqueness", "uniqueness", "{:.1%}"), ("novelty", "novelty", "{:.1%}"),
           ("wall_time_s", "time (s)", "{:.1f}"), ("molecules_per_s", "molecules/s", "{:.1f}"))
COLUMN_FORMAT = {"{:.3f}": "%.3f", "{:.2f}": "%.2f", "{:.1f}": "%.1f", "{:.1%}": "percent"}


def _row(run: state.Run, reward) -> dict:
    s = results.summary(run, reward)
    return {"run": run.label, **{name: s.get(k) for k, name, _ in METRICS},
            **{k: run.settings[k] for k in SETTINGS}, "sampled for": run.reward.name,
            "checkpoint": run.checkpoint, "started": run.started}


def _compare(a: state.Run, b: state.Run, reward) -> pd.DataFrame:
    """Metrics as rows; run A, run B and B - A as columns (text, formatted per metric)."""
    sa, sb = results.summary(a, reward), results.summary(b, reward)
    rows = []
    for key, name, fmt in METRICS:
        va, vb = sa.get(key), sb.get(key)
        diff = "n/a" if va is None or vb is None else fmt.replace("{:", "{:+").format(vb - va)
        rows.append({"metric": name, "A": "n/a" if va is None else fmt.format(va),
                     "B": "n/a" if vb is None else fmt.format(vb), "B - A": diff})
    return pd.DataFrame(rows)


def render(reward) -> None:
    runs = state.runs()
    st.dataframe(pd.DataFrame([_row(r, reward) for r in runs]), hide_index=True,
                 column_config={name: st.column_config.NumberColumn(format=COLUMN_FORMAT[fmt])
                                for _, name, fmt in METRICS})
    st.caption(f"Metrics under the current reward, {reward.name}.")
    if len(runs) < 2:
        st.info("Generate a second run to compare two runs side by side.")
        return
    ids = [r.id for r in runs]
    for key, default in (("hist::a", ids[-2]), ("hist::b", ids[-1])):
        if ss.get(key) not in ids:
            ss[key] = default
    names = state.run_labels()
    left, right = st.columns(2)
    a = state.run_by_id(left.selectbox("Run A", ids, key="hist::a", format_func=names.get))
    b = state.run_by_id(right.selectbox("Run B", ids, key="hist::b", format_func=names.get))
    table, plot = st.columns([1, 1])
    table.dataframe(_compare(a, b, reward), hide_index=True, column_config={
        "A": st.column_config.TextColumn(f"A (#{a.number})"),
        "B": st.column_config.TextColumn(f"B (#{b.number})")})
    series = [(f"#{run.number}", results.molecules(run, reward), color)
              for run, color in ((a, results.PALETTE[0]), (b, results.PALETTE[3]))]
    plot.plotly_chart(results.reward_histograms(series, reward, height=330), key="hist::plot")
    diff = {k: (a.settings[k], b.settings[k]) for k in SETTINGS if a.settings[k] != b.settings[k]}
    if a.reward != b.reward:
        diff["sampled for"] = (a.reward.name, b.reward.name)
    if diff:
        st.caption("Settings that differ: " + ", ".join(
            f"{k} {va} → {vb}" for k, (va, vb) in diff.items()))
