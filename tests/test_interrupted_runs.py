"""A run folder's saves are one set: a run cut at any moment, inside a save too, resumes
from its last whole save and continues as 0..n; a resume refuses files of different steps,
unreadable training state, other settings and another start checkpoint."""
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.chem.rewards import load_reward
from engine.cli import main
from engine.model.checkpoint import load_checkpoint
from engine.train import runfolder
from engine.train.finetune import FinetuneConfig, finetune

ROOT = Path(__file__).resolve().parents[1]
REWARD = load_reward("tiny_fragment").to_dict()


def rl_config(ckpt, out, **kw):
    """A two-step RL run of the tiny model that saves after every step."""
    return FinetuneConfig(**{**dict(kind="rl", reward=REWARD, out=str(out),
                                    checkpoint=str(ckpt), steps=2, batch_size=4, eval_n=4,
                                    eval_every=100, save_every=1, device="cpu"), **kw})


def _cut_at_step_3(monkeypatch, where):
    """Make the save of step 3 die `where` ("before" or "after" its commit point)."""
    real_state, real_complete = runfolder.save_train_state, runfolder._complete

    def state(folder, optimizer, step, history, stage=None, resume=None):
        real_state(folder, optimizer, step, history, stage, resume)
        if step == 3 and where == "before":
            raise KeyboardInterrupt    # every file of step 3 staged, no commit record yet

    def complete(out):
        if where == "after" and (out / runfolder.COMMIT_FILE).is_file() and json.loads(
                (out / runfolder.COMMIT_FILE).read_text())["step"] == 3:
            staged = out / (runfolder.WEIGHTS_FILE + ".next")
            staged.replace(out / runfolder.WEIGHTS_FILE)   # one file in place, then killed
            raise KeyboardInterrupt
        real_complete(out)

    monkeypatch.setattr(runfolder, "save_train_state", state)
    monkeypatch.setattr(runfolder, "_complete", complete)


@pytest.mark.parametrize("where, resumed_from", [("before", 2), ("after", 3)])
def test_a_cut_save_leaves_one_whole_step_never_a_mix(tiny_checkpoint, tmp_path, monkeypatch,
                                                       where, resumed_from):
    out = tmp_path / "run"
    finetune(rl_config(tiny_checkpoint, out), progress=False)
    with monkeypatch.context() as patch:
        _cut_at_step_3(patch, where)
        with pytest.raises(KeyboardInterrupt):
            finetune(rl_config(tiny_checkpoint, out, steps=5), resume=True, progress=False)
    runfolder.recover(out)            # what a resume does first, under the lock
    assert runfolder.check_saved_step(out) == resumed_from
    history = finetune(rl_config(tiny_checkpoint, out, steps=5), resume=True, progress=False)
    assert [h["step"] for h in history] == list(range(6))
    assert [h["step"] for h in runfolder.read_history(out)] == list(range(6))
    assert not list(out.glob("*.next")) and not (out / runfolder.COMMIT_FILE).exists()


def test_files_of_different_steps_are_refused_on_resume(tiny_checkpoint, tmp_path):
    out, old = tmp_path / "run", tmp_path / "old"
    finetune(rl_config(tiny_checkpoint, out), progress=False)
    shutil.copytree(out, old)
    finetune(rl_config(tiny_checkpoint, out, steps=3), resume=True, progress=False)
    shutil.copy(old / runfolder.OPTIMIZER_FILE, out / runfolder.OPTIMIZER_FILE)
    with pytest.raises(runfolder.RunFolderError,
                       match="cut short.*model.safetensors at step 3, optimizer.safetensors "
                             "at step 2"):
        finetune(rl_config(tiny_checkpoint, out, steps=4), resume=True, progress=False)


def test_a_corrupt_training_state_is_one_clear_error(tiny_checkpoint, tmp_path):
    out = tmp_path / "run"
    finetune(rl_config(tiny_checkpoint, out), progress=False)
    (out / runfolder.STATE_FILE).write_text('{"step": 2, "hist')
    with pytest.raises(runfolder.RunFolderError, match="unreadable training state"):
        finetune(rl_config(tiny_checkpoint, out, steps=3), resume=True, progress=False)

    args = ["rl", "--reward", "tiny_fragment", "--checkpoint", str(tiny_checkpoint),
            "--out", str(out), "--steps", "3", "--device", "cpu", "--resume"]
    assert main(args) == 2


def _cut_save_left(folder: Path) -> bool:
    """Whether a killed run left a save half done: its commit record or staged files."""
    return ((folder / runfolder.COMMIT_FILE).exists()
            or any(folder.glob("*" + runfolder.STAGED)) or any(folder.glob("*.tmp")))


def test_runs_killed_at_random_moments_resume_to_exactly_0_to_n(tiny_checkpoint, tmp_path):
    rng, out = random.Random(0), tmp_path / "run"

    def args(steps):   # a save after every step: kills land in saves often
        return ["rl", "--reward", "tiny_fragment", "--checkpoint", str(tiny_checkpoint),
                "--out", str(out), "--steps", str(steps), "--batch-size", "4", "--eval-n",
                "4", "--eval-every", "1000", "--save-every", "1", "--device", "cpu",
                "--resume"]

    kills, cut_saves = 10, 0
    for kill in range(kills):
        before = len(runfolder.read_history(out))
        proc = subprocess.Popen([sys.executable, "-m", "engine", *args(10_000), "--threads",
                                 "1"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while len(runfolder.read_history(out)) <= before + 1 and time.time() < deadline:
            assert proc.poll() is None
            time.sleep(0.05)
        if kill % 2:   # every other kill waits for a save to begin: a random moment in it
            while not _cut_save_left(out) and time.time() < deadline:
                time.sleep(rng.uniform(0, 0.002))
        else:
            time.sleep(rng.uniform(0, 0.3))
        proc.kill()                                          # SIGKILL: no chance to save
        proc.wait()
        cut_saves += _cut_save_left(out)   # the next --resume recovers it
    assert cut_saves >= 1, "no kill landed in a save"
    runfolder.recover(out)
    saved = runfolder.check_saved_step(out)
    assert saved >= 1
    assert main(args(saved + 2)) == 0
    assert [h["step"] for h in runfolder.read_history(out)] == list(range(saved + 3))
    assert runfolder.check_saved_step(out) == saved + 2
    assert load_checkpoint(out).meta["training"]["steps_done"] == saved + 2


def test_resume_continues_with_more_steps_and_refuses_other_settings(tiny_checkpoint,
                                                                     tmp_path):
    out = tmp_path / "run"
    finetune(rl_config(tiny_checkpoint, out), progress=False)
    other = load_reward("tiny_fragment").to_dict() | {"name": "another"}
    with pytest.raises(runfolder.RunFolderError, match=r"other settings: reward \(not the "
                       r"saved one\); lr \(saved 0.0001, now 0.001\)"):
        finetune(rl_config(tiny_checkpoint, out, lr=1e-3, reward=other, steps=3), resume=True,
                 progress=False)
    history = finetune(rl_config(tiny_checkpoint, out, steps=3), resume=True, progress=False)
    assert [h["step"] for h in history] == [0, 1, 2, 3]
    assert runfolder.check_saved_step(out) == 3


def test_resume_compares_the_start_checkpoint_as_a_folder(tiny_checkpoint, tmp_path,
                                                          monkeypatch):
    out = tmp_path / "run"
    monkeypatch.chdir(tiny_checkpoint.parent)
    finetune(rl_config(tiny_checkpoint.name, out), progress=False)    # a relative path
    monkeypatch.chdir(tmp_path)
    finetune(rl_config(tiny_checkpoint, out, steps=3), resume=True, progress=False)   # absolute
    other = shutil.copytree(tiny_checkpoint, tmp_path / "other")
    with pytest.raises(runfolder.RunFolderError, match="another start checkpoint"):
        finetune(rl_config(other, out, steps=4), resume=True, progress=False)
