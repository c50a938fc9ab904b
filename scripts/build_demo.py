"""Rebuild the shipped demo project, assets/demo/, from the shipped model.

    nice -n 5 python3 scripts/build_demo.py

For each of three reward presets it stores four runs of DASHBOARD_N molecules at seed 0,
as the dashboard would store them: the base model, RCFG, the default method and
best-of-N (the base model with BEST_OF candidates per molecule), each compared with one
shared base set. The model's identity (SHA-256 of its weights and of its config.json) is
recorded in the catalogue, and tests/test_demo.py checks it against assets/model. The
catalogue is left in rollback-journal mode, so the dashboard reads it without writing
beside it (`Project.open(..., read_only=True)`).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from engine.chem.rewards import load_reward
from engine.model.checkpoint import load_checkpoint
from engine.project import CATALOGUE, MOLECULES, Project, run_name
from engine.sampling import methods as M
from engine.sampling.compare import sample_base
from engine.sampling.sampler import SampleSettings, sample

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "assets" / "demo"
MODEL = "assets/model"      # stored relative to the repository, so the demo opens anywhere
# the dashboard's default preset last and the default method last within it: the newest run,
# which the Explore screen shows first, is the default request for the reward on screen
PRESETS = ("drug_like", "3d_complex", "cns_penetrant")
BEST_OF = 17
SEED = 0
IDENTITY_KEY = "demo:model"


def model_identity(folder: Path) -> dict:
    """SHA-256 of the checkpoint's weights and config.json, in full."""
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            for name in ("model.safetensors", "config.json")}


def requests() -> list[SampleSettings]:
    """The four runs of each preset, in the order they are listed."""
    n = M.DASHBOARD_N
    return [SampleSettings(method="base", n=n, seed=SEED),
            SampleSettings(method="rcfg", n=n, seed=SEED),
            SampleSettings(method="base", candidates=BEST_OF, n=n, seed=SEED),
            SampleSettings(method=M.DEFAULT_METHOD, n=n, seed=SEED)]


def build(folder: Path) -> None:
    ckpt = load_checkpoint(REPO / MODEL)
    project = Project.open(folder)
    base_id = None
    for preset in PRESETS:
        reward = load_reward(preset)
        toml = reward.to_toml()
        base = sample_base(ckpt, reward, requests()[0])   # scored with this reward
        for s in requests():
            if base_id is None:     # one comparison set for all: same n, seed and decoding
                base_id = project.add_run(
                    base.molecules, name=f"base set for {run_name(s, reward)}", kind="base",
                    settings=asdict(s), reward_toml=toml, reward_name=reward.name,
                    checkpoint=MODEL, summary=base.summary).id
            own = s.method == "base" and s.candidates == 1
            result = base if own else sample(ckpt, reward, s,
                                             base_mean_reward=base.summary["mean_reward"])
            record = project.add_run(
                result.molecules, name=run_name(s.in_use(), reward), settings={
                    **asdict(s), "base_run": base_id},
                reward_toml=toml, reward_name=reward.name, checkpoint=MODEL,
                summary=result.summary)
            print(f"#{record.number} {record.name}: mean reward "
                  f"{result.summary['mean_reward']:.3f}, validity "
                  f"{result.summary['validity']:.3f}", flush=True)
    project.set_value(IDENTITY_KEY, json.dumps(model_identity(REPO / MODEL)))
    with sqlite3.connect(folder / CATALOGUE) as db:     # one file, nothing beside it
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("VACUUM")


def main() -> int:
    os.chdir(REPO)      # MODEL is relative to the repository
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "demo"
        build(built)
        for stale in (DEMO / CATALOGUE, DEMO / MOLECULES):
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink(missing_ok=True)
        DEMO.mkdir(exist_ok=True)
        shutil.move(built / CATALOGUE, DEMO / CATALOGUE)
        shutil.move(built / MOLECULES, DEMO / MOLECULES)
    size = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    print(f"wrote {DEMO} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
