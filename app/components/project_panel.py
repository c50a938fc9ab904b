"""The sidebar's project panel: which project is open (and a picker to open or create
another beside it), and renaming or deleting its runs."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import messages, open_project, resources, state
from app.components import own, reward_editor
from engine.project import ProjectError

ss = st.session_state


def _rename(run_id: str) -> None:
    run = state.run_by_id(run_id)
    try:
        record = open_project.writable().rename_run(run.project_id, ss["project::name"])
    except ProjectError as exc:
        ss["project::message"] = messages.shown(exc)
        return
    run.name = record.name
    ss["project::message"] = None


def _delete(run_id: str) -> None:
    run = state.run_by_id(run_id)
    open_project.writable().delete_run(run.project_id)     # and its base set
    state.sync_runs()                            # in step with the project: run gone
    ss["project::confirm"] = False


def _switch_to(folder) -> None:
    """Work in another project from now on: this session's runs, selection, shown
    molecules and reward are those of the new project (the old one keeps all of its own)."""
    ss[open_project.CHOSEN] = str(folder)
    for key in (state.RUNS, state.SELECTION, state.RESTORE_PROBLEMS, own.OWN, own.PICK,
                reward_editor.REWARD, reward_editor.STORED, "explore::run", "project::run"):
        ss.pop(key, None)


def _picked() -> None:
    _switch_to(ss["project::pick"])


def _create() -> None:
    try:
        folder = open_project.new_project_dir(ss.get("project::new", ""))
        open_project.Project.open(folder)
    except ProjectError as exc:
        ss["project::problem"] = messages.shown(exc)
        return
    ss["project::problem"], ss["project::new"] = None, ""
    _switch_to(folder)


def caption() -> None:
    """Which project is open, a picker for the projects beside it, and what could not be
    restored from it."""
    folder = open_project.project_dir()
    with st.popover(f"Project: {folder.name}", icon=":material/folder_open:",
                    width="stretch"):
        st.caption(f"`{resources.display_path(folder)}`: every Generate, the selection, your "
                   "uploaded molecules and notes are kept here. `python3 -m engine sample "
                   "--project DIR` adds runs from a terminal; start the dashboard with "
                   "`-- --project DIR` to open a project elsewhere.")
        choices = [str(p) for p in open_project.neighbours()]
        current = str(folder.resolve())
        if current not in choices:
            choices.insert(0, current)
        ss["project::pick"] = current
        st.selectbox("Open a project", choices, key="project::pick", on_change=_picked,
                     format_func=lambda p: Path(p).name)
        with st.form("project::create", border=False, enter_to_submit=False):
            st.text_input("New project", key="project::new", max_chars=64,
                          placeholder="e.g. kinase-series-2")
            st.form_submit_button("Create and open", on_click=_create,
                                  icon=":material/create_new_folder:")
        if ss.get("project::problem"):
            st.error(ss["project::problem"], icon=":material/error:")
    for problem in ss.get(state.RESTORE_PROBLEMS, []):
        st.warning(messages.shown(problem), icon=":material/warning:")


def manage() -> None:
    """Rename or delete the project's runs (drawn after the page, so a run just generated
    is listed)."""
    if not state.runs():
        return
    with st.expander(f"Stored runs ({len(state.runs())}): rename or delete",
                     icon=":material/edit:"):
        labels = state.run_labels()
        run_id = st.selectbox("Run", list(reversed(list(labels))), format_func=labels.get,
                              key="project::run")
        with st.form("project::rename", border=False, enter_to_submit=False):
            st.text_input("New name", key="project::name", max_chars=200)
            st.form_submit_button("Rename", on_click=_rename, args=(run_id,))
        if ss.get("project::message"):
            st.error(ss["project::message"], icon=":material/error:")
        confirm = st.checkbox("Yes, delete this run and its molecules", key="project::confirm")
        st.button("Delete run", on_click=_delete, args=(run_id,), disabled=not confirm,
                  type="secondary", icon=":material/delete:")
