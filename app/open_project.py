"""The dashboard's project: where runs and the selection are kept between sessions.

The folder is `--project DIR` (after `--` on the `streamlit run` line), else
`$RCFG_PROJECT`, else `projects/default` in the repository; `--demo` opens the shipped demo,
assets/demo/, read-only: the first change a chemist makes there (a Generate, the selection,
an upload, a note, a rename or a deletion) copies it to a new project, `demo-copy` beside
the usual projects, and the session works in the copy from then on (`writable`). Every finished Generate is
stored there at once (`engine.project`: SQLite catalogue plus molecule files, atomic), with
its base comparison set; the selection (molecule IDs) is stored on every change, an
uploaded molecule file as an imported set, and notes on runs as they are written. A new
session (a reload, a restart, a second tab) starts from what the project holds, so nothing
is lost when the browser closes or the server is killed.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.chem.rewards import Reward
from engine.project import (Project, ProjectError, checkpoint_id, fit_name, run_name,
                            split_id)
from engine.sampling.compare import BASE_KEYS
from engine.sampling.sampler import SampleSettings

REPO = Path(__file__).resolve().parents[1]
ENV_PROJECT = "RCFG_PROJECT"
SELECTION_NAME = "current selection"


CHOSEN = "project::dir"   # a project picked in this session (the sidebar's picker)
COPIED = "project::demo_copy"   # the copy of the demo this session made on its first change
DEMO_DIR = REPO / "assets" / "demo"
DEMO_COPY = "demo-copy"
NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _home() -> Path:
    return Path(os.environ.get(ENV_PROJECT) or REPO / "projects" / "default")


def started_dir() -> Path:
    """The project the server was started on: the demo with `--demo`, `--project DIR`,
    `$RCFG_PROJECT` or projects/default."""
    argv = sys.argv[1:]
    if "--demo" in argv:
        return DEMO_DIR
    if "--project" in argv and argv.index("--project") + 1 < len(argv):
        return Path(argv[argv.index("--project") + 1])
    return _home()


def projects_root() -> Path:
    """Where new projects go: beside the started one, or (for the demo, which sits among the
    shipped assets) beside `$RCFG_PROJECT` or projects/default."""
    started = started_dir().resolve()
    return (_home() if is_demo(started) else started).resolve().parent


def is_demo(folder=None) -> bool:
    """Whether `folder` (default: this session's project) is the shipped demo."""
    return Path(folder or project_dir()).resolve() == DEMO_DIR.resolve()


def project_dir() -> Path:
    """The project this session works in: the one picked in the sidebar, else the one the
    server was started on."""
    return Path(st.session_state.get(CHOSEN) or started_dir())


def neighbours() -> list[Path]:
    """The project folders beside the started one (those holding a catalogue), it first."""
    home = started_dir().resolve()
    found = sorted(p.parent for p in projects_root().glob("*/project.sqlite"))
    return [home] + [p for p in found if p != home]


def new_project_dir(name: str) -> Path:
    """A new project folder beside the started one; ProjectError for a bad or taken name."""
    name = str(name).strip()
    if not NAME_OK.fullmatch(name):
        raise ProjectError(f"project name {name!r}: use 1 to 64 letters, digits, '_', '-' or "
                           "'.', starting with a letter or digit")
    folder = projects_root() / name
    if folder.exists():
        raise ProjectError(f"a project named {name!r} already exists; pick it in the list")
    return folder


@st.cache_resource(show_spinner=False)
def _open(path: str, read_only: bool) -> Project:
    return Project.open(path, read_only=read_only)


def current() -> Project:
    """The open project (created on first use; the demo read-only); ProjectError when it
    cannot be used."""
    folder = project_dir().resolve()
    return _open(str(folder), is_demo(folder))


def writable() -> Project:
    """The open project, for a change. The shipped demo is never written: the first change
    copies it to a new project (`demo-copy`, `demo-copy-2`, ... beside the usual projects),
    with the same runs, IDs and selection, and this session works in the copy from then on,
    so the change (and everything after it) is kept as in any project."""
    project = current()
    if not project.read_only:
        return project
    root, number = projects_root(), 1
    while (folder := root / (DEMO_COPY if number == 1 else f"{DEMO_COPY}-{number}")).exists():
        number += 1
    project.copy_to(folder)
    st.session_state[CHOSEN] = st.session_state[COPIED] = str(folder)
    return current()


def save_run(run) -> None:
    """Store a finished run and its base set (once: a later run compared with the very same
    base molecules points to the stored set); the run's molecules then carry their project
    IDs and InChIKeys, and the run takes the project's run number (base sets take none)."""
    project = writable()
    reward = run.reward
    toml, reward_name = (reward.to_toml(), reward.name) if reward is not None else ("", "")
    settings = SampleSettings.from_stored(run.settings)
    name = run_name(settings.in_use(), reward, run.checkpoint)
    base_id = stored_base(run.checkpoint, run.settings, run.base["smiles"])
    if base_id is None:
        base_id = project.add_run(run.base, name=fit_name(f"base set for {name}"), kind="base",
                                  settings=run.settings, reward_toml=toml,
                                  reward_name=reward_name, checkpoint=run.checkpoint).id
    record = project.add_run(run.molecules, name=name,
                             settings={**run.settings, "base_run": base_id},
                             reward_toml=toml, reward_name=reward_name,
                             checkpoint=run.checkpoint, summary=run.summary)
    run.molecules = project.molecules(record.id)
    run.base = project.molecules(base_id)
    run.id, run.number, run.name = session_id(record), record.number, record.name
    run.project_id = record.id


@st.cache_data(max_entries=16, show_spinner=False)
def _weights_id(folder: str, stamp: float) -> str:
    """The stored identity of a checkpoint's weights, hashed once per weights file (`stamp`
    is its modification time, so rewritten weights are hashed again)."""
    return checkpoint_id(folder)


def stored_base(checkpoint, settings: dict, smiles=None) -> int | None:
    """The ID of a stored base set made by the weights now in the `checkpoint` folder with
    the base-set settings of `settings` (and, when given, these very SMILES), if any: a
    restarted server reuses it instead of sampling again."""
    folder = checkpoint_folder(checkpoint)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        return None
    return current().find_base(_weights_id(str(folder), weights.stat().st_mtime), settings,
                               BASE_KEYS, smiles,
                               same_folder=lambda stored: checkpoint_folder(stored) == folder)


def checkpoint_folder(checkpoint) -> Path:
    """A run's checkpoint folder; a relative one (the demo's `assets/model`) is taken from
    the repository."""
    return (REPO / Path(checkpoint).expanduser()).resolve()


def base_molecules(run_id: int) -> tuple[pd.DataFrame, dict]:
    """A stored base set's molecules and summary."""
    project = current()
    return project.molecules(run_id), project.run(run_id).summary


def session_id(record) -> str:
    """A stored run's key in the session and in the dashboard's caches: `p<id>`, plus the
    time it was stored, so a run of another project (or of this folder made anew) with the
    same number never shares cached tables with it."""
    return f"p{record.id}@{record.created}"


def stored_ids() -> set[int]:
    """The IDs of the project's generated runs (one cheap catalogue query)."""
    return current().run_ids("generated")


def stored_runs(load_model, skip=frozenset()) -> tuple[list[dict], list[str]]:
    """The project's generated runs as `state.Run` fields (oldest first), leaving out the
    IDs in `skip`, and a message for each run that could not be restored (its checkpoint
    is gone, say)."""
    project, out, problems = current(), [], []
    for record in project.runs():
        if record.kind != "generated" or record.id in skip:
            continue
        try:
            ckpt = load_model(checkpoint_folder(record.checkpoint))
            base_id = record.settings.get("base_run")
            out.append({
                "number": record.number, "project_id": record.id,
                "id": session_id(record), "name": record.name,
                "settings": {k: v for k, v in record.settings.items() if k != "base_run"},
                "summary": record.summary, "molecules": project.molecules(record.id),
                "base": project.molecules(base_id) if base_id else None,
                "reward": Reward.from_toml(record.reward_toml) if record.reward_toml else None,
                "ckpt": ckpt, "checkpoint": record.checkpoint, "started": record.created})
        except Exception as exc:  # noqa: BLE001 (one bad run must not hide the others)
            problems.append(f"run {record.id} ({record.name}) not restored: {exc}")
    return out, problems


def save_selection(ids) -> None:
    """Store the selection: molecule IDs (`<run>:<row>`), so each keeps its run."""
    writable().save_selection(SELECTION_NAME, sorted(ids, key=split_id))


def stored_selection() -> set[str]:
    """The IDs of the stored selection (molecules of deleted runs left out)."""
    project = current()
    try:
        members = project.selection(SELECTION_NAME).members
    except ProjectError:      # none stored yet
        return set()
    return set(project.gather(members)["id"])


MAX_UNREADABLE = 1000   # records of an imported file RDKit could not read, kept with it


def save_import(filename: str, molecules, unreadable) -> int:
    """Store a chemist's own molecules (scored table) and the records that could not be
    read (the first MAX_UNREADABLE) as an imported set; returns its run ID."""
    record = writable().add_run(
        molecules, name=filename, kind="imported",
        summary={"unreadable": unreadable.head(MAX_UNREADABLE).to_dict("records"),
                 "unreadable_total": int(len(unreadable))})
    return record.id


def imported_sets() -> dict[int, str]:
    """The project's imported sets, newest first: run ID -> file name."""
    return {r.id: r.name for r in reversed(current().runs()) if r.kind == "imported"}


def imported(run_id: int):
    """(molecules, unreadable records as a table, how many there were) of an imported set."""
    project = current()
    summary = project.run(run_id).summary
    bad = pd.DataFrame(summary.get("unreadable", []), columns=["row", "name", "given", "reason"])
    return project.molecules(run_id), bad, int(summary.get("unreadable_total", len(bad)))


def notes(run_number: int) -> list[dict]:
    return current().notes(run_number)


def add_note(run_number: int, text: str) -> None:
    writable().add_note(text, run_id=run_number)
