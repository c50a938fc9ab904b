"""The trade-off explorer: how much of objective B a chemist gains by giving up A. Several
weightings between two terms of the reward being edited (or two rewards) are sampled in one
batch with the sidebar's method; the achieved front is drawn over each weighting's
molecules and the base model's, and a box or lasso selection tells which weighting each
selected molecule came from."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import sample_colorscale

from app import labels, messages, resources
from app.components import reward_editor, sampling
from engine.errors import UserError
from engine.output import csv_text
from engine.sampling import estimate as E
from engine.sampling.tradeoff import (METHODS, WEIGHTS, conflicting_terms, reward_pair,
                                      term_pair, weightings)
from engine.sampling.tradeoff import tradeoff as sample_tradeoff

ss = st.session_state
OPEN, RESULT, PLOT = "tradeoff::open", "tradeoff::result", "tradeoff::plot"
TERMS, REWARDS = "Two terms of this reward", "Two rewards"
SCALE = [[0.0, "#3b5bdb"], [0.5, "#ae3ec9"], [1.0, "#f76707"]]  # all A -> all B
BASE_COLOR = "#868e96"


@st.cache_data(max_entries=64, show_spinner=False)
def _default_terms(_ckpt, ckpt_key: str, reward_toml: str, _reward) -> tuple[str, str]:
    return conflicting_terms(_reward, _ckpt.bank_values())


def _pair_inputs(ckpt, ckpt_key: str, reward):
    """The mode and the two objectives' widgets; returns a function building the Pair (it
    raises RewardError for a bad choice), or None when this reward has too few terms."""
    mode = st.radio("Trade off", (TERMS, REWARDS), horizontal=True, key="tradeoff::mode",
                    help="Set two properties of this reward, or two whole rewards, against "
                         "each other (ML: the two objectives).")
    left, right = st.columns(2)
    if mode == TERMS:
        props = list(reward.properties)
        if len(props) < 2:
            st.info(f"“{reward.name}” has one term; add a second term to the reward, or "
                    "trade off two rewards.", icon=":material/info:")
            return None
        defaults = _default_terms(ckpt, ckpt_key, reward.to_toml(), reward)
        for key, default in zip(("tradeoff::a", "tradeoff::b"), defaults):
            if ss.get(key) not in props:
                ss[key] = default
        hint = ("Starts at the two properties that most often pull against each other in the "
                "training molecules (ML: the least correlated desirabilities).")
        a = left.selectbox("A", props, key="tradeoff::a", format_func=labels.label, help=hint)
        b = right.selectbox("B", props, key="tradeoff::b", format_func=labels.label, help=hint)
        return lambda: term_pair(reward, a, b)
    choices = {"": reward, **reward_editor.presets()}
    name = {k: (f"This reward: {r.name}" if k == "" else r.name) for k, r in choices.items()}
    keys = list(choices)
    for key, default in (("tradeoff::ra", keys[0]), ("tradeoff::rb", keys[1 % len(keys)])):
        if ss.get(key) not in keys:
            ss[key] = default
    a = left.selectbox("Reward A", keys, key="tradeoff::ra", format_func=name.get)
    b = right.selectbox("Reward B", keys, key="tradeoff::rb", format_func=name.get)
    return lambda: reward_pair(choices[a], choices[b])


def _run(ckpt, ckpt_key: str, reward, sidebar, settings, make_pair, weights) -> None:
    """Sample the base set of the sidebar's settings (cached; Generate compares with the
    same one) and the trade-off with `settings`; keep both for the page."""
    bar = st.progress(0.0, text="Starting…")
    progress = sampling.progress_bar  # the sidebar's Generate bar, same wording
    try:
        pair = make_pair()
        base, _ = resources.base_set(ckpt, ckpt_key, sidebar, reward,
                                     progress=progress(bar, "Base model comparison set"))
        result = sample_tradeoff(ckpt, pair, settings, weights,
                                 progress=progress(bar, f"{len(weights)} weightings"))
    except UserError as exc:
        st.error(f"Trade-off not sampled: {messages.shown(exc)}", icon=":material/error:")
        return
    finally:
        bar.empty()
    ss[RESULT] = (result, base)
    ss.pop(PLOT, None)  # a selection on the previous plot means nothing on this one


def _objective(pair, which: str) -> str:
    """Objective A or B as a chemist reads it: the term's desirability, or the reward."""
    objective = pair.a if which == "A" else pair.b
    if pair.within is not None:
        return labels.label("d_" + objective.properties[0])
    return objective.name


def _span(values) -> list[float]:
    """An axis range around `values` (NaN ignored), padded, within the desirability axis."""
    lo, hi = np.nanmin(values), np.nanmax(values)
    pad = max(0.02, 0.15 * (hi - lo))
    return [max(-0.04, lo - pad), min(1.04, hi + pad)]


def _figure(result, base: pd.DataFrame, zoom: bool) -> go.Figure:
    pair, mols, table = result.pair, result.molecules, result.front
    colors = sample_colorscale(SCALE, np.linspace(0, 1, len(table)))
    fig = go.Figure()
    base_ok = base[base["valid"]]
    base_a, base_b = pair.a.score(base_ok), pair.b.score(base_ok)
    fig.add_scatter(x=base_a, y=base_b, mode="markers", hoverinfo="skip",
                    name=f"base model ({len(base_ok)} valid)",
                    marker={"color": BASE_COLOR, "size": 6, "opacity": 0.35})
    for color, w in zip(colors, table["weighting"]):
        cloud = mols[(mols["weighting"] == w) & mols["valid"]]
        fig.add_scatter(x=cloud["desirability_a"], y=cloud["desirability_b"], mode="markers",
                        name=f"w = {w:g}", customdata=cloud.index.to_numpy(),
                        text=cloud["smiles"],
                        hovertemplate="%{text}<br>A %{x:.3f}, B %{y:.3f}<extra>w = "
                                      f"{w:g}</extra>",
                        marker={"color": color, "size": 7, "opacity": 0.5})
    if len(base_ok):
        fig.add_scatter(x=[base_a.mean()], y=[base_b.mean()], mode="markers",
                        name="base model mean", hoverinfo="skip",
                        marker={"symbol": "x", "size": 13, "color": "#343a40"})
    ends = {1.0: "all A", 0.0: "all B"}
    fig.add_scatter(x=table["mean_a"], y=table["mean_b"], mode="lines+markers+text",
                    name="achieved front<br>(means ± SE)",
                    text=[ends.get(w, "") for w in table["weighting"]],
                    textposition="bottom left", textfont={"size": 13},
                    # hovertext, not customdata: selecting the front picks no molecule
                    hovertext=[f"w = {w:g}" for w in table["weighting"]],
                    hovertemplate="%{hovertext}<br>mean A %{x:.3f}, mean B %{y:.3f}"
                                  "<extra>front</extra>",
                    error_x={"array": table["se_a"].fillna(0), "thickness": 1.5},
                    error_y={"array": table["se_b"].fillna(0), "thickness": 1.5},
                    line={"color": "#212529", "width": 2},
                    marker={"color": colors, "size": 13, "line": {"color": "#212529",
                                                                  "width": 1.5}})
    full = [-0.04, 1.04]
    ranges = [full, full]
    if zoom and table["mean_a"].notna().any():
        means = [base_a.mean(), base_b.mean()] if len(base_ok) else [np.nan, np.nan]
        ranges = [_span([*(table[f"mean_{k}"] - table[f"se_{k}"].fillna(0)),
                         *(table[f"mean_{k}"] + table[f"se_{k}"].fillna(0)), mean])
                  for k, mean in zip("ab", means)]
    fig.update_layout(height=560, dragmode="select", margin={"t": 20},
                      xaxis={"title": f"A: {_objective(pair, 'A')} (→ better)",
                             "range": ranges[0]},
                      yaxis={"title": f"B: {_objective(pair, 'B')} (↑ better)",
                             "range": ranges[1]},
                      legend={"title": {"text": "w = weight on A"}})
    return fig


def _front_table(table: pd.DataFrame) -> pd.DataFrame:
    def pm(mean, se):  # NaN mean: no valid molecule; NaN SE: only one
        return "n/a" if mean != mean else f"{mean:.3f}" + ("" if se != se else f" ± {se:.3f}")
    return pd.DataFrame({
        "w on A": table["weighting"], "steering weights": table["steering"],
        "validity": table["validity"], "mean reward": table["mean_reward"],
        "A (valid)": [pm(m, s) for m, s in zip(table["mean_a"], table["se_a"])],
        "B (valid)": [pm(m, s) for m, s in zip(table["mean_b"], table["se_b"])]})


def picked(molecules: pd.DataFrame, points: list[dict]) -> pd.DataFrame:
    """The molecules behind selected plot points (base-model points carry no row), once each,
    in weighting order."""
    rows = sorted({int(p["customdata"]) for p in points
                   if isinstance(p.get("customdata"), (int, float))})
    return molecules.loc[rows]


def _selection(result) -> None:
    points = (ss.get(PLOT) or {}).get("selection", {}).get("points", [])
    chosen = picked(result.molecules, points)
    if chosen.empty:
        st.caption("Drag a box or lasso over the clouds to see which weighting each molecule "
                   "came from.")
        return
    counts = chosen.groupby("weighting", sort=False).size()
    st.markdown(f"**{len(chosen)} selected** · " + " · ".join(
        f"w = {w:g}: {k}" for w, k in counts.sort_index(ascending=False).items()))
    shown = chosen[["weighting", "smiles", "desirability_a", "desirability_b", "reward"]]
    st.dataframe(shown, hide_index=True, key="tradeoff::picked", column_config={
        "weighting": st.column_config.NumberColumn("w on A", format="%.2f"),
        "desirability_a": st.column_config.NumberColumn("A", format="%.3f"),
        "desirability_b": st.column_config.NumberColumn("B", format="%.3f"),
        "reward": st.column_config.NumberColumn("reward (own w)", format="%.3f")})
    st.download_button("Selected molecules CSV", csv_text(chosen),
                       file_name="tradeoff_selection.csv", mime="text/csv", on_click="ignore",
                       icon=":material/download:", key="tradeoff::picked_csv")
    st.caption("This selection belongs to the explorer; the runs' selection in the sidebar "
               "is separate.")


def _saturated(pair, base: pd.DataFrame) -> None:
    """Say when the base model already meets an objective fully: little to trade there."""
    ok = base[base["valid"]]
    for which, objective in (("A", pair.a), ("B", pair.b)):
        share = float((objective.score(ok) >= 1.0).mean()) if len(ok) else 0.0
        if share >= 0.8:
            st.caption(f":material/info: {which} ({_objective(pair, which)}) is already fully "
                       f"met by {share:.0%} of the base model's valid molecules: there is "
                       "little of it to trade.")


def _show(result, base: pd.DataFrame) -> None:
    s, pair = result.settings, result.pair
    within = f" in “{pair.within.name}”" if pair.within is not None else ""
    k = result.summary["batches"]
    batches = "one batch" if k == 1 else f"{k} batches (over the {s.max_rows:,}-row limit)"
    st.caption(f"**A: {_objective(pair, 'A')}** vs **B: {_objective(pair, 'B')}**{within} · "
               f"{labels.METHODS[s.method]}, γ={s.gamma:g}, |Y_S|={s.ys}, {s.n} molecules "
               f"per weighting, {batches} in {result.summary['wall_time_s']:.1f} s.")
    zoom = st.toggle("Zoom to the front", key="tradeoff::zoom",
                     help="Axes around the weightings' means and the base model's mean, "
                          "instead of the whole 0-1 desirability range.")
    st.plotly_chart(_figure(result, base, zoom), key=PLOT, on_select="rerun",
                    selection_mode=("box", "lasso"))
    _saturated(pair, base)
    _selection(result)
    st.dataframe(_front_table(result.front), hide_index=True, key="tradeoff::front",
                 column_config={"w on A": st.column_config.NumberColumn(format="%.2f"),
                                "A (valid)": st.column_config.TextColumn(
                                    help=f"A: {_objective(pair, 'A')}"),
                                "B (valid)": st.column_config.TextColumn(
                                    help=f"B: {_objective(pair, 'B')}"),
                                "validity": st.column_config.NumberColumn(format="percent"),
                                "mean reward": st.column_config.NumberColumn(format="%.3f")})
    st.caption("A and B: mean desirability over valid molecules ± standard error; mean "
               "reward under each weighting's own reward (invalid = 0).")
    st.download_button("Trade-off CSV", csv_text(result.molecules),
                       file_name="tradeoff.csv", mime="text/csv", on_click="ignore",
                       icon=":material/download:")


def render(ckpt, ckpt_key: str, reward, settings) -> None:
    """The explorer in a collapsed expander (it runs only while open)."""
    box = st.expander("Trade-off explorer: how far two objectives pull against each other",
                      icon=":material/balance:", key=OPEN, on_change="rerun")
    if not box.open:
        return
    with box:
        make_pair = _pair_inputs(ckpt, ckpt_key, reward)
        left, right = st.columns(2)
        count = left.slider("Weightings (all A → all B)", 2, 9, len(WEIGHTS),
                            key="tradeoff::count",
                            help="How many mixes of A and B to make molecules for, evenly "
                                 "from all A to all B (ML: reward weightings w).")
        n = right.number_input("Molecules per weighting", 4, 2000, 64, 16, key="tradeoff::n")
        weights = weightings(int(count))
        s = replace(settings, n=int(n), candidates=1)   # the explorer keeps every molecule
        allowed = s.method in METHODS
        if allowed:
            rows = len(weights) * E.forward_rows(s)
            seconds = E.seconds(s, sampling.rates()[0])
            when = f", about {len(weights) * seconds:.0f} s" if seconds is not None else ""
            batches = ("one batch" if rows <= s.max_rows else
                       f"batches of at most {s.max_rows:,}")
            st.caption(f"w on A = {', '.join(f'{w:g}' for w in weights)}: "
                       f"{len(weights)} × {s.n} molecules × {s.rows_per_molecule} rows = "
                       f"{rows:,} forward rows in {batches}{when}, with the sidebar's "
                       f"{labels.METHODS[s.method]} settings.")
        else:
            st.warning(f"{labels.METHODS[s.method]} samples the same molecules whatever the "
                       "weighting; pick " + ", ".join(labels.METHODS[m] for m in METHODS)
                       + " in the sidebar.", icon=":material/warning:")
        if st.button("Sample the trade-off", key="tradeoff::go", icon=":material/play_arrow:",
                     disabled=make_pair is None or not allowed):
            _run(ckpt, ckpt_key, reward, settings, s, make_pair, weights)
        if RESULT in ss:
            _show(*ss[RESULT])
