"""Every run of the session under the current reward, and two runs side by side."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import state
from app.components import results

ss = st.session_state
SETTINGS = ("method", "gamma", "ys", "n", "temperature", "top_p", "seed")
METRICS = (("mean_reward", "mean reward", "{:.3f}"), ("base_mean_reward", "base mean", "{:.3f}"),
           ("normalized_score", "normalized score", "{:.2f}"), ("validity", "validity", "{:.1%}"),
           ("uniqueness", "uniqueness", "{:.1%}"), ("novelty", "novelty", "{:.1%}"),
           ("wall_time_s", "time (s)", "{:.1f}"), ("molecules_per_s", "molecules/s", "{:.1f}"))


def _row(run: state.Run, reward) -> dict:
    s = results.summary(run, reward)
    return {"run": run.label, "started": run.started,
            **{k: run.settings[k] for k in SETTINGS},
            "sampled for": run.reward.name, "checkpoint": run.checkpoint,
            **{name: s.get(k) for k, name, _ in METRICS}}


def _side(run: state.Run, reward, other: state.Run | None) -> None:
    s, o = results.summary(run, reward), other and results.summary(other, reward)
    st.markdown(f"**{run.label}** · {run.started} · sampled for *{run.reward.name}*")
    cols = st.columns(4)
    for i, (key, name, fmt) in enumerate(METRICS):
        value = s.get(key)
        delta = None
        if o is not None and value is not None and o.get(key) is not None:
            delta = f"{value - o[key]:+.3g} vs other"
        cols[i % 4].metric(name, "n/a" if value is None else fmt.format(value), delta,
                           delta_color="off" if key in ("wall_time_s",) else "normal")


def render(reward) -> None:
    runs = state.runs()
    table = pd.DataFrame([_row(r, reward) for r in runs])
    st.dataframe(table, hide_index=True, column_config={
        "normalized score": st.column_config.NumberColumn(format="%.2f"),
        "mean reward": st.column_config.NumberColumn(format="%.3f"),
        "base mean": st.column_config.NumberColumn(format="%.3f")})
    st.caption(f"Metrics under the current reward, {reward.name}.")
    if len(runs) < 2:
        st.info("Generate a second run to compare two runs side by side.")
        return
    ids = [r.id for r in runs]
    for key, default in (("hist::a", ids[-2]), ("hist::b", ids[-1])):
        if ss.get(key) not in ids:
            ss[key] = default
    left, right = st.columns(2)
    a = state.run_by_id(left.selectbox("Run A", ids, key="hist::a",
                                       format_func=state.run_labels().get))
    b = state.run_by_id(right.selectbox("Run B", ids, key="hist::b",
                                        format_func=state.run_labels().get))
    with left:
        _side(a, reward, b)
    with right:
        _side(b, reward, a)
    fig = go.Figure()
    for run, color in ((a, results.PALETTE[0]), (b, results.PALETTE[3])):
        fig.add_histogram(x=results.molecules(run, reward)["reward"], name=run.label,
                          histnorm="probability", opacity=0.55, marker_color=color,
                          xbins={"start": 0, "end": 1.0001, "size": 0.025})
    fig.update_layout(barmode="overlay", height=320, margin={"t": 30}, xaxis_range=[0, 1],
                      xaxis_title=f"reward ({reward.name})", yaxis_title="fraction of molecules",
                      legend={"orientation": "h", "y": 1.15})
    st.plotly_chart(fig, key="hist::plot")
    diff = {k: (a.settings[k], b.settings[k]) for k in SETTINGS if a.settings[k] != b.settings[k]}
    if diff:
        st.caption("Settings that differ: " + ", ".join(
            f"{k} {va} → {vb}" for k, (va, vb) in diff.items()))
