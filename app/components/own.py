"""Your own molecules (a CSV, .smi or SDF upload), scored with the current reward and shown
beside the run in every view as a set of their own (`source` column). Records RDKit cannot
read are counted and listed, never dropped silently."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.components import results
from engine.chem.alerts import batch_alerts
from engine.chem.diversity import murcko_scaffold
from engine.chem.molfile import MoleculeFileError, read_molecules
from engine.chem.scoring import rescore, score_molecules

ss = st.session_state
OWN, UPLOAD, SHOW = "own::set", "own::upload", "own::show"


@st.cache_data(max_entries=8, show_spinner="Scoring your molecules…")
def _checked(data: bytes, filename: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(properties, alerts, flags and scaffold of the readable molecules; invalid records).
    Raises MoleculeFileError when the file cannot be read at all."""
    good, bad = read_molecules(data, filename)
    table = score_molecules(good["smiles"].tolist())
    checks = batch_alerts(table["smiles"].tolist())
    checks.insert(len(checks.columns) - 1, "scaffold",
                  [murcko_scaffold(s) for s in table["smiles"]])
    table = pd.concat([table, checks], axis=1)
    table.insert(1, "name", good["name"].to_numpy())
    return table, bad


def _on_upload() -> None:
    upload = ss.get(UPLOAD)
    if upload is None:
        ss.pop(OWN, None)
        return
    ss[OWN] = {"filename": upload.name, "data": upload.getvalue()}
    ss[SHOW] = True


def molecules(reward) -> pd.DataFrame | None:
    """The uploaded molecules scored with `reward`, with `source` (the file name); None when
    nothing (readable) is uploaded."""
    own = ss.get(OWN)
    if not own:
        return None
    try:
        table, _ = _checked(own["data"], own["filename"])
    except MoleculeFileError:
        return None
    if table.empty:
        return None
    return rescore(table, reward).assign(source=own["filename"])


def beside(run_frame: pd.DataFrame, run_label: str, reward) -> pd.DataFrame:
    """The run's molecules with `source` = its label, followed by yours when they are
    uploaded and shown."""
    frame = run_frame.assign(source=run_label)
    mine = molecules(reward) if ss.get(SHOW, True) else None
    return frame if mine is None else pd.concat([frame, mine], ignore_index=True)


def render(run_frame: pd.DataFrame, reward) -> None:
    """The upload popover: file, what was read, what was not and why, a show toggle."""
    own = ss.get(OWN)
    # a fixed label: a popover whose label changes is a new one, and closes on upload
    with st.popover("Your molecules", icon=":material/upload_file:"):
        st.file_uploader("CSV (a smiles column), .smi or SDF", key=UPLOAD,
                         type=["csv", "smi", "smiles", "txt", "sdf", "sd"],
                         on_change=_on_upload,
                         help="Scored with the current reward and shown beside the run in "
                              "every view, e.g. your lead series.")
        if not own:
            return
        try:
            table, bad = _checked(own["data"], own["filename"])
        except MoleculeFileError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.toggle("Show them beside the run", key=SHOW)
        mine = molecules(reward)
        summary = f"**{len(table)}** read from `{own['filename']}`, **{len(bad)}** unreadable"
        if mine is not None:
            summary += (f"; mean reward {mine['reward'].mean():.3f} (this run "
                        f"{run_frame['reward'].fillna(0).mean():.3f})")
        st.markdown(summary + ".")
        if len(bad):
            st.dataframe(bad, hide_index=True, height=min(240, 36 * (len(bad) + 1)))
