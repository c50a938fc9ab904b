"""Notes on a run: what the chemist thought of it, kept in the project beside the run
(deleted with it) and shown to every tab and after a restart."""
from __future__ import annotations

import streamlit as st

from app import messages, open_project, state
from engine.project import ProjectError

ss = st.session_state
TEXT, PROBLEM = "notes::text", "notes::problem"


def _add(run_number: int) -> None:
    try:
        open_project.add_note(run_number, ss.get(TEXT, ""))
    except ProjectError as exc:
        ss[PROBLEM] = messages.shown(exc)
        return
    ss[TEXT], ss[PROBLEM] = "", None


def render(run: state.Run) -> None:
    """A popover with the run's notes, oldest first, and a box for a new one."""
    written = open_project.notes(run.project_id)
    with st.popover(f"Notes ({len(written)})" if written else "Notes",
                    icon=":material/sticky_note_2:", width="stretch"):
        for note in written:
            st.markdown(f":small[{note['created'][:16].replace('T', ' ')}]  \n{note['text']}")
        with st.form("notes::form", border=False, clear_on_submit=False, enter_to_submit=False):
            st.text_area("New note", key=TEXT, max_chars=4000, height=90,
                         placeholder="e.g. good series around the piperazine; check hERG")
            st.form_submit_button("Add note", on_click=_add, args=(run.project_id,),
                                  icon=":material/add:")
        if ss.get(PROBLEM):
            st.error(ss[PROBLEM], icon=":material/error:")
