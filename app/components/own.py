"""Your own molecules (a CSV, .smi or SDF upload), scored with the current reward and shown
beside the run in every view as a set of their own (`source` column). Records RDKit cannot
read are counted and listed, never dropped silently.

An upload is stored in the project as an imported set (`app/project.py`) the moment it is
read: its molecules get IDs like generated ones (so they can be selected and exported with
their provenance), and a reload or a restart shows the newest set again. Earlier sets stay
in the project and can be shown again or deleted."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import messages, project
from engine.chem.alerts import batch_alerts
from engine.chem.diversity import murcko_scaffold
from engine.chem.molfile import MoleculeFileError, read_molecules
from engine.chem.scoring import rescore, score_molecules
from engine.project import ProjectError

ss = st.session_state
OWN, UPLOAD, SHOW, PICK = "own::set", "own::upload", "own::show", "own::stored"


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


@st.cache_data(max_entries=16, show_spinner=False)
def _stored(folder: str, run_id: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """An imported set of the project in `folder` (the key): molecules, unreadable
    records, how many there were."""
    return project.imported(run_id)


def _on_upload() -> None:
    upload = ss.get(UPLOAD)
    if upload is None:          # the file was removed from the uploader: the set stays
        return
    try:
        table, bad = _checked(upload.getvalue(), upload.name)
        run_id = project.save_import(upload.name, table, bad)
    except (MoleculeFileError, ProjectError) as exc:
        ss[OWN] = {"error": messages.shown(exc), "filename": upload.name}
        return
    ss[OWN] = {"run": run_id, "filename": upload.name}
    ss[PICK], ss[SHOW] = run_id, True


def _current() -> dict | None:
    """The set shown: chosen this session, else the project's newest imported set."""
    if OWN not in ss:
        sets = project.imported_sets()
        newest = next(iter(sets), None)
        ss[OWN] = None if newest is None else {"run": newest, "filename": sets[newest]}
    return ss[OWN]


def _table(run_id: int) -> tuple[pd.DataFrame, pd.DataFrame, int] | None:
    try:
        return _stored(str(project.project_dir().resolve()), run_id)
    except ProjectError:        # deleted in another tab
        return None


def molecules_of(run_id: int, filename: str, reward) -> pd.DataFrame | None:
    """An imported set scored with `reward`, `source` = its file name; None when it holds
    no readable molecule or is gone."""
    stored = _table(run_id)
    if stored is None or stored[0].empty:
        return None
    return rescore(stored[0], reward).assign(source=filename)


def molecules(reward) -> pd.DataFrame | None:
    """The shown set scored with `reward`, with `source` (the file name); None when nothing
    (readable) is uploaded."""
    own = _current()
    if not own or "run" not in own:
        return None
    return molecules_of(own["run"], own["filename"], reward)


def beside(run_frame: pd.DataFrame, run_label: str, reward) -> pd.DataFrame:
    """The run's molecules with `source` = its label, followed by yours when they are
    uploaded and shown."""
    frame = run_frame.assign(source=run_label)
    mine = molecules(reward) if ss.get(SHOW, True) else None
    return frame if mine is None else pd.concat([frame, mine], ignore_index=True)


def _show_stored() -> None:
    sets = project.imported_sets()
    run_id = ss.get(PICK)
    if run_id in sets:
        ss[OWN] = {"run": run_id, "filename": sets[run_id]}
        ss[SHOW] = True


def _delete(run_id: int) -> None:
    project.current().delete_run(run_id)
    _stored.clear()
    ss.pop(OWN, None)
    ss.pop(PICK, None)


def render(run_frame: pd.DataFrame, reward) -> None:
    """The upload popover: file, what was read, what was not and why, a show toggle, the
    sets uploaded before."""
    own = _current()
    # a fixed label: a popover whose label changes is a new one, and closes on upload
    with st.popover("Your molecules", icon=":material/upload_file:"):
        st.file_uploader("CSV (a smiles column), .smi or SDF", key=UPLOAD,
                         type=["csv", "smi", "smiles", "txt", "sdf", "sd"],
                         on_change=_on_upload,
                         help="Your lead series or known actives: scored with the current "
                              "reward, shown beside the run in every view, and kept in the "
                              "project.")
        sets = project.imported_sets()
        if sets:
            shown = own.get("run") if own else None
            ss[PICK] = shown if shown in sets else next(iter(sets))
            st.selectbox("Shown set", list(sets), key=PICK, on_change=_show_stored,
                         format_func=lambda i: f"{sets[i]} (set {i})",
                         help="Every file uploaded to this project, newest first.")
        if not own:
            return
        if "error" in own:
            st.error(own["error"], icon=":material/error:")
            return
        stored = _table(own["run"])
        if stored is None:
            return
        table, bad, n_bad = stored
        ss.setdefault(SHOW, True)      # a new session shows the restored set
        st.toggle("Show them beside the run", key=SHOW)
        mine = molecules(reward)
        summary = f"**{len(table)}** read from `{own['filename']}`, **{n_bad}** unreadable"
        if mine is not None:
            summary += (f"; mean reward {mine['reward'].mean():.3f} (this run "
                        f"{run_frame['reward'].fillna(0).mean():.3f})")
        st.markdown(summary + ".")
        if len(bad):
            st.dataframe(bad, hide_index=True, height=min(240, 36 * (len(bad) + 1)))
        st.button("Delete this set from the project", key="own::delete", on_click=_delete,
                  args=(own["run"],), icon=":material/delete:",
                  help="Its molecules leave every view and the selection; the file on your "
                       "computer is untouched.")
