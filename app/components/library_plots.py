"""A library's plots: property distributions and a 2-D scatter, drawn from a seeded random
sample of at most SAMPLE_N of the molecules that pass the filters (engine
sample_rows: every shard read once, for the sampled rows only), never the whole library;
each plot's caption says so. The reward is the one the page shows: stored, or the reward in
use computed for the sample."""
from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import labels
from app.components import library_view as view
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.rewards import Reward
from engine.chem.scoring import rescore
from engine.sampling.library_reader import Library, RowFilter, sample_rows

ss = st.session_state
SAMPLE_N, SAMPLE_SEED = 5_000, 0
DISTRIBUTIONS, X, Y = "library::plots::hist", "library::plots::x", "library::plots::y"
DEFAULT_HISTS = ("reward", "qed", "mw", "logp", "tpsa", "sa_score")


@st.cache_data(max_entries=16, show_spinner=False)
def _sample(folder: str, stamp: tuple, key: str, reward_toml: str, n: int, _lib: Library,
            _rows: RowFilter, _reward: Reward | None) -> tuple[pd.DataFrame, int]:
    frame, total = sample_rows(_lib, view.mask_of(_lib, _rows), n, SAMPLE_SEED)
    if _reward is not None:
        frame = rescore(frame.assign(valid=frame["valid"].fillna(False).astype(bool)),
                        _reward)
    return frame, total


def sample(lib: Library, rows: RowFilter, scoring: Reward | None) -> tuple[pd.DataFrame, int]:
    """(the sample, how many molecules pass the filters), with `scoring`'s reward computed
    for it (None: the stored reward). Every shard's mask is needed: a SMARTS is checked
    through the whole library first."""
    if view.scanned(lib, rows) < len(lib.files):
        note = st.empty()
        mask = view.mask_of(lib, rows, note)
        for k in range(len(lib.files)):
            mask(k)
        view.mark_scanned(lib, rows, len(lib.files))
        st.rerun()   # the counts above the plots are complete now
    with st.spinner(f"Drawing {SAMPLE_N:,} molecules at random across the shards…"):
        return _sample(str(lib.folder), view.folder_stamp(lib.folder), repr(rows),
                       scoring.to_toml() if scoring is not None else "", SAMPLE_N, lib, rows,
                       scoring)


def caption(frame: pd.DataFrame, total: int) -> None:
    if len(frame) < total:
        st.caption(f"Drawn from a random sample of {len(frame):,} of the {total:,} molecules "
                   f"that pass the filters (seed {SAMPLE_SEED}: the same molecules on every "
                   "visit), not from the whole library.")
    else:
        st.caption(f"All {total:,} molecules that pass the filters.")


def _columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in dict.fromkeys(("reward", *PROPERTY_NAMES,
                                      *(c for c in frame if c.startswith("d_")), "nll"))
            if c in frame and frame[c].notna().any()]


def distributions(frame: pd.DataFrame, total: int) -> None:
    columns = _columns(frame)
    if ss.get(DISTRIBUTIONS) is None:
        ss[DISTRIBUTIONS] = [c for c in DEFAULT_HISTS if c in columns]
    picked = st.multiselect("Distributions of", columns, key=DISTRIBUTIONS,
                            persist_state="session", format_func=labels.label)
    if not picked:
        st.info("Choose the columns to draw.")
        return
    per_row = 3
    fig = make_subplots(rows=math.ceil(len(picked) / per_row), cols=per_row,
                        subplot_titles=[labels.label(c) for c in picked])
    for i, column in enumerate(picked):
        fig.add_histogram(x=frame[column].dropna(), nbinsx=40, showlegend=False,
                          marker_color="#1f77b4", row=i // per_row + 1, col=i % per_row + 1)
    fig.update_layout(height=260 * math.ceil(len(picked) / per_row), margin={"t": 40},
                      bargap=0.05)
    caption(frame, total)
    st.plotly_chart(fig, key="library::plots::hist_chart")


def scatter(frame: pd.DataFrame, total: int) -> None:
    columns = [c for c in _columns(frame) if c != "reward"] or _columns(frame)
    ss.setdefault(X, "mw" if "mw" in columns else columns[0])
    ss.setdefault(Y, "logp" if "logp" in columns else columns[-1])
    left, right = st.columns(2)
    x = left.selectbox("x", columns, key=X, persist_state="session", format_func=labels.label)
    y = right.selectbox("y", columns, key=Y, persist_state="session", format_func=labels.label)
    valid = frame[frame["valid"].astype(bool)]
    fig = go.Figure(go.Scattergl(
        x=valid[x], y=valid[y], mode="markers", text=valid["smiles"],
        marker={"size": 5, "opacity": 0.6, "color": valid["reward"], "colorscale": "Viridis",
                "cmin": 0, "cmax": 1, "colorbar": {"title": "reward"}},
        hovertemplate="%{text}<br>x %{x:.3g} · y %{y:.3g}<br>reward %{marker.color:.3f}"
                      "<extra></extra>"))
    fig.update_layout(height=520, margin={"t": 20}, xaxis_title=labels.label(x),
                      yaxis_title=labels.label(y))
    caption(frame, total)
    st.plotly_chart(fig, key="library::plots::scatter_chart")
