"""The sidebar's project panel: which project is open, and renaming or deleting its runs."""
from __future__ import annotations

import streamlit as st

from app import messages, project, resources, state
from engine.project import ProjectError

ss = st.session_state


def _rename(run_id: str) -> None:
    run = state.run_by_id(run_id)
    try:
        record = project.current().rename_run(run.number, ss["project::name"])
    except ProjectError as exc:
        ss["project::message"] = messages.shown(exc)
        return
    run.name = record.name
    ss["project::message"] = None


def _delete(run_id: str) -> None:
    run = state.run_by_id(run_id)
    project.current().delete_run(run.number)     # and its base set
    state.sync_runs()                            # in step with the project: run gone
    ss["project::confirm"] = False


def caption() -> None:
    """Which project is open, and what could not be restored from it."""
    folder = project.project_dir()
    st.caption(f"Project: `{resources.display_path(folder)}`",
               help="Every Generate and the selection are kept here. Start the dashboard "
                    "with `-- --project DIR` (or set RCFG_PROJECT) for another project; "
                    "`python3 -m engine sample --project DIR` adds runs from a terminal.")
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
