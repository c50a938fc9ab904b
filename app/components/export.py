"""Selection bar: how many molecules are selected, CSV / SDF downloads of the selection or
of the whole run (with your own molecules when shown; SDF in 2D, or 3D on request), clear. One row per molecule, best
first by the current reward: SMILES, source (the run, or your file) and name, reward,
the raw values of the reward's structure terms (similarity and nearest reference, required
and forbidden substructures, alert counts), similarity to the filter bar's references, the
molecule's ID (`<run>:<row>`) and InChIKey, the 25
properties, per-term desirabilities, alerts and flags, scaffold, the run's method and
settings, the reward it was generated for and the one it is scored with. File names give
the project, the reward and the run(s); invalid rows enter the All exports only on
request."""
from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from app import open_project, state
from app.components import filters, own, results
from engine.chem.alerts import COLUMNS as ALERT_COLUMNS
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.structures import to_sdf
from engine.output import csv_text
from engine.sampling.sampler import SETTING_COLUMNS


def export_table(frame: pd.DataFrame, run: state.Run, reward) -> pd.DataFrame:
    """The spreadsheet layout: identity (with an upload's SMILES as its file gave it:
    `given_smiles`, beside the form scored), reward, the reward's structure columns and
    similarity to the bar's references (when set) first, then raw values, desirabilities,
    alerts, flags and scaffold, then how the molecule was made."""
    d_cols = [c for c in frame.columns if c.startswith("d_")]
    raw = [c for c in reward.columns if c != "reward" and not c.startswith("d_")]
    similarity = [c for c in dict.fromkeys((*raw, *filters.PLAIN, *filters.RENAMED))
                  if c in frame]
    if "source" not in frame:
        frame = frame.assign(source=run.label)
    wanted = (*SETTING_COLUMNS, "nll", "name", "given_smiles", *ALERT_COLUMNS, "scaffold")
    frame = frame.reindex(columns=[*frame.columns, *(c for c in wanted if c not in frame)])
    frame = frame.reindex(columns=[*frame.columns,
                                   *(c for c in ("id", "inchikey") if c not in frame)])
    out = frame[["smiles", "source", "name", "given_smiles", "reward", *similarity, "id",
                 "inchikey",
                 *PROPERTY_NAMES, *d_cols, *ALERT_COLUMNS, "scaffold", "valid", "nll",
                 *SETTING_COLUMNS]].copy()
    ours = out["source"] == run.label
    out.loc[ours, "n"] = run.settings["n"]
    out.loc[ours, "run"] = run.number
    out.loc[ours, "checkpoint"] = run.checkpoint
    out.loc[ours, "generated_for"] = run.reward.name if run.reward is not None else ""
    out["scored_with"] = reward.name
    return out


def sorted_by_reward(table: pd.DataFrame) -> pd.DataFrame:
    """Best first by the current reward; rows without one (invalid) last."""
    if "reward" not in table:
        return table
    return table.sort_values("reward", ascending=False, na_position="last",
                             kind="stable").reset_index(drop=True)


def file_stem(reward, runs) -> str:
    """`<project>_<reward>_run<N>[-<M>]`: where the molecules come from, in the file name."""
    numbers = sorted({r.number for r in runs})
    span = (f"run{numbers[0]}" if len(numbers) == 1 else
            f"runs{numbers[0]}-{numbers[-1]}" if numbers else "norun")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", open_project.project_dir().name).strip("-")
    key = re.sub(r"[^A-Za-z0-9_.-]+", "-", reward.key or reward.name).strip("-")
    return f"{name or 'project'}_{key or 'reward'}_{span}"


def selected_table(reward, chosen: set[str], runs: list[state.Run]) -> pd.DataFrame:
    """The molecules of IDs `chosen` (the selection) among `runs` and your uploaded sets,
    re-scored for `reward`, each with the run (or file) it was picked from and the reward
    that run was made for, best first."""
    parts = [export_table(filters.with_similarity(results.molecules(r, reward), reward), r,
                          reward) for r in runs]
    if not parts:
        return pd.DataFrame()
    for set_id, filename in open_project.imported_sets().items():   # your files, any of them
        if any(m.startswith(f"{set_id}:") for m in chosen):
            mine = own.molecules_of(set_id, filename, reward)
            if mine is not None:
                parts.append(export_table(filters.with_similarity(mine, reward), runs[0],
                                          reward))
    table = pd.concat(parts, ignore_index=True)
    return sorted_by_reward(table[table["id"].isin(chosen)].drop_duplicates("id"))


def render(run: state.Run, frame: pd.DataFrame, reward) -> None:
    chosen = selected_table(reward, state.selection(), state.runs())
    everything = sorted_by_reward(export_table(frame, run, reward))
    if not st.session_state.get("export::invalid", False):
        everything = everything[everything["valid"].fillna(False).astype(bool)]
    sources = {r.label: r for r in state.runs()}
    stem = file_stem(reward, [sources[s] for s in chosen.get("source", []) if s in sources]
                     or [run])
    all_stem = file_stem(reward, [run])
    empty = chosen.empty
    three_d = st.session_state.get("export::sdf3d", False)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{len(chosen)}** selected molecule{'s' * (len(chosen) != 1)}")
        st.download_button("Selection CSV", lambda: csv_text(chosen),
                           file_name=f"{stem}_selection.csv", mime="text/csv",
                           disabled=empty, on_click="ignore", icon=":material/download:",
                           key="export::sel_csv")
        st.download_button("Selection SDF", lambda: to_sdf(chosen, three_d)[0],
                           file_name=f"{stem}_selection.sdf", mime="chemical/x-mdl-sdfile",
                           disabled=empty, on_click="ignore", icon=":material/download:",
                           key="export::sel_sdf")
        st.download_button("All CSV", lambda: csv_text(everything),
                           file_name=f"{all_stem}_all.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:", key="export::all_csv")
        st.download_button("All SDF", lambda: to_sdf(everything, three_d)[0],
                           file_name=f"{all_stem}_all.sdf", mime="chemical/x-mdl-sdfile",
                           on_click="ignore", icon=":material/download:", key="export::all_sdf")
        st.checkbox("3D in SDF", key="export::sdf3d",
                    help="SDF files with a 3D conformer per molecule (RDKit ETKDGv3, "
                         "MMFF94-minimized, explicit hydrogens: what the 3D view shows) "
                         "instead of 2D coordinates; tens of milliseconds a molecule.")
        st.checkbox("Invalid rows in All", key="export::invalid",
                    help="Include the SMILES RDKit rejects (valid = False, no reward) in "
                         "the All exports; left out by default.")
        st.button("Clear selection", on_click=state.clear_selection, disabled=empty,
                  icon=":material/deselect:", key="export::clear")
