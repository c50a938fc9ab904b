"""Your own molecules (a CSV, .smi or SDF upload), scored with the current reward and shown
beside the run in every view as a set of their own (`source` column); a salt is scored as
its largest fragment, neutralized, as `score` does (`given_smiles` keeps what the file
says). Records RDKit cannot read are counted and listed, never dropped silently.

An upload is stored in the project as an imported set (`app/open_project.py`) the moment it is
read: its molecules get IDs like generated ones (so they can be selected and exported with
their provenance), and a reload or a restart shows the newest set again. Several sets can be
shown at once, each as a source of its own, in every view (the Distribution plot included);
earlier sets stay in the project and can be shown again or deleted. A file that cannot be
read is named with the reason and leaves the sets shown as they were."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import messages, open_project
from engine.chem.alerts import with_checks
from engine.chem.molfile import MoleculeFileError, read_molecules
from engine.chem.properties import organic_refusal, scored_form
from engine.chem.scoring import rescore, score_molecules
from engine.project import ProjectError

ss = st.session_state
OWN, UPLOAD, SHOW, PICK = "own::sets", "own::upload", "own::show", "own::stored"
FAILED = "own::failed"   # the last upload that could not be read: file name and reason


def _checked(data: bytes, filename: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(properties, alerts, flags and scaffold of the readable molecules; invalid records).
    Raises MoleculeFileError when the file cannot be read at all."""
    good, bad = read_molecules(data, filename)
    # scored as `score` scores them: a salt's largest fragment, neutralized (`smiles` is
    # what is scored and drawn; `given_smiles` what the file says); one without a carbon
    # atom (an inorganic salt, water) is listed with the unreadable records, saying why
    forms = [scored_form(s) or s for s in good["smiles"]]
    refused = [organic_refusal(s) for s in forms]
    if any(refused):
        no = pd.Series(refused, index=good.index) != ""
        bad = pd.concat([bad, good[no].rename(columns={"smiles": "given"})
                         .assign(reason=[r for r in refused if r])], ignore_index=True)
        bad = bad.sort_values("row", kind="stable").reset_index(drop=True)
        good, forms = good[~no], [f for f, r in zip(forms, refused) if not r]
    table = with_checks(score_molecules(forms))
    table.insert(1, "name", good["name"].to_numpy())
    table.insert(2, "given_smiles", good["smiles"].to_numpy())
    return table, bad


@st.cache_data(max_entries=16, show_spinner=False)
def _stored(folder: str, run_id: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """An imported set of the project in `folder` (the key): molecules, unreadable
    records, how many there were."""
    return open_project.imported(run_id)


def _on_upload() -> None:
    upload = ss.get(UPLOAD)
    if upload is None:          # the file was removed from the uploader: the sets stay
        return
    try:
        table, bad = _checked(upload.getvalue(), upload.name)
        run_id = open_project.save_import(upload.name, table, bad)
    except (MoleculeFileError, ProjectError) as exc:
        ss[FAILED] = {"error": messages.shown(exc), "filename": upload.name}
        return
    ss.pop(FAILED, None)
    ss[OWN] = [run_id, *shown_sets()]
    ss[SHOW] = True


def shown_sets() -> list[int]:
    """The imported sets shown (run IDs, newest first): chosen this session, else the
    project's newest one; sets deleted elsewhere are left out."""
    sets = open_project.imported_sets()
    if OWN not in ss:
        ss[OWN] = list(sets)[:1]
    return [i for i in ss[OWN] if i in sets]


def _table(run_id: int) -> tuple[pd.DataFrame, pd.DataFrame, int] | None:
    try:
        return _stored(str(open_project.project_dir().resolve()), run_id)
    except ProjectError:        # deleted in another tab
        return None


def molecules_of(run_id: int, filename: str, reward) -> pd.DataFrame | None:
    """An imported set scored with `reward`, `source` = its file name; None when it holds
    no readable molecule or is gone."""
    stored = _table(run_id)
    if stored is None or stored[0].empty:
        return None
    return rescore(stored[0], reward).assign(source=filename)


def _source(run_id: int, sets: dict[int, str]) -> str:
    """A set's name in the views: its file name, with the set's ID when two share it."""
    names = list(sets.values())
    return sets[run_id] if names.count(sets[run_id]) == 1 else f"{sets[run_id]} (set {run_id})"


def molecules(reward) -> pd.DataFrame | None:
    """The shown sets scored with `reward`, `source` naming each set's file; None when
    nothing (readable) is shown."""
    sets = open_project.imported_sets()
    parts = [m for i in shown_sets()
             if (m := molecules_of(i, _source(i, sets), reward)) is not None]
    return pd.concat(parts, ignore_index=True) if parts else None


def beside(run_frame: pd.DataFrame, run_label: str, reward) -> pd.DataFrame:
    """The run's molecules with `source` = its label, followed by yours when they are
    uploaded and shown."""
    frame = run_frame.assign(source=run_label)
    mine = shown(reward)
    return frame if mine is None else pd.concat([frame, mine], ignore_index=True)


def shown(reward) -> pd.DataFrame | None:
    """Your molecules as the views show them (None while hidden or none)."""
    return molecules(reward) if ss.get(SHOW, True) else None


def _on_pick() -> None:
    ss[OWN] = list(ss[PICK])
    ss[SHOW] = True


def _delete(run_id: int) -> None:
    open_project.writable().delete_run(run_id)
    _stored.clear()
    ss[OWN] = [i for i in ss.get(OWN, []) if i != run_id]


def render(run_frame: pd.DataFrame, reward) -> None:
    """The upload popover: file, what was read, what was not and why, a show toggle, the
    sets shown (any of those uploaded before)."""
    shown_ids = shown_sets()
    # a fixed label: a popover whose label changes is a new one, and closes on upload
    with st.popover("Your molecules", icon=":material/upload_file:"):
        st.file_uploader("CSV (a smiles column), .smi or SDF", key=UPLOAD,
                         type=["csv", "smi", "smiles", "txt", "sdf", "sd"],
                         on_change=_on_upload,
                         help="Your lead series or known actives: scored with the current "
                              "reward, shown beside the run in every view, and kept in the "
                              "project.")
        if FAILED in ss:
            failed = ss[FAILED]
            kept = " The sets shown stay as they were." if shown_ids else ""
            st.error(f"{failed['error']}{kept}", icon=":material/error:")
        sets = open_project.imported_sets()
        if not sets:
            return
        ss[PICK] = shown_ids
        st.multiselect("Shown sets", list(sets), key=PICK,
                       on_change=_on_pick,
                       format_func=lambda i: f"{sets[i]} (set {i})",
                       help="Every file uploaded to this project, newest first; each set "
                            "shows as a source of its own.")
        if not shown_ids:
            return
        ss.setdefault(SHOW, True)      # a new session shows the restored sets
        st.toggle("Show them beside the run", key=SHOW)
        for run_id in shown_ids:
            stored = _table(run_id)
            if stored is None:
                continue
            table, bad, n_bad = stored
            mine = molecules_of(run_id, sets[run_id], reward)
            summary = f"**{len(table)}** read from `{sets[run_id]}`, **{n_bad}** unreadable"
            if mine is not None:
                summary += (f"; mean reward {mine['reward'].mean():.3f} (this run "
                            f"{run_frame['reward'].fillna(0).mean():.3f})")
            st.markdown(summary + ".")
            if len(bad):
                st.dataframe(bad, hide_index=True, height=min(240, 36 * (len(bad) + 1)))
            st.button(f"Delete `{sets[run_id]}` from the project", key=f"own::delete::{run_id}",
                      on_click=_delete, args=(run_id,), icon=":material/delete:",
                      help="Its molecules leave every view and the selection; the file on "
                           "your computer is untouched.")
