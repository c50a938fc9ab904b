"""Selection bar: how many molecules are selected, CSV / SDF downloads of the selection or
of the whole run (with your own molecules when shown), clear. One row per molecule: SMILES,
source (the run, or your file) and name, reward, similarity to the references, the 25
properties, per-term desirabilities, alerts and flags, scaffold, the run's method and
settings."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import state
from app.components import filters, own, results
from engine.chem.alerts import COLUMNS as ALERT_COLUMNS
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.structures import to_sdf
from engine.output import csv_text
from engine.sampling.sampler import SETTING_COLUMNS


def export_table(frame: pd.DataFrame, run: state.Run, reward) -> pd.DataFrame:
    """The spreadsheet layout: identity, reward and similarity to the references (when set)
    first, then raw values, desirabilities, alerts, flags and scaffold, then how the
    molecule was made."""
    d_cols = [c for c in frame.columns if c.startswith("d_")]
    similarity = [c for c in ("similarity", "nearest_reference") if c in frame]
    if "source" not in frame:
        frame = frame.assign(source=run.label)
    wanted = (*SETTING_COLUMNS, "nll", "name", *ALERT_COLUMNS, "scaffold")
    frame = frame.reindex(columns=[*frame.columns, *(c for c in wanted if c not in frame)])
    out = frame[["smiles", "source", "name", "reward", *similarity, *PROPERTY_NAMES, *d_cols,
                 *ALERT_COLUMNS, "scaffold", "valid", "nll", *SETTING_COLUMNS]].copy()
    ours = out["source"] == run.label
    out.loc[ours, "n"] = run.settings["n"]
    out.loc[ours, "run"] = run.number
    out.loc[ours, "checkpoint"] = run.checkpoint
    out["reward_name"] = reward.name
    return out


def selected_table(reward) -> pd.DataFrame:
    """The selected molecules, once each (latest run first, then your own), re-scored for
    `reward`."""
    chosen = state.selection()
    runs = list(reversed(state.runs()))
    parts = [export_table(filters.with_similarity(results.molecules(r, reward)), r, reward)
             for r in runs]
    if not parts:
        return pd.DataFrame()
    mine = own.molecules(reward)
    if mine is not None:
        parts.append(export_table(filters.with_similarity(mine), runs[0], reward))
    table = pd.concat(parts, ignore_index=True)
    return table[table["smiles"].isin(chosen)].drop_duplicates("smiles").reset_index(drop=True)


def render(run: state.Run, frame: pd.DataFrame, reward) -> None:
    chosen = selected_table(reward)
    everything = export_table(frame, run, reward)
    stem = f"rcfg_run{run.number}"
    empty = chosen.empty
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{len(chosen)}** selected molecule{'s' * (len(chosen) != 1)}")
        st.download_button("Selection CSV", lambda: csv_text(chosen),
                           file_name=f"{stem}_selection.csv", mime="text/csv",
                           disabled=empty, on_click="ignore", icon=":material/download:",
                           key="export::sel_csv")
        st.download_button("Selection SDF", lambda: to_sdf(chosen)[0],
                           file_name=f"{stem}_selection.sdf", mime="chemical/x-mdl-sdfile",
                           disabled=empty, on_click="ignore", icon=":material/download:",
                           key="export::sel_sdf")
        st.download_button("All CSV", lambda: csv_text(everything),
                           file_name=f"{stem}_all.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:", key="export::all_csv")
        st.download_button("All SDF", lambda: to_sdf(everything)[0],
                           file_name=f"{stem}_all.sdf", mime="chemical/x-mdl-sdfile",
                           on_click="ignore", icon=":material/download:", key="export::all_sdf")
        st.button("Clear selection", on_click=state.clear_selection, disabled=empty,
                  icon=":material/deselect:", key="export::clear")
