"""What the session remembers across reruns and page switches: the one molecule selection
(a set of SMILES shared by plot, grid and table) and the runs of this session. Both are
plain keys that no widget owns, so Streamlit never drops them. CHECKPOINT is the key of
the sidebar's checkpoint picker (rendered on every page, so never dropped either)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import streamlit as st

SELECTION, RUNS, CHECKPOINT = "selection", "runs", "checkpoint"


def selection() -> set[str]:
    """The selected SMILES (the set itself: callers may read it, use the helpers to edit)."""
    return st.session_state.setdefault(SELECTION, set())


def select(smiles) -> None:
    selection().update(smiles)


def deselect(smiles) -> None:
    selection().difference_update(smiles)


def clear_selection() -> None:
    selection().clear()


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

    @property
    def label(self) -> str:
        s = self.settings
        method = s["method"]
        knobs = {"rcfg": f"γ={s['gamma']:g}, |Y_S|={s['ys']}",
                 "qtilt": f"γ={s['gamma']:g}, |Y_S|={s['ys']}",
                 "cfg": f"w={s['gamma']:g}", "best_of_n": f"N={1 + s['ys']}"}.get(method, "")
        return f"#{self.number} {method}" + (f" ({knobs})" if knobs else "") + f", n={s['n']}"


def runs() -> list[Run]:
    return st.session_state.setdefault(RUNS, [])


def add_run(run: Run) -> None:
    runs().append(run)


def next_run_number() -> int:
    return len(runs()) + 1


def run_labels() -> dict[str, str]:
    """Run id -> label (a plain dict: safe as a widget's format_func)."""
    return {r.id: r.label for r in runs()}


def run_by_id(run_id: str) -> Run | None:
    return next((r for r in runs() if r.id == run_id), None)
