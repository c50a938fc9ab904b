"""Two objectives against each other, points colored by reward, the non-dominated front
drawn; box or lasso selection adds molecules to the shared selection."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import labels, state
from engine.chem.pareto import non_dominated
from engine.chem.properties import PROPERTY_NAMES

ss = st.session_state
HIGHER, LOWER = "higher is better", "lower is better"


def _default_direction(column: str, reward) -> str:
    goals = {t.property: t.goal for t in reward.terms}
    return LOWER if goals.get(column) == "minimize" or column == "sa_score" else HIGHER


def _on_axis(axis: str, reward) -> None:
    ss[f"pareto::{axis}dir"] = _default_direction(ss[f"pareto::{axis}"], reward)


def _on_select() -> None:
    points = ss["pareto::plot"]["selection"]["points"]
    state.select(p["customdata"] for p in points if isinstance(p.get("customdata"), str))


def _axis_controls(axis: str, options: list[str], default: str, reward) -> tuple[str, bool]:
    key = f"pareto::{axis}"
    if ss.get(key) not in options:
        ss[key] = default
        ss[f"{key}dir"] = _default_direction(default, reward)
    left, right = st.columns([3, 2])
    column = left.selectbox(f"{axis} axis", options, key=key, format_func=labels.label,
                            on_change=_on_axis, args=(axis, reward))
    direction = right.radio(f"{axis} direction", (HIGHER, LOWER), key=f"{key}dir")
    return column, direction == HIGHER


def render(frame, reward) -> None:
    mols = frame[frame["valid"]].drop_duplicates("smiles")
    terms = [f"d_{p}" for p in reward.properties]
    options = ["reward", *terms, *PROPERTY_NAMES]
    props = list(reward.properties) + ["qed", "sa_score"]
    default_x, default_y = props[0], next(p for p in props[1:] if p != props[0])
    c1, c2 = st.columns(2)
    with c1:
        x, x_hi = _axis_controls("x", options, default_x, reward)
    with c2:
        y, y_hi = _axis_controls("y", options, default_y, reward)
    if mols.empty:
        st.info("No valid molecules in this run: nothing to plot.")
        return
    xv, yv = mols[x].to_numpy(float), mols[y].to_numpy(float)
    ok = np.isfinite(xv) & np.isfinite(yv)
    front = np.zeros(len(mols), bool)
    front[ok] = non_dominated(xv[ok], yv[ok], x_hi, y_hi)
    chosen = mols["smiles"].isin(state.selection()).to_numpy()
    hover = (f"%{{customdata}}<br>{labels.label(x)}: %{{x:.3g}}<br>{labels.label(y)}: "
             "%{y:.3g}<br>reward: %{marker.color:.3f}<extra></extra>")
    order = np.argsort(xv[front])
    fig = go.Figure([
        go.Scatter(x=xv, y=yv, mode="markers", name="molecules", customdata=mols["smiles"],
                   hovertemplate=hover,
                   marker={"color": mols["reward"], "colorscale": "Viridis", "cmin": 0,
                           "cmax": 1, "size": 8, "opacity": 0.85,
                           "colorbar": {"title": "reward", "thickness": 12}}),
        go.Scatter(x=xv[front][order], y=yv[front][order], mode="lines+markers",
                   name="Pareto front", hoverinfo="skip",
                   line={"color": "#d6336c", "dash": "dot", "width": 2},
                   marker={"symbol": "diamond-open", "size": 11, "color": "#d6336c"}),
        go.Scatter(x=xv[chosen], y=yv[chosen], mode="markers", name="selected",
                   hoverinfo="skip",
                   marker={"symbol": "circle-open", "size": 15, "color": "#111111",
                           "line": {"width": 2}}),
    ])
    fig.update_layout(height=540, dragmode="select", margin={"t": 30},
                      xaxis_title=f"{labels.label(x)} ({'↑' if x_hi else '↓'} better)",
                      yaxis_title=f"{labels.label(y)} ({'↑' if y_hi else '↓'} better)",
                      legend={"orientation": "h", "y": 1.08})
    st.plotly_chart(fig, key="pareto::plot", on_select=_on_select,
                    selection_mode=("box", "lasso"))
    st.caption(f"{int(front.sum())} molecules on the front, {int(chosen.sum())} selected "
               "(circled). Drag a box or lasso to add molecules to the selection.")
