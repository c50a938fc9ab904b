"""The demo's banner: what the shipped demo is, and how to start a project of one's own."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import open_project, resources

OWN = ("To start your own project: **New project** in the sidebar's Project panel, or "
       "`python3 -m streamlit run app/main.py -- --project projects/NAME`.")


def banner(slot) -> None:
    """Into `slot` (an st.empty above the screen), while the session is in the demo or in
    the copy it made of it; drawn again after the screen, whose change may have made it."""
    copy = st.session_state.get(open_project.COPIED)
    if open_project.is_demo():
        slot.info("**Demo project (read-only).** Stored runs of 192 molecules for three reward "
                "presets, each by the base model, RCFG, the default method (reward-tilted) and "
                "best-of-17, so nothing is sampled: pick one under **Run**. Your first change "
                "(a Generate, a selection, an upload, a note, a rename or a deletion) is kept "
                "in a copy of the demo, a new project beside your own; the shipped demo stays "
                "as it is. " + OWN, icon=":material/slideshow:")
    elif copy and Path(copy).resolve() == open_project.project_dir().resolve():
        slot.info(f"**Your copy of the demo**, `{resources.display_path(copy)}`: your changes "
                "are kept here, and the shipped demo is unchanged. " + OWN,
                icon=":material/slideshow:")
