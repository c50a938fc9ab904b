"""Reliability: one writer per run folder, saves that are consistent as a set, resumes that
refuse other settings or unreadable state, and one-line errors for what a user can fix."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.chem.rewards import load_reward
from engine.model.gpt import GPT
from engine.train import finetune as ft
from engine.train import runfolder
from engine.train.finetune import FinetuneConfig, finetune

ROOT = Path(__file__).resolve().parents[1]
REWARD = load_reward("tiny_fragment").to_dict()


def _cfg(ckpt, out, **kw):
    return FinetuneConfig(**{**dict(kind="rl", reward=REWARD, out=str(out),
                                    checkpoint=str(ckpt), steps=2, batch_size=4, eval_n=4,
                                    eval_every=100, save_every=1, device="cpu"), **kw})


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
                finetune(_cfg(tiny_checkpoint, out), resume=resume, progress=False)
        assert not (out / runfolder.HISTORY_FILE).exists()   # nothing written
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # the OS drops the lock of a killed process: the folder is usable at once
    assert not runfolder.is_held(out)
    finetune(_cfg(tiny_checkpoint, out), progress=False)
    assert not runfolder.is_held(out)                         # released when the run ends


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
    finetune(_cfg(tiny_checkpoint, out), progress=False)
    with monkeypatch.context() as patch:
        _cut_at_step_3(patch, where)
        with pytest.raises(KeyboardInterrupt):
            finetune(_cfg(tiny_checkpoint, out, steps=5), resume=True, progress=False)
    runfolder.recover(out)            # what a resume does first, under the lock
    assert runfolder.check_saved_step(out) == resumed_from
    history = finetune(_cfg(tiny_checkpoint, out, steps=5), resume=True, progress=False)
    assert [h["step"] for h in history] == list(range(6))
    assert [h["step"] for h in runfolder.read_history(out)] == list(range(6))
    assert not list(out.glob("*.next")) and not (out / runfolder.COMMIT_FILE).exists()


def test_files_of_different_steps_are_refused_on_resume(tiny_checkpoint, tmp_path):
    import shutil

    out, old = tmp_path / "run", tmp_path / "old"
    finetune(_cfg(tiny_checkpoint, out), progress=False)
    shutil.copytree(out, old)
    finetune(_cfg(tiny_checkpoint, out, steps=3), resume=True, progress=False)
    shutil.copy(old / runfolder.OPTIMIZER_FILE, out / runfolder.OPTIMIZER_FILE)
    with pytest.raises(runfolder.RunFolderError,
                       match="cut short.*model.safetensors at step 3, optimizer.safetensors "
                             "at step 2"):
        finetune(_cfg(tiny_checkpoint, out, steps=4), resume=True, progress=False)


def test_resume_continues_with_more_steps_and_refuses_other_settings(tiny_checkpoint,
                                                                     tmp_path):
    out = tmp_path / "run"
    finetune(_cfg(tiny_checkpoint, out), progress=False)
    other = load_reward("tiny_fragment").to_dict() | {"name": "another"}
    with pytest.raises(runfolder.RunFolderError, match=r"other settings: reward \(not the "
                       r"saved one\); lr \(saved 0.0001, now 0.001\)"):
        finetune(_cfg(tiny_checkpoint, out, lr=1e-3, reward=other, steps=3), resume=True,
                 progress=False)
    history = finetune(_cfg(tiny_checkpoint, out, steps=3), resume=True, progress=False)
    assert [h["step"] for h in history] == [0, 1, 2, 3]
    assert runfolder.check_saved_step(out) == 3


def test_a_corrupt_training_state_is_one_clear_error(tiny_checkpoint, tmp_path):
    out = tmp_path / "run"
    finetune(_cfg(tiny_checkpoint, out), progress=False)
    (out / runfolder.STATE_FILE).write_text('{"step": 2, "hist')
    with pytest.raises(runfolder.RunFolderError, match="unreadable training state"):
        finetune(_cfg(tiny_checkpoint, out, steps=3), resume=True, progress=False)
    from engine.cli import main

    args = ["rl", "--reward", "tiny_fragment", "--checkpoint", str(tiny_checkpoint),
            "--out", str(out), "--steps", "3", "--device", "cpu", "--resume"]
    assert main(args) == 2


def test_the_lock_file_names_its_holder(tmp_path):
    with runfolder.hold(tmp_path):
        text = (tmp_path / runfolder.LOCK_FILE).read_text()
        assert text.startswith(f"process {os.getpid()} ")
        assert runfolder.is_held(tmp_path)
    assert not runfolder.is_held(tmp_path)


def _sample_args(ckpt, *extra):
    return ["sample", "--checkpoint", str(ckpt), "--n", "4", "--device", "cpu", *extra]


def test_outputs_are_checked_before_work_and_never_overwritten(tiny_checkpoint, tmp_path,
                                                                 capsys, monkeypatch):
    from engine import cli, output
    from engine.sampling import sampler

    def no_sampling(*_, **__):
        raise AssertionError("sampled before checking --out")

    monkeypatch.setattr(sampler, "sample", no_sampling)
    taken = tmp_path / "taken.csv"
    taken.write_text("smiles\nCCO\n")
    for out, message in ((tmp_path, "is a folder"), (taken, "already exists.*--force")):
        assert cli.main(_sample_args(tiny_checkpoint, "--out", str(out))) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and __import__("re").search(message, err)
    assert taken.read_text() == "smiles\nCCO\n"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):    # root writes anywhere
            with pytest.raises(output.OutputError, match="not writable"):
                output.check_output(locked / "x.csv")
    finally:
        locked.chmod(0o700)
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCCO\n")
    assert cli.main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(src)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert src.read_text() == "smiles\nCCO\n"


def test_sample_without_out_writes_a_new_file_and_force_replaces(tiny_checkpoint, tmp_path,
                                                                  capsys, monkeypatch):
    from engine import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(_sample_args(tiny_checkpoint)) == 0
    assert cli.main(_sample_args(tiny_checkpoint)) == 0
    written = sorted(tmp_path.glob("samples-*.csv"))
    assert len(written) == 2
    assert str(written[0].name) in capsys.readouterr().out.replace(str(tmp_path) + "/", "")
    assert cli.main(_sample_args(tiny_checkpoint, "--out", str(written[0]), "--force")) == 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_formula_cells_are_neutralised_in_every_csv(tmp_path):
    import pandas as pd

    from engine.output import csv_text, write_csv

    frame = pd.DataFrame({"smiles": ["=HYPERLINK(\"x\")", "+1+cmd", "@SUM(A1)", "CCO"],
                          "note": ["-2.5", "-x", "ok", None], "value": [-1.0, 2.0, 3.0, 4.0]})
    back = pd.read_csv(write_csv(frame, tmp_path / "t.csv"), keep_default_na=False)
    assert back["smiles"].tolist() == ["'=HYPERLINK(\"x\")", "'+1+cmd", "'@SUM(A1)", "CCO"]
    assert back["note"].tolist() == ["-2.5", "'-x", "ok", ""]   # numbers stay numbers
    assert back["value"].tolist() == [-1.0, 2.0, 3.0, 4.0]
    assert csv_text(frame) == (tmp_path / "t.csv").read_text()


def test_csv_values_are_rounded_but_rewards_keep_full_precision(tmp_path):
    import pandas as pd

    from engine.output import csv_text

    frame = pd.DataFrame({"smiles": ["CCO"], "mw": [46.068999999], "qed": [0.40680716],
                          "reward": [0.123456789012], "d_mw": [0.98765432101], "hbd": [1]})
    back = pd.read_csv(pd.io.common.StringIO(csv_text(frame)))
    assert back.loc[0, ["mw", "qed", "hbd"]].tolist() == [46.069, 0.4068, 1]
    assert back.loc[0, "reward"] == 0.123456789012 and back.loc[0, "d_mw"] == 0.98765432101

def test_a_crafted_config_is_refused_before_the_model_is_built(tiny_checkpoint, tmp_path,
                                                                monkeypatch):
    import shutil

    from engine.model import checkpoint

    for name, change in (("huge", {"d_model": 24000, "n_head": 2}),
                         ("wider", {"d_model": 64})):
        folder = tmp_path / name
        shutil.copytree(tiny_checkpoint, folder)
        meta = json.loads((folder / "config.json").read_text())
        meta["model"].update(change)
        (folder / "config.json").write_text(json.dumps(meta))

        def never(*_, **__):
            raise AssertionError("the model was built")

        monkeypatch.setattr(checkpoint, "GPT", lambda cfg: (
            never() if torch.get_default_device().type != "meta" else GPT(cfg)))
        with pytest.raises(checkpoint.CheckpointError,
                           match="parameters; at most" if name == "huge" else
                           "do not match config.json .*tensors differ"):
            checkpoint.load_checkpoint(folder)
        monkeypatch.undo()


def test_huge_molecules_are_invalid_without_computing_descriptors(monkeypatch):
    import importlib

    P = importlib.import_module("engine.chem.properties")

    def never(_mol):
        raise AssertionError("descriptors computed")

    monkeypatch.setattr(P, "properties", never)
    big = "C" * (P.MAX_HEAVY_ATOMS + 1)
    t0 = time.time()
    frame = P.batch_properties([big, "C" * 10_000], n_jobs=1)
    assert not frame["valid"].any() and time.time() - t0 < 10


def test_reward_files_are_bounded_and_checked_in_linear_time(tmp_path):
    from engine.chem.rewards import MAX_FILE_BYTES, MAX_TERMS, Reward, RewardError

    term = {"property": "mw", "goal": "minimize", "low": 1.0, "high": 2.0}
    t0 = time.time()
    with pytest.raises(RewardError, match=f"200,000 terms|200000 terms; a reward has at most "
                                          f"{MAX_TERMS}"):
        Reward.from_dict({"name": "x", "terms": [term] * 200_000})
    assert time.time() - t0 < 5
    big = tmp_path / "big.toml"
    big.write_text("#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(RewardError, match="bytes; a reward file has at most"):
        Reward.from_file(big)
    with pytest.raises(RewardError, match="nested too deeply"):
        Reward.from_toml("x = " + "[" * 100_000)
    with pytest.raises(RewardError, match="sum to inf"):
        Reward.from_dict({"name": "x", "terms": [
            term | {"weight": 1e308}, term | {"property": "logp", "weight": 1e308}]})


def test_dashboard_uploads_are_limited():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert 0 < config["server"]["maxUploadSize"] <= 20


@pytest.mark.parametrize("device, message", [
    ("foo", "unknown device 'foo'; use auto, cpu, cuda or cuda:N"),
    ("cuda:99", "device 'cuda:99' asked for, but"),
])
def test_a_bad_device_is_one_line(tiny_checkpoint, tmp_path, capsys, device, message):
    from engine.cli import main

    assert main(["sample", "--checkpoint", str(tiny_checkpoint), "--device", device,
                 "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_non_finite_scores_name_the_likely_cause(tiny_checkpoint, tmp_path, capsys):
    import shutil

    from safetensors.torch import load_file, save_file

    from engine.cli import main

    assert main(_sample_args(tiny_checkpoint, "--condition", "mw=1e300",
                             "--out", str(tmp_path / "a.csv"))) == 2
    assert "extreme condition value" in capsys.readouterr().err
    broken = tmp_path / "nan_model"
    shutil.copytree(tiny_checkpoint, broken)
    state = load_file(str(broken / "model.safetensors"))
    state = {k: torch.full_like(v, float("nan")) for k, v in state.items()}
    save_file(state, str(broken / "model.safetensors"))
    assert main(_sample_args(broken, "--out", str(tmp_path / "b.csv"))) == 2
    err = capsys.readouterr().err
    assert "broken checkpoint" in err and err.count("\n") == 1
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()


def _sdf_with_a_broken_record() -> str:
    """ethanol and benzene written by RDKit, then a record whose atom RDKit does not know."""
    from io import StringIO

    from rdkit import Chem

    buffer = StringIO()
    writer = Chem.SDWriter(buffer)
    for smiles, name in (("CCO", "ethanol"), ("c1ccccc1", "benzene ring")):
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", name)
        writer.write(mol)
    writer.close()
    broken = ("broken\n  test\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n"
              "    0.0000    0.0000    0.0000 Qq  0  0  0  0  0  0  0  0  0  0  0  0\n"
              "M  END\n$$$$\n")
    return buffer.getvalue() + broken


@pytest.mark.parametrize("name, text, column", [
    ("moses.csv", "SMILES,SPLIT\nCCO,train\nc1ccccc1,test\n", "SMILES"),
    ("one.csv", "CCO\nc1ccccc1\n", "smiles"),                       # no header at all
    ("list.smi", "CCO ethanol\n# a comment\nc1ccccc1 benzene ring\n", "smiles"),
    ("list.txt", "CCO ethanol\nc1ccccc1 benzene ring\n", "smiles"),  # as the dashboard reads it
    ("mols.sdf", _sdf_with_a_broken_record(), "smiles"),
])
def test_score_reads_the_files_a_chemist_has(tmp_path, capsys, name, text, column):
    import pandas as pd

    from engine.cli import main

    src = tmp_path / name
    src.write_text(text)
    out = tmp_path / "scored.csv"
    assert main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(out)]) == 0
    scored = pd.read_csv(out, keep_default_na=False)
    assert scored[column].tolist()[:2] == ["CCO", "c1ccccc1"]
    assert scored["valid"].tolist()[:2] == [True, True]
    if name.endswith((".smi", ".txt", ".sdf")):
        assert scored["name"].tolist()[:2] == ["ethanol", "benzene ring"]
    if name.endswith(".sdf"):   # the unreadable record stays, saying why
        assert len(scored) == 3 and scored["name"][2] == "broken"
        assert not scored["valid"][2] and scored["smiles"][2] == ""
        assert scored["invalid_reason"][2] == "RDKit could not read this SDF record"
    else:
        assert len(scored) == 2


def test_a_salt_is_scored_as_its_largest_fragment_unless_asked_otherwise(tmp_path):
    import pandas as pd

    from engine.cli import main

    src = tmp_path / "in.csv"
    src.write_text("smiles\nCC(=O)[O-].[Na+]\nCCO\nCC(=O)[O-]\n")

    def score(*extra):
        out = tmp_path / f"out{len(extra)}.csv"
        assert main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(out),
                     *extra]) == 0
        return pd.read_csv(out, keep_default_na=False)

    parts = score()
    assert parts["smiles"].tolist() == ["CC(=O)[O-].[Na+]", "CCO", "CC(=O)[O-]"]   # as given
    assert parts["scored_as"].tolist() == ["CC(=O)[O-]", "", ""]
    salt, _, acetate = parts.to_dict("records")
    assert salt["heavy_atoms"] == acetate["heavy_atoms"] == 4
    assert salt["mw"] == acetate["mw"] and salt["reward"] == acetate["reward"]
    whole = score("--whole-mixture")
    assert whole["scored_as"].tolist() == ["", "", ""]
    assert whole["heavy_atoms"][0] == 5 and whole["mw"][0] > acetate["mw"]


def test_rescoring_with_another_reward_drops_the_old_desirabilities(tmp_path):
    import pandas as pd

    from engine.chem.rewards import load_reward as load
    from engine.cli import main

    src, first, second = tmp_path / "in.csv", tmp_path / "a.csv", tmp_path / "b.csv"
    src.write_text("smiles\nCCO\n")
    assert main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(first)]) == 0
    assert main(["score", "--reward", "tiny_fragment", "--in", str(first),
                 "--out", str(second)]) == 0
    d_cols = {c for c in pd.read_csv(second).columns if c.startswith("d_")}
    assert d_cols == {f"d_{p}" for p in load("tiny_fragment").properties}


@pytest.mark.parametrize("ticks", [None, "1"])
def test_stop_never_signals_a_process_that_is_not_the_run(tmp_path, ticks):
    from engine.train.launch import run_state, stop

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


def _cut_save_left(folder: Path) -> bool:
    """Whether a killed run left a save half done: its commit record or staged files."""
    return ((folder / runfolder.COMMIT_FILE).exists()
            or any(folder.glob("*" + runfolder.STAGED)) or any(folder.glob("*.tmp")))


def test_runs_killed_at_random_moments_resume_to_exactly_0_to_n(tiny_checkpoint, tmp_path):
    import random

    from engine.cli import main
    from engine.model.checkpoint import load_checkpoint

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


def test_conditions_outside_the_bank_are_warned_about(tiny_checkpoint, tmp_path, capsys):
    from engine.cli import main

    assert main(_sample_args(tiny_checkpoint, "--condition", "qed=50", "--condition",
                             "tpsa=60", "--out", str(tmp_path / "s.csv"))) == 0
    err = capsys.readouterr().err
    assert "warning: condition qed=50 is outside the range the model was trained on" in err
    assert "tpsa" not in err


def test_a_non_utf8_file_names_the_right_byte(tmp_path):
    from engine.train.data import DataError, read_smiles_table

    src = tmp_path / "latin1.csv"
    head = b"smiles\n" + b"CCO\n" * 100_000
    src.write_bytes(head + b"C\xe9\n")
    with pytest.raises(DataError, match=f"at byte {len(head) + 1}\\)"):
        read_smiles_table(src)


def test_resume_compares_the_start_checkpoint_as_a_folder(tiny_checkpoint, tmp_path,
                                                          monkeypatch):
    import shutil

    out = tmp_path / "run"
    monkeypatch.chdir(tiny_checkpoint.parent)
    finetune(_cfg(tiny_checkpoint.name, out), progress=False)    # a relative path
    monkeypatch.chdir(tmp_path)
    finetune(_cfg(tiny_checkpoint, out, steps=3), resume=True, progress=False)   # absolute
    other = shutil.copytree(tiny_checkpoint, tmp_path / "other")
    with pytest.raises(runfolder.RunFolderError, match="another start checkpoint"):
        finetune(_cfg(other, out, steps=4), resume=True, progress=False)


def test_score_says_why_a_molecule_is_invalid(tmp_path):
    import pandas as pd

    from engine.chem.properties import MAX_HEAVY_ATOMS
    from engine.cli import main

    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"smiles": ["CCO", "C1CC", "C" * (MAX_HEAVY_ATOMS + 1)]}).to_csv(src,
                                                                               index=False)
    assert main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(out)]) == 0
    scored = pd.read_csv(out, keep_default_na=False)
    assert scored["invalid_reason"].tolist() == [
        "", "not parsable or not sanitizable",
        f"{MAX_HEAVY_ATOMS + 1} heavy atoms, more than {MAX_HEAVY_ATOMS}"]


def test_dashboard_errors_name_no_server_path(tiny_checkpoint, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app import messages

    runs = tmp_path / "runs"
    taken = runs / "taken"                  # a corrupt checkpoint folder: no weights
    taken.mkdir(parents=True)
    (taken / runfolder.CONFIG_FILE).write_text(json.dumps({"training": {"steps_done": 1}}))
    monkeypatch.setenv("RCFG_CHECKPOINT", str(tiny_checkpoint))
    monkeypatch.setenv("RCFG_RUNS_DIR", str(runs))
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=90)
    at.switch_page("screens/runs.py").run()
    assert not at.exception, at.exception
    at.radio(key="launch::kind").set_value("rl").run()
    at.text_input(key="launch::name::rl").set_value("taken")
    next(b for b in at.button if b.label == "Start run").click().run()
    message = at.error[0].value
    assert message == "runs/taken already holds a run; resume it or choose another folder"
    for leak in (str(tmp_path), str(ROOT), "Traceback"):
        assert leak not in message
    # paths in the repository are shown relative to it, other text as it was
    assert messages.shown(f"{ROOT / 'assets' / 'model'}: not found in {ROOT}") == \
        "assets/model: not found in ."
    assert messages.shown("/elsewhere/x: no such file") == "/elsewhere/x: no such file"


def _websocket_handshake(port: int, host: str) -> str:
    """The status line the dashboard answers a WebSocket opening with `Host: host`."""
    import base64
    import socket

    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request.encode())
        return sock.recv(200).decode(errors="replace").split("\r\n")[0]


def test_the_dashboard_refuses_a_foreign_host_header(tiny_checkpoint):
    """DNS rebinding: a page at evil.example re-pointed at 127.0.0.1 reaches the server
    with `Host: evil.example`; the app's WebSocket (all it shows and does) refuses it."""
    from urllib.parse import urlparse

    from tests.test_browser import serve

    proc, url = serve(tiny_checkpoint)
    try:
        port = urlparse(url).port
        for host in ("evil.example", f"evil.example:{port}"):
            assert _websocket_handshake(port, host) == "HTTP/1.1 403 Forbidden"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            assert _websocket_handshake(port, host) == "HTTP/1.1 101 Switching Protocols"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
