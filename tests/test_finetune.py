"""The run loop shared by distill and rl: settings errors, the run folder, resuming after
a real process is killed half-way, and the CLI verbs."""
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from engine.chem.rewards import RewardError, load_reward
from engine.cli import main
from engine.model.checkpoint import load_checkpoint
from engine.train.finetune import FinetuneConfig, FinetuneError, finetune
from engine.train.launch import run_state, stop
from engine.train.runfolder import RunFolderError, read_history

ROOT = Path(__file__).resolve().parents[1]
REWARD = load_reward("tiny_fragment").to_dict()


def _cfg(**kw):
    return FinetuneConfig(**{**dict(kind="rl", reward=REWARD, out="x"), **kw})


@pytest.mark.parametrize("field, value, message", [
    ("kind", "ppo", "unknown run kind 'ppo'; allowed: distill, rl"),
    ("steps", 0, "steps must be a positive integer"),
    ("batch_size", 1, "rl needs batch_size >= 2"),
    ("top_p", 1.5, "top-p must be in (0, 1]"),
    ("lr", -1.0, "lr must be > 0"),
    ("beta", -0.1, "beta must be >= 0"),
    ("ys", 1, "|Y_S| (ys) must be an integer from 2 to 64"),
])
def test_bad_settings_name_the_problem(field, value, message):
    with pytest.raises(FinetuneError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("|", r"\|")):
        _cfg(**{field: value})


def test_bad_reward_is_a_reward_error():
    with pytest.raises(RewardError):
        _cfg(reward={"name": "x", "terms": [{"property": "nope", "goal": "maximize"}]})


def test_existing_run_is_never_overwritten(tiny_checkpoint, tmp_path):
    cfg = _cfg(out=str(tmp_path / "run"), checkpoint=str(tiny_checkpoint), steps=1,
               batch_size=8, eval_n=4, device="cpu")
    finetune(cfg, progress=False)
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    with pytest.raises(RunFolderError, match="already holds a run"):
        finetune(cfg, progress=False)
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before
    # nor a plain checkpoint folder, nor a run of another kind on --resume
    plain = replace(cfg, out=str(tiny_checkpoint))
    with pytest.raises(RunFolderError, match="already holds a run or a checkpoint"):
        finetune(plain, progress=False)
    with pytest.raises(RunFolderError, match="holds a run of kind 'rl', not 'distill'"):
        finetune(replace(cfg, kind="distill"), resume=True, progress=False)


def _cli(kind, tiny_checkpoint, out, steps, *extra):
    return [kind, "--reward", "tiny_fragment", "--checkpoint", str(tiny_checkpoint),
            "--out", str(out), "--steps", str(steps), "--batch-size", "8", "--ys", "3",
            "--eval-n", "4", "--eval-every", "3", "--save-every", "2", "--device", "cpu",
            *extra]


def test_a_stopped_run_resumes_from_its_last_save(tiny_checkpoint, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "engine",
                             *_cli("rl", tiny_checkpoint, out, 10_000, "--threads", "1")],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline:
        state = out / "train_state.json"
        if state.is_file() and json.loads(state.read_text())["step"] >= 4:
            break
        time.sleep(0.5)
    # a run started from a terminal is watched and stopped like one the dashboard started
    assert run_state(out)["status"] == "running" and run_state(out)["pid"] == proc.pid
    assert stop(out)                            # SIGTERM: the process dies mid-run
    proc.wait()
    assert run_state(out)["status"] == "stopped"
    saved = json.loads((out / "train_state.json").read_text())["step"]
    assert saved >= 4
    load_checkpoint(out)                        # the last save is a whole checkpoint
    assert main(_cli("rl", tiny_checkpoint, out, saved + 3, "--resume")) == 0
    steps = [h["step"] for h in read_history(out)]
    assert steps == list(range(saved + 4))      # 0..saved+3, nothing twice, nothing lost
    assert load_checkpoint(out).meta["training"]["finished"] is True


def test_distill_cli_writes_a_loadable_student(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "student"
    assert main(_cli("distill", tiny_checkpoint, out, 3)) == 0
    printed = capsys.readouterr().out
    assert "distill: step 3" in printed and str(out) in printed
    student = load_checkpoint(out)
    assert student.meta["training"]["kind"] == "distill"
    assert student.meta["training"]["reward"]["name"] == REWARD["name"]
    assert len(student.bank) == len(load_checkpoint(tiny_checkpoint).bank)
    # RL can start from the distilled student (its reference is the student)
    assert main(_cli("rl", out, tmp_path / "rl", 2)) == 0
    assert load_checkpoint(tmp_path / "rl").meta["training"]["start"] == str(out)


def test_cli_errors_are_one_line(tiny_checkpoint, tmp_path, capsys):
    assert main(_cli("rl", tiny_checkpoint, tmp_path / "r", 2, "--top-p", "2")) == 2
    assert "top-p must be in (0, 1]" in capsys.readouterr().err
    assert main(["distill", "--reward", "no_such_preset", "--out", str(tmp_path / "d")]) == 2
    assert "no_such_preset" in capsys.readouterr().err
