"""The run folder: the one policy on existing folders, append-only history, training state
that round-trips through the optimizer, process records, readers that never raise."""
import json
import os

import pytest
import torch
from safetensors.torch import save_file

from engine.errors import UserError
from engine.train import runfolder
from engine.train.pretrain import TrainConfig, train
from tests.conftest import TINY


def _write_run(folder, kind):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / runfolder.CONFIG_FILE).write_text(json.dumps({"training": {"kind": kind}}))
    (folder / runfolder.STATE_FILE).write_text('{"step": 0}')
    for name in (runfolder.WEIGHTS_FILE, runfolder.OPTIMIZER_FILE):
        save_file({"x": torch.zeros(1)}, str(folder / name), metadata={"step": "0"})


def test_claim_refuses_an_existing_run_unless_resuming(tmp_path):
    assert runfolder.claim(tmp_path / "new", "rl", resume=False) is False
    assert runfolder.claim(tmp_path / "new", "rl", resume=True) is False   # nothing saved yet
    _write_run(tmp_path / "rl", "rl")
    with pytest.raises(runfolder.RunFolderError, match="already holds a run or a checkpoint"):
        runfolder.claim(tmp_path / "rl", "rl", resume=False)
    assert runfolder.claim(tmp_path / "rl", "rl", resume=True) is True
    with pytest.raises(runfolder.RunFolderError, match="kind 'rl', not 'pretrain'"):
        runfolder.claim(tmp_path / "rl", None, resume=True)
    assert issubclass(runfolder.RunFolderError, UserError)


def test_pretraining_never_overwrites_a_folder(data_dir, tiny_checkpoint):
    before = (tiny_checkpoint / runfolder.WEIGHTS_FILE).read_bytes()
    with pytest.raises(runfolder.RunFolderError, match="already holds a run"):
        train(TrainConfig(data=str(data_dir), out=str(tiny_checkpoint), **TINY), progress=False)
    assert (tiny_checkpoint / runfolder.WEIGHTS_FILE).read_bytes() == before


def test_history_is_appended_and_restarts_from_the_last_save(tmp_path):
    assert runfolder.read_history(tmp_path) == []
    runfolder.start_history(tmp_path, [{"step": 0}])
    runfolder.append_history(tmp_path, {"step": 1})
    with open(tmp_path / runfolder.HISTORY_FILE, "a") as fh:
        fh.write('{"step": 2, "lo')                      # a process killed mid-line
    assert runfolder.read_history(tmp_path) == [{"step": 0}, {"step": 1}]
    runfolder.start_history(tmp_path, [{"step": 0}])     # resumed from the save at step 0
    assert runfolder.read_history(tmp_path) == [{"step": 0}]


def test_training_state_round_trips(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    runfolder.save_train_state(tmp_path, optimizer, 7, [{"step": 7}])
    assert not list(tmp_path.glob("*.tmp"))
    fresh = torch.optim.AdamW(model.parameters(), lr=0.1)
    assert runfolder.load_train_state(tmp_path, fresh) == (7, [{"step": 7}])
    for a, b in zip(optimizer.state.values(), fresh.state.values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"])


def test_readers_never_raise(tmp_path):
    (tmp_path / runfolder.CONFIG_FILE).write_text("{half")
    (tmp_path / runfolder.PROCESS_FILE).write_text("[1, 2]")
    assert runfolder.read_config(tmp_path) == {} and runfolder.training_record(tmp_path) == {}
    assert runfolder.read_process(tmp_path) == {}
    runfolder.record_process(tmp_path, os.getpid(), "rl", ["cmd"])
    proc = runfolder.read_process(tmp_path)
    assert proc["pid"] == os.getpid() and proc["ticks"] == runfolder.start_ticks(os.getpid())
