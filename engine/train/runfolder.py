"""The run folder: everything a training run (pre-training, distillation or RL) keeps on disk.

A run folder is a checkpoint folder (`engine.model.checkpoint`: weights, `config.json`
with the training record under "training", the prior bank) plus:

    history.jsonl          one JSON record per line, appended as the run goes
    train_state.json       step, optimizer settings, the history and what else the run needs
                           to continue exactly (random state, ...) at the last save
    optimizer.safetensors  the optimizer's moments at the last save
    process.json           the process that runs it (pid, start ticks, command)
    run.lock               locked (flock) by the one process writing the run (`hold`)
    run.log, reward.toml   output and reward file of a run started by `launch`

Readers never raise on a missing or half-written file (a run may be writing it while the
dashboard reads): they return {} or []. Writers replace whole files atomically, except the
history, which only ever grows. A new run refuses a folder that already holds a run or a
checkpoint; only resuming continues one, with the same settings (`claim`). A save is one
set (`save_run`): a save cut short leaves the previous one whole, or is completed. Every
file of a save also records its step, and a resume checks that they agree.
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from engine.errors import UserError
from engine.model.checkpoint import CONFIG_FILE, STAGED, WEIGHTS_FILE, atomic_write

HISTORY_FILE, STATE_FILE, OPTIMIZER_FILE = ("history.jsonl", "train_state.json",
                                            "optimizer.safetensors")
PROCESS_FILE, LOG_FILE, REWARD_FILE = "process.json", "run.log", "reward.toml"
LOCK_FILE, COMMIT_FILE = "run.lock", "save.commit.json"


class RunFolderError(UserError):
    """A run folder that cannot be used as asked (it already holds a run, is still
    running, or holds nothing to resume), with what to do instead."""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_config(folder: Path | str) -> dict:
    """The folder's config.json; {} when it is missing or unreadable."""
    return _read_json(Path(folder) / CONFIG_FILE)


def training_record(folder: Path | str) -> dict:
    """The "training" part of config.json (settings, steps done, finished); {} when absent."""
    training = read_config(folder).get("training", {})
    return training if isinstance(training, dict) else {}


def read_process(folder: Path | str) -> dict:
    """The folder's process record (see `record_process`); {} when there is none."""
    return _read_json(Path(folder) / PROCESS_FILE)


def claim(folder: Path | str, kind: str | None, resume: bool, settings: dict | None = None,
          may_change: tuple[str, ...] = ()) -> bool:
    """Check that a run of `kind` (None for pre-training) may write to `folder`; returns
    whether it continues a saved state.

    Raises RunFolderError when the folder already holds a run or a checkpoint and `resume`
    is False (nothing is overwritten), when it holds a saved run of another kind, when the
    saved files belong to different steps (a save cut short) or the state is unreadable,
    and when `settings` differ from the saved run's in a field not in `may_change`.
    Resuming a folder with no saved state starts from the beginning.
    """
    out = Path(folder)
    recover(out)
    if not resume and any((out / f).exists() for f in (STATE_FILE, CONFIG_FILE, WEIGHTS_FILE)):
        raise RunFolderError(f"{out} already holds a run or a checkpoint; resume it "
                             "(--resume) or choose another folder")
    if not (resume and (out / STATE_FILE).is_file()):
        return False
    found = training_record(out).get("kind")
    if found != kind:
        raise RunFolderError(f"{out} holds a run of kind {found or 'pretrain'!r}, not "
                             f"{kind or 'pretrain'!r}; choose another folder")
    check_saved_step(out)
    if settings is not None:
        _check_same_settings(out, settings, may_change)
    return True


def _check_same_settings(out: Path, settings: dict, may_change: tuple[str, ...]) -> None:
    saved = training_record(out)
    new = json.loads(json.dumps(settings))   # tuples and lists compare as saved
    changed = [f"{k} (saved {saved[k]!r}, now {v!r})" if not isinstance(v, dict | list)
               else f"{k} (not the saved one)" for k, v in new.items()
               if k not in may_change and k in saved and saved[k] != v]
    if changed:
        raise RunFolderError(f"{out}: cannot resume with other settings: {'; '.join(changed)}"
                             f"; only {', '.join(may_change) or 'none'} may change on resume")


def _file_step(path: Path) -> int | None:
    """The step recorded in a safetensors file's metadata (None for files saved without)."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            step = (fh.metadata() or {}).get("step")
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunFolderError(f"{path}: unreadable ({exc}); the run cannot resume") from None
    return None if step is None else int(step)


def _read_state(out: Path) -> dict:
    try:
        state = json.loads((out / STATE_FILE).read_text())
        if not isinstance(state, dict) or not isinstance(state.get("step"), int):
            raise ValueError("no step")
        return state
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{out / STATE_FILE}: unreadable training state ({exc}); the run "
                             "cannot resume, start a new one in another folder") from None


def check_saved_step(folder: Path | str) -> int:
    """The step of the folder's last save; raises RunFolderError when the training state is
    unreadable or when the weights, optimizer, config and state belong to different steps
    (a save cut short between files)."""
    out = Path(folder)
    step = _read_state(out)["step"]
    steps = {STATE_FILE: step, CONFIG_FILE: training_record(out).get("steps_done")}
    for name in (WEIGHTS_FILE, OPTIMIZER_FILE):
        if not (out / name).is_file():
            raise RunFolderError(f"{out}: missing {name}; the run cannot resume")
        steps[name] = _file_step(out / name)
    known = {k: v for k, v in steps.items() if v is not None}
    if len(set(known.values())) > 1:
        listed = ", ".join(f"{k} at step {v}" for k, v in known.items())
        raise RunFolderError(f"{out}: the last save was cut short ({listed}); the run cannot "
                             "resume safely, start a new one in another folder")
    return step


@contextmanager
def hold(folder: Path | str) -> Iterator[None]:
    """Hold the folder's lock while inside: the one writer of the run. The OS drops the
    lock when the process ends, however it ends. Raises RunFolderError, naming the process,
    when another process holds it."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    fh = open(out / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise RunFolderError(f"{out} is being written by {holder}; wait for it to end or "
                                 "stop it first") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()} ({' '.join(sys.argv)[:200]})")
        fh.flush()
        yield
    finally:
        fh.close()   # closing releases the lock


def is_held(folder: Path | str) -> bool:
    """Whether some process holds the folder's lock (a run is writing it now)."""
    path = Path(folder) / LOCK_FILE
    if not path.is_file():
        return False
    with open(path) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def read_history(folder: Path | str) -> list[dict]:
    """The records of the folder's history ([] when there is none yet); a line cut short
    by a killed process is skipped."""
    path = Path(folder) / HISTORY_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def start_history(folder: Path | str, history: list[dict]) -> None:
    """Begin the history file of a (re)started run with `history`, the records of its last
    save: records written after that save belong to steps that will be run again."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / HISTORY_FILE).write_text("".join(json.dumps(h) + "\n" for h in history))


def append_history(folder: Path | str, record: dict) -> None:
    """Add one record to the history (readers see it at once)."""
    with open(Path(folder) / HISTORY_FILE, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def save_run(folder: Path | str, step: int, write_checkpoint,
             optimizer: torch.optim.Optimizer, history: list[dict],
             resume: dict | None = None) -> None:
    """Save the checkpoint (`write_checkpoint(stage)`, which passes `stage` on to
    `save_checkpoint`) and the training state as one set: every file is first written
    whole as `<name>.next`, then a commit record naming them is written atomically (the
    commit point), then each is renamed into place. A process killed before the commit
    point leaves the previous save whole; after it, `recover` completes the save.
    `resume` (JSON) is what the run needs besides to continue exactly (`read_resume`)."""
    out = Path(folder)
    stage: list[Path] = []
    write_checkpoint(stage)
    save_train_state(out, optimizer, step, history, stage, resume)
    names = [t.name for t in stage]
    atomic_write(out / COMMIT_FILE, lambda p: p.write_text(json.dumps(
        {"step": step, "files": names})))
    _complete(out)


def _complete(out: Path) -> None:
    for name in _read_json(out / COMMIT_FILE).get("files", []):
        staged = out / (name + STAGED)
        if staged.exists():
            staged.replace(out / name)
    (out / COMMIT_FILE).unlink(missing_ok=True)


def recover(folder: Path | str) -> None:
    """Complete a save cut short after its commit point; drop the files of one cut before
    it (the previous save is still whole). Only the folder's writer calls this."""
    out = Path(folder)
    if (out / COMMIT_FILE).is_file():
        _complete(out)
    for staged in out.glob("*" + STAGED):
        staged.unlink()


def save_train_state(folder: Path | str, optimizer: torch.optim.Optimizer, step: int,
                     history: list[dict], stage: list[Path] | None = None,
                     resume: dict | None = None) -> None:
    """Optimizer moments (safetensors) and step/history/`resume` (JSON) next to the
    checkpoint, so the run can resume; each file is replaced atomically (or staged, see
    `save_run`)."""
    out = Path(folder)
    flat, groups = {}, optimizer.state_dict()
    for pid, state in groups["state"].items():
        for key, value in state.items():
            flat[f"{pid}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    atomic_write(out / OPTIMIZER_FILE,
                 lambda p: save_file(flat, str(p), metadata={"step": str(step)}), stage)
    state = {"step": step, "param_groups": groups["param_groups"], "history": history,
             "resume": resume or {}}
    atomic_write(out / STATE_FILE, lambda p: p.write_text(json.dumps(state)), stage)


def load_train_state(folder: Path | str, optimizer: torch.optim.Optimizer
                     ) -> tuple[int, list[dict]]:
    """Restore what `save_train_state` wrote into `optimizer`; returns (step, history)."""
    out = Path(folder)
    state = _read_state(out)
    flat = load_file(str(out / OPTIMIZER_FILE))
    per_param: dict[int, dict] = {}
    for key, value in flat.items():
        pid, name = key.split(".", 1)
        per_param.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": state["param_groups"]})
    return state["step"], state["history"]


def read_resume(folder: Path | str) -> dict:
    """The `resume` part of the last save ({} for a run saved without one)."""
    resume = _read_state(Path(folder)).get("resume")
    return resume if isinstance(resume, dict) else {}


def record_process(folder: Path | str, pid: int | None, kind: str,
                   command: list[str]) -> None:
    """Write the folder's process record (a run calls this itself, so one started from a
    terminal is watched and stopped like one started by `launch`); `pid` None when the run
    has ended in a process that lives on (a notebook, a test)."""
    record = json.dumps({"pid": pid, "kind": kind,
                         "ticks": None if pid is None else start_ticks(pid),
                         "started": time.time(), "command": command})
    atomic_write(Path(folder) / PROCESS_FILE, lambda p: p.write_text(record))


def start_ticks(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc; None elsewhere).
    Set at fork, so it tells a recycled pid from ours even before our exec."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]
