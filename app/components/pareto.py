"""Two objectives against each other, points colored by reward, the non-dominated front
drawn; box or lasso selection adds molecules to the shared selection. A reward term's
property is ranked by its goal by default (see engine.chem.pareto.goal_distance)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import labels, state
from engine.chem.pareto import goal_distance, goal_margin, lexicographic, non_dominated
from engine.chem.properties import PROPERTY_NAMES

ss = st.session_state
HIGHER, LOWER, GOAL = "higher is better", "lower is better", "closer to the term's goal"


def _terms(reward) -> dict:
    return {t.property: t for t in reward.terms}


def _directions(column: str, reward) -> tuple[str, ...]:
    return (GOAL, HIGHER, LOWER) if column in _terms(reward) else (HIGHER, LOWER)


def _default_direction(column: str, reward) -> str:
    """A term's property follows the term (met is best, however far beyond); SA score is
    better low; rewards, desirabilities and other properties better high."""
    if column in _terms(reward):
        return GOAL
    return LOWER if column == "sa_score" else HIGHER


def _on_axis(axis: str, reward) -> None:
    ss[f"pareto::{axis}dir"] = _default_direction(ss[f"pareto::{axis}"], reward)


def _on_select() -> None:
    points = ss["pareto::plot"]["selection"]["points"]
    state.select(p["customdata"][0] for p in points if isinstance(p.get("customdata"), list))


def _axis_controls(axis: str, options: list[str], default: str, reward) -> tuple[str, str]:
    key = f"pareto::{axis}"
    if ss.get(key) not in options:
        ss[key] = default
        ss[f"{key}dir"] = _default_direction(default, reward)
    left, right = st.columns([3, 2])
    # kept for the session: the tab is not drawn while another one is open
    column = left.selectbox(f"{axis} axis", options, key=key, format_func=labels.label,
                            on_change=_on_axis, args=(axis, reward), persist_state="session")
    choices = _directions(column, reward)
    if ss.get(f"{key}dir") not in choices:
        ss[f"{key}dir"] = _default_direction(column, reward)
    direction = right.radio(f"{axis} direction", choices, key=f"{key}dir",
                            persist_state="session",
                            help="For a reward term's property, “closer to the term's goal” "
                                 "ranks by the distance to where its desirability is 1; "
                                 "molecules that meet the goal rank by their margin beyond "
                                 "it (range: from the nearer end), so the front is a line, "
                                 "not every molecule that meets both goals.")
    return column, direction


def _objective(values: np.ndarray, column: str, direction: str, reward) -> np.ndarray:
    """Larger is better. Toward a term's goal: the distance to it, then, among molecules
    that meet it, the margin by which they do (else every molecule meeting both goals
    would tie on the front)."""
    if direction == GOAL:
        term = _terms(reward)[column]
        return lexicographic(-goal_distance(term, values), goal_margin(term, values))
    return values if direction == HIGHER else -values


def _front(ox: np.ndarray, oy: np.ndarray) -> np.ndarray:
    """Non-dominated points of two larger-is-better objectives, exact ties included (many
    molecules can meet both goals)."""
    front = non_dominated(ox, oy, True, True)
    best = set(zip(ox[front], oy[front]))
    return np.array([(a, b) in best for a, b in zip(ox, oy)], dtype=bool)


def _arrow(direction: str) -> str:
    return {HIGHER: "↑ better", LOWER: "↓ better", GOAL: "closer to goal better"}[direction]


def _default_axes(mols, reward) -> tuple[str, str]:
    """The two terms the molecules meet least (lowest mean desirability; reward order on
    ties): a term every molecule already meets cannot trade off against anything."""
    props = list(dict.fromkeys([*reward.properties, "qed", "sa_score"]))
    unmet = {p: mols[f"d_{p}"].mean() if len(mols) else 0.0 for p in reward.properties}
    ranked = sorted(props, key=lambda p: (unmet.get(p, 2.0), props.index(p)))
    return ranked[0], ranked[1]


def render(frame, reward) -> None:
    mols = frame[frame["valid"]].drop_duplicates("smiles")
    terms = [f"d_{p}" for p in reward.properties]
    options = ["reward", *terms, *PROPERTY_NAMES]
    default_x, default_y = _default_axes(mols, reward)
    c1, c2 = st.columns(2)
    with c1:
        x, x_dir = _axis_controls("x", options, default_x, reward)
    with c2:
        y, y_dir = _axis_controls("y", options, default_y, reward)
    if mols.empty:
        st.info("No valid molecules in this run: nothing to plot.")
        return
    xv, yv = mols[x].to_numpy(float), mols[y].to_numpy(float)
    ox, oy = _objective(xv, x, x_dir, reward), _objective(yv, y, y_dir, reward)
    ok = np.isfinite(ox) & np.isfinite(oy)
    front = np.zeros(len(mols), bool)
    front[ok] = _front(ox[ok], oy[ok])
    chosen = mols["id"].isin(state.selection()).to_numpy()
    hover = (f"%{{customdata[1]}}<br>{labels.label(x)}: %{{x:.3g}}<br>{labels.label(y)}: "
             "%{y:.3g}<br>reward: %{marker.color:.3f}<extra></extra>")
    # your own molecules (they have a name column) as squares beside the run's circles
    yours = mols["name"].notna().to_numpy() if "name" in mols else np.zeros(len(mols), bool)
    symbols = np.where(yours, "square", "circle")
    order = np.argsort(xv[front])
    fig = go.Figure([
        go.Scatter(x=xv, y=yv, mode="markers", name="molecules",
                   customdata=mols[["id", "smiles"]].to_numpy(),
                   hovertemplate=hover,
                   marker={"color": mols["reward"], "colorscale": "Viridis", "cmin": 0,
                           "cmax": 1, "size": 8, "opacity": 0.85, "symbol": symbols,
                           "colorbar": {"title": "reward", "thickness": 12}}),
        go.Scatter(x=xv[front][order], y=yv[front][order],
                   # plotted in raw units, a range goal's front need not be monotone
                   mode="markers" if GOAL in (x_dir, y_dir) else "lines+markers",
                   name="Pareto front", hoverinfo="skip",
                   line={"color": "#d6336c", "dash": "dot", "width": 2},
                   marker={"symbol": "diamond-open", "size": 11, "color": "#d6336c"}),
        go.Scatter(x=xv[chosen], y=yv[chosen], mode="markers", name="selected",
                   hoverinfo="skip",
                   marker={"symbol": "circle-open", "size": 15, "color": "#111111",
                           "line": {"width": 2}}),
    ])
    fig.update_layout(height=540, dragmode="select", margin={"t": 30},
                      xaxis_title=f"{labels.label(x)} ({_arrow(x_dir)})",
                      yaxis_title=f"{labels.label(y)} ({_arrow(y_dir)})",
                      legend={"orientation": "h", "y": 1.08})
    st.plotly_chart(fig, key="pareto::plot", on_select=_on_select,
                    selection_mode=("box", "lasso"))
    meaning = (" (toward a goal: the nearest to it, and among those that meet it the widest "
               "margin beyond it)" if GOAL in (x_dir, y_dir) else "")
    st.caption(f"{int(front.sum())} molecules on the front{meaning}, {int(chosen.sum())} selected "
               "(circled)" + (f", {int(yours.sum())} of your own (squares)" if yours.any()
                              else "") + ". Drag a box or lasso to add molecules to the "
               "selection.")
