"""Benchmarks: what guidance achieves, drawn from the benchmark results the engine writes
(bench_results/*.json), then the full reports (BENCHMARKS.md, the reward preset table)."""
import json
import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import resources
from engine.bench import cost
from engine.bench.sweep import setting_key
from engine.sampling import methods as M

RESULTS = resources.REPO / "bench_results"
REPORTS = (("Full report", resources.REPO / "BENCHMARKS.md"),
           ("Reward presets", resources.REPO / "assets" / "rewards" / "README.md"))
IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")
FAMILIES = {"RCFG": ("rcfg_k", "#1f77b4"), "best-of-N": ("best_of_n", "#ff7f0e"),
            "Q-tilt": ("qtilt_k", "#2ca02c"), "conditional on y*": ("conditional", "#d62728")}


def show_markdown(path: Path) -> None:
    """Markdown with its local images (lines that are only an image) shown inline."""
    text, block = path.read_text(encoding="utf-8"), []
    for line in text.splitlines():
        match = IMAGE.match(line.strip())
        image = match and (path.parent / match.group(2))
        if image and image.is_file():
            st.markdown("\n".join(block))
            block = []
            st.image(str(image), caption=match.group(1) or None)
        else:
            block.append(line)
    st.markdown("\n".join(block))


def _read(name: str) -> dict | None:
    path = RESULTS / name
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, json.JSONDecodeError):
        return None


def effect_chart(results: dict) -> None:
    """Mean normalized score against forward rows per molecule, one line per method."""
    rows = list(results["presets"].values())
    fig = go.Figure()
    for label, (prefix, colour) in FAMILIES.items():
        cols = sorted({c for r in rows for c in r if c.startswith(prefix)
                       and all(c in r2 for r2 in rows)},
                      key=lambda c: rows[0][c]["rows_per_molecule"])
        if not cols:
            continue
        x = [rows[0][c]["rows_per_molecule"] for c in cols]
        y = [sum(r[c]["normalized_score"] for r in rows) / len(rows) for c in cols]
        se = [(sum(r[c]["normalized_se"] ** 2 for r in rows)) ** 0.5 / len(rows) for c in cols]
        fig.add_scatter(x=x, y=y, error_y={"array": se}, mode="lines+markers", name=label,
                        line={"color": colour})
    fig.add_hline(0, line_dash="dash", line_color="grey")
    ticks = [1, 2, 4, 8, 16, 32, 64]
    fig.update_layout(height=380, margin={"t": 30, "b": 0},
                      legend={"orientation": "h", "y": 1.08, "x": 0},
                      xaxis={"type": "log", "tickvals": ticks, "ticktext": [str(t) for t in ticks],
                             "title": "forward rows per output molecule (compute per molecule)"},
                      yaxis={"title": f"mean normalized score ({len(rows)} rewards)"})
    st.plotly_chart(fig, key="bench::effect")
    st.caption(f"{results['n']} molecules per point; 0 = the unguided model, 1 = the best "
               "property vector of the prior bank. Error bars: one standard error. "
               f"Rewards: {', '.join(results['presets'])}.")


def cost_chart(results: dict, key: str) -> None:
    """Mean normalized score against CPU ms per molecule: the best-of-N curve and every
    method family with M = 1, 2, 4, 8 candidates (engine.bench.cost), and its table."""
    rows = list(results["presets"].values())
    fig = go.Figure()
    curve = range(cost.BON_MAX)
    fig.add_scatter(x=[sum(r["best_of_n"][i]["cpu_ms"] for r in rows) / len(rows) for i in curve],
                    y=[sum(r["best_of_n"][i]["normalized_score"] for r in rows) / len(rows)
                       for i in curve], mode="lines", name="best-of-N (N = 1..65)",
                    line={"color": "#ff7f0e"}, hovertext=[f"N={i + 1}" for i in curve])
    lines = cost.table(results)
    for family in dict.fromkeys(t["family"] for t in lines):
        pts = [t for t in lines if t["family"] == family and t["presets"] == len(rows)]
        if pts:
            fig.add_scatter(x=[p["cpu_ms"] for p in pts], y=[p["normalized_score"] for p in pts],
                            mode="lines+markers", name=family,
                            hovertext=[f"M={p['M']}" for p in pts])
    fig.add_hline(0, line_dash="dash", line_color="grey")
    fig.update_layout(height=400, margin={"t": 30, "b": 0},
                      legend={"orientation": "h", "y": 1.12, "x": 0},
                      xaxis={"type": "log", "title": "CPU ms per output molecule (decoding + "
                             "scoring, one thread)"},
                      yaxis={"title": f"mean normalized score ({len(rows)} rewards)"})
    st.plotly_chart(fig, key=f"bench::{key}")
    st.caption(f"{results['header']['n']} molecules per point, {results.get('date', '')}. "
               "Points of a family are M = 1, 2, 4, 8 candidates per molecule (hover). A "
               "point above the orange curve beats best-of-N at the same CPU time.")
    st.dataframe(pd.DataFrame(lines), hide_index=True, key=f"bench::{key}::table")


def defaults_table(results: dict, setting: str) -> pd.DataFrame:
    rows = []
    for key, row in results["presets"].items():
        cell, base = row["cells"].get(setting), row["base"]
        if cell is None:
            continue
        rows.append({"reward": key, "base": base["mean_reward"], "RCFG": cell["mean_reward"],
                     "gain in SEs": cell["delta_over_se"],
                     "normalized": cell["normalized_score"], "validity": cell["validity"],
                     "unique": cell["uniqueness"],
                     "scaffold diversity": cell.get("scaffold_diversity")})
    return pd.DataFrame(rows)


COLUMNS = {c: st.column_config.NumberColumn(format="%.3f") for c in (
    "base", "RCFG", "normalized", "validity", "unique", "scaffold diversity")} | {
    "gain in SEs": st.column_config.NumberColumn(format="%+.1f")}


def at_a_glance() -> None:
    sweep, heldout, effect = (_read("sweep_final_default.json"), _read("sweep_heldout.json"),
                              _read("effect.json"))
    if not (sweep or effect):
        st.info("No guidance benchmark results yet: `python -m engine.bench.sweep` and "
                "`python -m engine.bench.effect` write them to bench_results/.")
        return
    for i, name in enumerate(("cost.json", "cost_sweep.json")):
        matched = _read(name)
        if matched and matched.get("presets"):
            st.subheader("Better molecules per CPU second than best-of-N" if i == 0 else
                         "Every method family at matched cost")
            cost_chart(matched, key=name)
    if effect and effect.get("presets"):
        st.subheader("More compute per molecule, higher reward (RCFG, the paper's operator)")
        effect_chart(effect)
    setting = setting_key(M.DEFAULT_ADVANTAGE, M.DEFAULT_GAMMA, M.DEFAULT_PLAUSIBILITY)
    if sweep:
        table = defaults_table(sweep, setting)
        st.subheader(f"RCFG's defaults on every preset ({len(table)} rewards)")
        st.caption(f"Mean reward of {sweep['header']['n']} molecules per cell (invalid "
                   "molecules score 0), the unguided model beside it; gain in standard "
                   "errors of the difference. Click a column to sort.")
        st.dataframe(table, hide_index=True, key="bench::defaults", column_config=COLUMNS)
    if heldout:
        st.subheader("Rewards the defaults were not chosen on")
        st.caption("Written after the defaults were fixed (engine/bench/heldout/).")
        st.dataframe(defaults_table(heldout, setting), hide_index=True, key="bench::heldout",
                     column_config=COLUMNS)


st.title("Benchmarks")
glance, *tabs = st.tabs(["Guidance at a glance"] + [t for t, p in REPORTS if p.is_file()])
with glance:
    at_a_glance()
for tab, (_, path) in zip(tabs, [(t, p) for t, p in REPORTS if p.is_file()]):
    with tab:
        show_markdown(path)
