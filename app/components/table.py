"""Every molecule of the run: raw properties beside per-term desirabilities, with row
selection mirrored both ways with the shared selection."""
from __future__ import annotations

import streamlit as st

from app import labels, state
from engine.chem.properties import PROPERTY_NAMES

ss = st.session_state
KEY, ROWS = "table::df", "table::rows"


def _on_select() -> None:
    shown = ss[ROWS]
    chosen = {shown[i] for i in ss[KEY]["selection"]["rows"]}
    state.deselect(set(shown) - chosen)
    state.select(chosen)


def _column_config(columns) -> dict:
    config = {"smiles": st.column_config.TextColumn("smiles", width="large", pinned=True),
              "reward": st.column_config.ProgressColumn("reward", min_value=0.0, max_value=1.0,
                                                        format="%.3f", pinned=True),
              "nll": st.column_config.NumberColumn("nll", format="%.1f",
                                                   help="-log p(x) under the base model")}
    for c in columns:
        if c.startswith("d_"):
            config[c] = st.column_config.NumberColumn(c, format="%.3f", help=labels.label(c))
        elif c in PROPERTY_NAMES:
            fmt = "%d" if c in labels.COUNTS else "%.2f"
            config[c] = st.column_config.NumberColumn(c, format=fmt, help=labels.LABELS[c])
    return config


def render(frame) -> None:
    table = frame.sort_values("reward", ascending=False, kind="stable").reset_index(drop=True)
    d_cols = [c for c in table.columns if c.startswith("d_")]
    columns = ["smiles", "reward", "valid", *d_cols, *PROPERTY_NAMES, "nll"]
    ss[ROWS] = table["smiles"].tolist()
    chosen = state.selection()
    wanted = [i for i, s in enumerate(ss[ROWS]) if s in chosen]
    current = ss.get(KEY, {}).get("selection", {}).get("rows")
    if current != wanted:
        ss[KEY] = {"selection": {"rows": wanted}}
    st.dataframe(table[columns], key=KEY, on_select=_on_select, selection_mode="multi-row",
                 hide_index=True, height=560, column_config=_column_config(columns),
                 placeholder="–")
    st.caption(f"{len(table)} molecules, best reward first; {len(wanted)} rows selected. "
               "Tick rows to add them to the selection, untick to remove.")
