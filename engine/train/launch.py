"""Distillation and RL runs as real background processes.

`launch` starts `python -m engine distill|rl ...` in its own session with its output in
the run folder, so a run outlives the dashboard that started it (and a thread of the
launching process reaps it when it ends: no zombie is left under the dashboard); `run_state` reads what a
run is doing from its folder alone (any process, any session can watch it); `stop` ends it
and `--resume` continues it from its last save.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

from engine.chem.rewards import Reward
from engine.train.finetune import KINDS, NO_OPTION, FinetuneConfig, FinetuneError
from engine.train.runfolder import (LOG_FILE, REWARD_FILE, RunFolderError, is_held,
                                    read_history, read_process, record_process, start_ticks,
                                    training_record)

REPO = Path(__file__).resolve().parents[2]
# the run settings a launch passes on: FinetuneConfig's, less what `launch` takes itself
OPTIONS = (*(f.name for f in fields(FinetuneConfig)
             if f.name not in ("kind", "reward", "out", "checkpoint", *NO_OPTION)), "threads")


def launch(kind: str, reward: Reward, out: Path | str, checkpoint: Path | str | None = None,
           resume: bool = False, **options) -> int:
    """Start a run in the background; returns its process id.

    `options` are the CLI's (`steps`, `lr`, ...). Raises FinetuneError for an unknown kind
    or option, RunFolderError for a folder that already holds a run (unless `resume`) and
    for a run that is still going.
    """
    if kind not in KINDS:
        raise FinetuneError(f"unknown run kind {kind!r}; allowed: {', '.join(KINDS)}")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise FinetuneError(f"unknown run options {unknown}; allowed: {', '.join(OPTIONS)}")
    out = Path(out).resolve()
    state = run_state(out)
    if state["status"] == "running" or is_held(out):
        raise RunFolderError(f"{out} is still running (process {state['pid']}); stop it first")
    if state["status"] != "empty" and not resume:
        raise RunFolderError(f"{out} already holds a run; resume it or choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    if not resume or not (out / REWARD_FILE).is_file():
        reward.save(out / REWARD_FILE)
    cmd = [sys.executable, "-m", "engine", kind, "--reward", str(out / REWARD_FILE),
           "--out", str(out)]
    if checkpoint:
        cmd += ["--checkpoint", str(Path(checkpoint).resolve())]
    for name, value in options.items():
        flag = name.replace("_", "-")
        if isinstance(value, bool):       # switches on by default: the CLI has --no-NAME
            cmd += [] if value else [f"--no-{flag}"]
        elif value is not None:
            cmd += [f"--{flag}", str(value)]
    if resume:
        cmd.append("--resume")
    with open(out / LOG_FILE, "a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    record_process(out, proc.pid, kind, cmd)
    # the run's own last record clears its pid, so no later poll would reap it
    threading.Thread(target=proc.wait, name=f"reap run {proc.pid}", daemon=True).start()
    return proc.pid


def resume(out: Path | str) -> int:
    """Start a stopped or failed run again from its last save, with its own reward file and
    settings; returns the process id. Raises RunFolderError when `out` holds no launched
    run or one that ended before its first save."""
    out = Path(out).resolve()
    if not (out / REWARD_FILE).is_file():
        raise RunFolderError(f"{out} has no {REWARD_FILE}: only runs started by launch can "
                             "be resumed here; from a terminal, repeat the command with --resume")
    training = training_record(out)
    if not training.get("kind"):
        raise RunFolderError(f"{out} ended before its first save, so there is nothing to "
                             "resume; start a new run (see its log for why it ended)")
    options = {k: training[k] for k in OPTIONS if k in training}
    return launch(training["kind"], Reward.from_file(out / REWARD_FILE), out,
                  training.get("start"), resume=True, **options)


def _alive(pid: int, ticks: str | None) -> bool:
    """Whether process `pid` still runs (reaping it when it is our own finished child) and
    is the process started at `ticks` (a recycled pid is not). Without a recorded start
    time, or for another user's process, it is not ours: False, so Stop never signals it."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return ticks is not None and start_ticks(pid) == ticks


def is_running(out: Path | str) -> bool:
    """Whether the run in `out` has a live process (reads only its process file)."""
    return _lives(read_process(Path(out).resolve()))


def _lives(proc: dict) -> bool:
    """Whether the process a process file records is still running."""
    return bool(proc.get("pid")) and _alive(int(proc["pid"]), proc.get("ticks"))


def run_state(out: Path | str) -> dict:
    """What a run folder shows: `status` (empty, running, finished, stopped or failed),
    `kind`, `pid`, `step` (last recorded), `steps` (planned), `saved_step` (the step of
    the last save, where a resume restarts; None before the first), `reason` (why a failed
    run failed: the last error line of its latest launch; "" otherwise), `seconds` and
    `left_s` (`_timing`), `history` and `log_tail`."""
    out = Path(out).resolve()
    proc = read_process(out)
    training = training_record(out)
    history = read_history(out)
    log = out / LOG_FILE
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    latest = lines[starts[-1] + 1:] if starts else lines     # the last launch's output
    pid = proc.get("pid")
    if _lives(proc):
        status = "running"
    elif training.get("finished"):
        status = "finished"
    elif not training and not proc:
        status = "empty"
    elif any(line.startswith(("error:", "Traceback")) for line in latest):
        status = "failed"
    else:
        status = "stopped"
    steps = training.get("steps")
    return {"status": status, "kind": training.get("kind") or proc.get("kind"), "pid": pid,
            "step": history[-1]["step"] if history else 0, "steps": steps,
            "saved_step": training.get("steps_done"),
            "reason": _failure(latest) if status == "failed" else "",
            **_timing(history, steps if status == "running" else None),
            "history": history, "log_tail": lines[-12:]}


def _timing(history: list[dict], steps: int | None, recent: int = 10) -> dict:
    """`seconds`: the run's time so far (its last record's `elapsed_s`: the seconds it has
    taken over all its launches, steps run again after a resume counted once; None for a
    run recorded without it); `left_s`: for a running run (`steps` given), the seconds its
    remaining steps take at the pace of its last `recent` steps, evaluations included; None
    until it has done a step."""
    timed = [(h["step"], h["elapsed_s"]) for h in history if "elapsed_s" in h]
    seconds = timed[-1][1] if timed else None
    left = None
    window = timed[-(recent + 1):]
    if steps is not None and len(window) > 1:
        (first, t_first), (last, t_last) = window[0], window[-1]
        if last > first and t_last > t_first:
            left = max(0, steps - last) * (t_last - t_first) / (last - first)
    return {"seconds": seconds, "left_s": left}


def _failure(lines: list[str]) -> str:
    """The last error line of a run's output: the CLI's one-line `error: ...` (a problem
    a person can act on), else the exception line that ends a traceback."""
    errors = [line.removeprefix("error:").strip() for line in lines
              if line.startswith("error:")]
    if errors:
        return errors[-1]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    after = lines[starts[-1] + 1:] if starts else []
    ending = [line.strip() for line in after if line.strip() and not line[0].isspace()]
    return ending[-1] if ending else ""


def stop(out: Path | str, timeout: float = 120.0) -> bool:
    """Ask a running run to end: SIGTERM to its process group, on which the run finishes
    the step in progress, saves and exits (SIGKILL only after `timeout`). True when it was
    running. Resume continues from the saved step, with no step lost or repeated."""
    out = Path(out).resolve()
    proc = read_process(out)
    if not _lives(proc):
        return False
    pid, ticks = int(proc["pid"]), proc.get("ticks")
    _signal(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline and _alive(pid, ticks):
        time.sleep(0.1)
    if _alive(pid, ticks):
        _signal(pid, signal.SIGKILL)
    with open(out / LOG_FILE, "a") as log:
        log.write("stopped by request\n")
    return True


def _signal(pid: int, sig: int) -> None:
    """Signal a run: its whole process group when it leads one (started by `launch`),
    else the process alone (started from a terminal)."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
