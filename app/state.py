"""What the session remembers across reruns and page switches: the one molecule selection
(a set of molecule IDs, `<run>:<row>`, shared by plot, grid, table and exports, so each
selected molecule keeps the run it came from) and the runs. Both are plain keys that no
widget owns, so Streamlit never drops them, and both are kept in the project
(`app/open_project.py`), so a reload or a restart starts from them. CHECKPOINT is the key of
the sidebar's checkpoint picker (rendered on every page, so never dropped either)."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import streamlit as st

from app import open_project, resources
from engine.project import run_name
from engine.sampling.sampler import SampleSettings

SELECTION, RUNS, CHECKPOINT = "selection", "runs", "checkpoint"
RESTORE_PROBLEMS = "runs::restore_problems"


def selection() -> set[str]:
    """The selected molecule IDs (the set itself: callers may read it, use the helpers to
    edit). A new session starts from the selection stored in the project."""
    if SELECTION not in st.session_state:
        runs()   # restored first: the stored selection names their molecules
        st.session_state[SELECTION] = open_project.stored_selection()
    return st.session_state[SELECTION]


def _changed() -> None:
    open_project.save_selection(selection())


def select(ids) -> None:
    selection().update(ids)
    _changed()


def deselect(ids) -> None:
    selection().difference_update(ids)
    _changed()


def clear_selection() -> None:
    selection().clear()
    _changed()


@dataclass(frozen=True)
class Picks:
    """Where a view's select boxes write: the one selection of run molecules (`SHARED`), or
    a screen's own set (the Library screen's: its molecules are not `<run>:<row>`, so the
    project does not store them)."""

    chosen: Callable[[], set[str]]
    add: Callable[[Iterable[str]], None]
    remove: Callable[[Iterable[str]], None]


SHARED = Picks(selection, select, deselect)


@dataclass
class Run:
    """One sampling run: its settings, the molecules as sampled (properties are what
    matter; rewards are recomputed for the current reward), the base set it is compared
    with, the reward it was sampled for and the checkpoint it came from."""

    number: int
    settings: dict
    summary: dict
    molecules: pd.DataFrame
    base: pd.DataFrame
    reward: object
    ckpt: object
    checkpoint: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: str = field(default_factory=lambda: datetime.now().strftime("%H:%M:%S"))
    name: str = ""     # set when stored in the project: method, reward, changed settings
    project_id: int = 0   # the project's ID of the stored run (its molecules' `<id>:<row>`)

    @property
    def label(self) -> str:
        if self.name:
            return f"#{self.number} {self.name}"
        return f"#{self.number} " + run_name(SampleSettings.from_stored(self.settings).in_use())


def runs() -> list[Run]:
    """The project's runs as of this page run (`sync_runs` keeps them in step)."""
    if RUNS not in st.session_state:
        sync_runs()
    return st.session_state[RUNS]


def sync_runs() -> None:
    """Bring the runs in step with the project, once per page run (main.py): a run stored
    by another tab or by `sample --project` appears, a run deleted elsewhere goes."""
    mine = st.session_state.setdefault(RUNS, [])
    stored = open_project.stored_ids()
    known = {r.project_id for r in mine if r.id.startswith("p")}
    if stored != known:
        mine[:] = [r for r in mine if not r.id.startswith("p") or r.project_id in stored]
        new, problems = open_project.stored_runs(
            lambda folder: resources.load_model(resources.checkpoint_key(folder)),
            skip=known)
        mine += [Run(**fields) for fields in new]
        mine.sort(key=lambda r: r.number)
        st.session_state[RESTORE_PROBLEMS] = problems


def add_run(run: Run) -> None:
    """Keep a finished run: stored in the project first, then shown."""
    open_project.save_run(run)
    runs().append(run)


def next_run_number() -> int:
    return max((r.number for r in runs()), default=0) + 1


def run_labels() -> dict[str, str]:
    """Run id -> label (a plain dict: safe as a widget's format_func)."""
    return {r.id: r.label for r in runs()}


def run_by_id(run_id: str) -> Run | None:
    return next((r for r in runs() if r.id == run_id), None)
