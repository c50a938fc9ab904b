"""Background runs are real processes: launched, watched from the folder, stopped, resumed."""
import time
from pathlib import Path

import pytest

from engine.chem.rewards import load_reward
from engine.model.checkpoint import load_checkpoint
from engine.train.finetune import FinetuneError
from engine.train.launch import launch, resume, run_state, stop
from engine.train.runfolder import RunFolderError

REWARD = load_reward("tiny_fragment")
SMALL = dict(batch_size=8, eval_n=4, eval_every=2, save_every=1, device="cpu", threads=1)


def _wait(out, until, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = run_state(out)
        if until(state):
            return state
        time.sleep(0.3)
    raise AssertionError(f"timed out; last state {run_state(out)['status']}, "
                         f"log: {run_state(out)['log_tail']}")


def test_launch_watch_stop_resume(tiny_checkpoint, tmp_path):
    out = tmp_path / "rl"
    assert run_state(out)["status"] == "empty"
    pid = launch("rl", REWARD, out, tiny_checkpoint, steps=10_000, **SMALL)
    state = _wait(out, lambda s: s["step"] >= 2)
    assert state["status"] == "running" and state["pid"] == pid and state["kind"] == "rl"
    assert state["left_s"] > 0 and state["seconds"] > 0   # its pace so far, 10,000 steps to go
    with pytest.raises(RunFolderError, match="still running"):
        launch("rl", REWARD, out, tiny_checkpoint, steps=5, **SMALL)
    assert stop(out)
    stopped = run_state(out)
    assert stopped["status"] == "stopped"
    with pytest.raises(RunFolderError, match="already holds a run"):
        launch("rl", REWARD, out, tiny_checkpoint, steps=5, **SMALL)
    target = stopped["step"] + 2
    launch("rl", REWARD, out, tiny_checkpoint, resume=True, steps=target, **SMALL)
    done = _wait(out, lambda s: s["status"] == "finished")
    steps = [h["step"] for h in done["history"]]
    assert steps == list(range(target + 1))
    # the run's time goes on over the resume: rising, and what it took in all at the end
    elapsed = [h["elapsed_s"] for h in done["history"]]
    assert elapsed == sorted(elapsed) and done["seconds"] == elapsed[-1] > 0
    assert done["left_s"] is None
    assert load_checkpoint(out).meta["training"]["kind"] == "rl"


def test_a_failing_run_reports_its_error(tmp_path):
    out = tmp_path / "broken"
    (tmp_path / "not_a_checkpoint").mkdir()
    launch("distill", REWARD, out, tmp_path / "not_a_checkpoint", steps=2, **SMALL)
    state = _wait(out, lambda s: s["status"] != "running")
    assert state["status"] == "failed"
    assert any("not a checkpoint folder" in line for line in state["log_tail"])
    assert "not a checkpoint folder" in state["reason"] and state["saved_step"] is None


def test_a_run_failing_after_a_save_says_why_and_where_resume_restarts(tiny_checkpoint,
                                                                       tmp_path):
    """A distillation at a learning rate of 1,000: its gradients overflow from the third step,
    every update is skipped, and after five in a row it ends saying what to change."""
    out = tmp_path / "too_fast"
    launch("distill", REWARD, out, tiny_checkpoint, steps=40, lr=1000.0, save_every=3,
           batch_size=4, eval_n=4, eval_every=100, device="cpu", threads=1)
    state = _wait(out, lambda s: s["status"] != "running")
    assert state["status"] == "failed", state["log_tail"]
    assert "steps in a row" in state["reason"] and "lower learning rate" in state["reason"]
    assert state["saved_step"] % 3 == 0 and 0 < state["saved_step"] <= state["step"] < 40


def test_unknown_kind_or_option():
    with pytest.raises(FinetuneError, match="unknown run kind"):
        launch("ppo", REWARD, "x")
    with pytest.raises(FinetuneError, match="unknown run options"):
        launch("rl", REWARD, "x", epochs=3)



def test_resume_relaunches_with_the_runs_own_settings(tiny_checkpoint, tmp_path):
    out = tmp_path / "rl"
    launch("rl", REWARD, out, tiny_checkpoint, steps=10_000, **{**SMALL, "lr": 3e-4})
    _wait(out, lambda s: s["step"] >= 2)
    assert stop(out)
    stopped = run_state(out)["step"]
    resume(out)
    # the relaunched command is accepted and the run goes on past where it stopped
    _wait(out, lambda s: s["step"] > stopped + 1 or s["status"] != "running")
    state = run_state(out)
    assert state["status"] == "running", state["log_tail"]
    command = [line for line in state["log_tail"] if line.startswith("$ ")][-1]
    assert "--resume" in command and "--lr 0.0003" in command
    assert f"--checkpoint {tiny_checkpoint}" in command
    stop(out)


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    out = tmp_path / "broken"
    (tmp_path / "not_a_checkpoint").mkdir()
    launch("rl", REWARD, out, tmp_path / "not_a_checkpoint", steps=2, **SMALL)
    _wait(out, lambda s: s["status"] == "failed")
    with pytest.raises(RunFolderError, match="ended before its first save"):
        resume(out)
    with pytest.raises(RunFolderError, match="no reward.toml"):
        resume(tmp_path / "not_a_checkpoint")


def test_stop_saves_the_step_in_progress_and_resume_repeats_none(tiny_checkpoint, tmp_path):
    """Saves every 1,000 steps, stopped at an arbitrary step: SIGTERM makes the run save
    what it has done, so resume loses no step and repeats none."""
    out = tmp_path / "rl"
    never = {**SMALL, "save_every": 1000}
    launch("rl", REWARD, out, tiny_checkpoint, steps=10_000, **never)
    _wait(out, lambda s: s["step"] >= 3)
    assert stop(out)
    stopped = run_state(out)
    done = load_checkpoint(out).meta["training"]
    assert done["steps_done"] == stopped["step"] >= 3 and not done["finished"]
    target = stopped["step"] + 2
    launch("rl", REWARD, out, tiny_checkpoint, resume=True, steps=target, **never)
    finished = _wait(out, lambda s: s["status"] == "finished")
    assert [h["step"] for h in finished["history"]] == list(range(target + 1))


def _reaped(pid: int, timeout: float = 120) -> bool:
    """Whether process `pid` is gone from /proc within `timeout`: ended and reaped (a
    zombie keeps its entry until its parent waits for it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.2)
    return False


def test_ended_runs_are_reaped_without_anyone_polling(tiny_checkpoint, tmp_path):
    """Neither a finished nor a failed run stays a zombie under the launching process,
    although nothing reads their status (run_state would reap a pid it still records)."""
    (tmp_path / "not_a_checkpoint").mkdir()
    failing = launch("distill", REWARD, tmp_path / "broken", tmp_path / "not_a_checkpoint",
                     steps=2, **SMALL)
    finishing = launch("rl", REWARD, tmp_path / "rl", tiny_checkpoint, steps=1, **SMALL)
    assert _reaped(failing) and _reaped(finishing, timeout=240)
    assert run_state(tmp_path / "broken")["status"] == "failed"
    assert run_state(tmp_path / "rl")["status"] == "finished"


def test_time_left_is_the_pace_of_the_last_steps():
    from engine.train.launch import _timing  # noqa: PLC0415

    history = [{"step": 0, "elapsed_s": 5.0}] + [
        {"step": k, "elapsed_s": 5.0 + 2.0 * k} for k in range(1, 21)]
    assert _timing(history, steps=50) == {"seconds": 45.0, "left_s": 30 * 2.0}
    assert _timing(history, steps=None) == {"seconds": 45.0, "left_s": None}   # not running
    assert _timing(history[:1], steps=50) == {"seconds": 5.0, "left_s": None}  # no step yet
    assert _timing([{"step": 0}, {"step": 1}], steps=5) == {"seconds": None, "left_s": None}
