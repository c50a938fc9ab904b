"""Selection bar: how many molecules are selected, CSV / SDF downloads of the selection or
of the whole run, clear. One row per molecule: SMILES, reward, the 25 properties, per-term
desirabilities, the run's method and settings."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import state
from app.components import results
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.structures import to_sdf
from engine.sampling.sampler import SETTING_COLUMNS


def export_table(frame: pd.DataFrame, run: state.Run, reward) -> pd.DataFrame:
    """The spreadsheet layout: identity and reward first, then raw values, desirabilities,
    then how the molecule was made."""
    d_cols = [c for c in frame.columns if c.startswith("d_")]
    out = frame[["smiles", "reward", *PROPERTY_NAMES, *d_cols, "valid", "nll",
                 *SETTING_COLUMNS]].copy()
    out["n"] = run.settings["n"]
    out["run"] = run.number
    out["checkpoint"] = run.checkpoint
    out["reward_name"] = reward.name
    return out


def selected_table(reward) -> pd.DataFrame:
    """The selected molecules, once each (latest run first), re-scored for `reward`."""
    chosen = state.selection()
    parts = [export_table(results.molecules(r, reward), r, reward) for r in reversed(state.runs())]
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    return table[table["smiles"].isin(chosen)].drop_duplicates("smiles").reset_index(drop=True)


def render(run: state.Run, frame: pd.DataFrame, reward) -> None:
    chosen = selected_table(reward)
    everything = export_table(frame, run, reward)
    stem = f"rcfg_run{run.number}"
    empty = chosen.empty
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{len(chosen)}** selected molecule{'s' * (len(chosen) != 1)}")
        st.download_button("Selection CSV", lambda: chosen.to_csv(index=False),
                           file_name=f"{stem}_selection.csv", mime="text/csv",
                           disabled=empty, on_click="ignore", icon=":material/download:",
                           key="export::sel_csv")
        st.download_button("Selection SDF", lambda: to_sdf(chosen)[0],
                           file_name=f"{stem}_selection.sdf", mime="chemical/x-mdl-sdfile",
                           disabled=empty, on_click="ignore", icon=":material/download:",
                           key="export::sel_sdf")
        st.download_button("All CSV", lambda: everything.to_csv(index=False),
                           file_name=f"{stem}_all.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:", key="export::all_csv")
        st.download_button("All SDF", lambda: to_sdf(everything)[0],
                           file_name=f"{stem}_all.sdf", mime="chemical/x-mdl-sdfile",
                           on_click="ignore", icon=":material/download:", key="export::all_sdf")
        st.button("Clear selection", on_click=state.clear_selection, disabled=empty,
                  icon=":material/deselect:", key="export::clear")
