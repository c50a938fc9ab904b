"""Cached loaders: the model once per process (shared read-only by every session), derived
tables once per checkpoint. A checkpoint is identified by its folder and the modification
time of its weights, so a checkpoint refreshed by a running training is picked up."""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app import open_project
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.structure_terms import structure_values
from engine.device import pick_device
from engine.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from engine.sampling.compare import base_key, sample_base
from engine.sampling.sampler import SampleSettings
from engine.train.runfolder import CONFIG_FILE, WEIGHTS_FILE

REPO = Path(__file__).resolve().parents[1]
ENV_CHECKPOINT, ENV_RUNS = "RCFG_CHECKPOINT", "RCFG_RUNS_DIR"
BASE_SETS = 16


def default_checkpoint() -> Path:
    """`$RCFG_CHECKPOINT` when set, else the shipped model."""
    return Path(os.environ.get(ENV_CHECKPOINT) or DEFAULT_CHECKPOINT)


def display_path(folder) -> str:
    """A folder as shown on screen: relative to the repository when inside it."""
    path = Path(folder).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def runs_dir() -> Path:
    """Where runs live: `$RCFG_RUNS_DIR` when set, else runs/ in the repository."""
    return Path(os.environ.get(ENV_RUNS) or REPO / "runs")


def run_folders() -> list[Path]:
    """Checkpoint folders under runs/ (any folder, one or two levels deep, with a config.json)."""
    root = runs_dir()
    if not root.is_dir():
        return []
    found = list(root.glob(f"*/{CONFIG_FILE}")) + list(root.glob(f"*/*/{CONFIG_FILE}"))
    return sorted(p.parent for p in found)


def checkpoint_choices() -> list[Path]:
    """The default checkpoint first, then every run folder."""
    default = default_checkpoint()
    return [default] + [p for p in run_folders() if p.resolve() != default.resolve()]


def checkpoint_key(path: Path) -> str:
    """Folder plus weights mtime: a new key whenever the weights are rewritten."""
    weights = Path(path) / WEIGHTS_FILE
    stamp = weights.stat().st_mtime if weights.is_file() else 0.0
    return f"{Path(path).resolve()}@{stamp}"


@st.cache_resource(max_entries=3, show_spinner="Loading the model…")
def load_model(key: str):
    """The checkpoint of `key` (see checkpoint_key) on the best device; CheckpointError
    propagates (and is not cached)."""
    return load_checkpoint(key.rsplit("@", 1)[0], device=pick_device("auto"))


@st.cache_resource
def device_label() -> str:
    """What sampling runs on: the GPU's name, or CPU with its thread count."""
    if torch.cuda.is_available():
        return f"GPU · {torch.cuda.get_device_name(0)}"
    return f"CPU · {torch.get_num_threads()} threads"


@st.cache_data(max_entries=8, show_spinner=False)
def bank_histograms(_ckpt, key: str, bins: int = 40) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per property: (bin centres, counts) of the prior bank between its 0.5 and 99.5
    percentiles (integer-valued properties get one bin per integer)."""
    out = {}
    values = _ckpt.bank_values()
    for j, prop in enumerate(PROPERTY_NAMES):
        v = values[:, j][np.isfinite(values[:, j])]
        lo, hi = np.percentile(v, [0.5, 99.5]) if len(v) else (0.0, 1.0)
        if len(v) and np.allclose(v, np.round(v)):
            edges = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.0)
        else:
            edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        counts, edges = np.histogram(v, bins=edges)
        out[prop] = ((edges[:-1] + edges[1:]) / 2, counts)
    return out


@st.cache_data(max_entries=8, show_spinner=False)
def bank_quantiles(_ckpt, key: str) -> pd.DataFrame:
    """10th, 50th and 90th percentile of every property over the prior bank (rows p10,
    p50, p90): the starting bounds of a newly included reward term."""
    bank = _ckpt.bank[list(PROPERTY_NAMES)]
    return bank.quantile([0.1, 0.5, 0.9]).set_axis(["p10", "p50", "p90"])


def _raw_identity(term) -> str:
    """What a structure term's raw columns depend on (its name, kind and references,
    patterns or families; not its goal, window, weight or mode)."""
    return json.dumps([term.name, term.structure, term.references, term.smarts, term.match,
                       term.families])


@st.cache_data(max_entries=32, show_spinner="Scoring the prior bank's molecules for the "
                                            "structure term (once per reference set, SMARTS "
                                            "or alert families)…")
def _bank_raw(_ckpt, key: str, identity: str, _term) -> pd.DataFrame:
    return structure_values(_ckpt.bank["smiles"].tolist(), [_term])


def bank_structure_values(ckpt, key: str, term) -> pd.DataFrame:
    """The raw columns of one structure term over the prior bank's molecules, computed
    once per checkpoint and per what they depend on (so moving a similarity window or a
    weight costs nothing). Alert terms take about a minute the first time (RDKit's
    FilterCatalog on the shipped model's 20,000 molecules)."""
    return _bank_raw(ckpt, key, _raw_identity(term), term)


@st.cache_resource
def _base_sets() -> tuple[OrderedDict, threading.Lock]:
    return OrderedDict(), threading.Lock()


def _base_id(ckpt_key: str, s: SampleSettings) -> tuple:
    return (ckpt_key, *base_key(s))


def _folder(ckpt_key: str) -> str:
    return ckpt_key.rsplit("@", 1)[0]


def has_base_set(ckpt_key: str, settings: SampleSettings) -> bool:
    """Whether the base comparison set for these settings is already sampled, in this
    process or stored in the project."""
    store, lock = _base_sets()
    with lock:
        if _base_id(ckpt_key, settings) in store:
            return True
    return open_project.stored_base(_folder(ckpt_key), asdict(settings)) is not None


def base_set(ckpt, ckpt_key: str, settings: SampleSettings, reward,
             progress=None, phase=None, preview=None,
             stored: bool = True) -> tuple[pd.DataFrame, dict]:
    """The base model's molecules (and run summary) for the checkpoint and the n, seed,
    temperature, top-p, grammar mask and ring checks of `settings`: sampled once per
    process, shared read-only by all sessions (the last BASE_SETS kept), and, when `stored`,
    taken from the project when it holds one (after a restart). Only the properties matter;
    re-score them for any reward. `progress`, `phase` and `preview` go to `sample` when it
    runs. Not an st.cache_data function because they draw, which a cached function may not
    do."""
    store, lock = _base_sets()
    key = _base_id(ckpt_key, settings)
    with lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    found = open_project.stored_base(_folder(ckpt_key), asdict(settings)) if stored else None
    if found is not None:     # read again on each use: a deleted run takes it with it
        return open_project.base_molecules(found)
    result = sample_base(ckpt, reward, settings, progress=progress, phase=phase,
                         preview=preview)
    with lock:
        store[key] = (result.molecules, result.summary)
        while len(store) > BASE_SETS:
            store.popitem(last=False)
    return store[key]
