"""A run folder has one writer: a second one is refused naming the process that holds it,
the lock file names its holder, the OS drops the lock of a killed run, and Stop never
signals a process that is not the run."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.train import runfolder
from engine.train.finetune import finetune
from engine.train.launch import run_state, stop
from tests.test_interrupted_runs import rl_config

ROOT = Path(__file__).resolve().parents[1]


def _holder(folder: Path) -> subprocess.Popen:
    """Another process that holds the run folder's lock until killed."""
    code = ("import sys, time\nfrom engine.train import runfolder\n"
            "with runfolder.hold(sys.argv[1]):\n    print('held', flush=True)\n"
            "    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_naming_the_process(tiny_checkpoint, tmp_path):
    out = tmp_path / "run"
    proc = _holder(out)
    try:
        assert runfolder.is_held(out)
        for resume in (False, True):
            with pytest.raises(runfolder.RunFolderError, match=f"process {proc.pid}"):
                finetune(rl_config(tiny_checkpoint, out), resume=resume, progress=False)
        assert not (out / runfolder.HISTORY_FILE).exists()   # nothing written
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # the OS drops the lock of a killed process: the folder is usable at once
    assert not runfolder.is_held(out)
    finetune(rl_config(tiny_checkpoint, out), progress=False)
    assert not runfolder.is_held(out)                         # released when the run ends


def test_the_lock_file_names_its_holder(tmp_path):
    with runfolder.hold(tmp_path):
        text = (tmp_path / runfolder.LOCK_FILE).read_text()
        assert text.startswith(f"process {os.getpid()} ")
        assert runfolder.is_held(tmp_path)
    assert not runfolder.is_held(tmp_path)


@pytest.mark.parametrize("ticks", [None, "1"])
def test_stop_never_signals_a_process_that_is_not_the_run(tmp_path, ticks):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / runfolder.PROCESS_FILE).write_text(json.dumps(
            {"pid": other.pid, "kind": "rl", "ticks": ticks, "command": []}))
        assert run_state(tmp_path)["status"] != "running"
        assert stop(tmp_path, timeout=1) is False
        assert other.poll() is None                    # untouched
    finally:
        other.kill()
        other.wait()
