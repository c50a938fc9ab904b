"""What a person can fix is said in one line, with the likely cause: a bad device, scores
that became NaN (an extreme condition, a broken checkpoint), a condition outside what the
model was trained on, a file that is not UTF-8; the dashboard's errors name no server
path."""
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from streamlit.testing.v1 import AppTest

from app import messages
from engine.cli import main
from engine.train import runfolder
from engine.train.data import DataError, read_smiles_table

ROOT = Path(__file__).resolve().parents[1]


def _sample(ckpt, *extra) -> int:
    """The exit status of `sample` of four molecules on the CPU."""
    return main(["sample", "--checkpoint", str(ckpt), "--n", "4", "--device", "cpu", *extra])


@pytest.mark.parametrize("device, message", [
    ("foo", "unknown device 'foo'; use auto, cpu, cuda or cuda:N"),
    ("cuda:99", "device 'cuda:99' asked for, but"),
])
def test_a_bad_device_is_one_line(tiny_checkpoint, tmp_path, capsys, device, message):
    assert main(["sample", "--checkpoint", str(tiny_checkpoint), "--device", device,
                 "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_non_finite_scores_name_the_likely_cause(tiny_checkpoint, tmp_path, capsys):
    assert _sample(tiny_checkpoint, "--condition", "mw=1e300",
                   "--out", str(tmp_path / "a.csv")) == 2
    assert "extreme condition value" in capsys.readouterr().err
    broken = tmp_path / "nan_model"
    shutil.copytree(tiny_checkpoint, broken)
    state = load_file(str(broken / "model.safetensors"))
    state = {k: torch.full_like(v, float("nan")) for k, v in state.items()}
    save_file(state, str(broken / "model.safetensors"))
    assert _sample(broken, "--out", str(tmp_path / "b.csv")) == 2
    err = capsys.readouterr().err
    assert "broken checkpoint" in err and err.count("\n") == 1
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()


def test_conditions_outside_the_bank_are_warned_about(tiny_checkpoint, tmp_path, capsys):
    assert _sample(tiny_checkpoint, "--condition", "qed=50", "--condition", "tpsa=60",
                   "--out", str(tmp_path / "s.csv")) == 0
    err = capsys.readouterr().err
    assert "warning: condition qed=50 is outside the range the model was trained on" in err
    assert "tpsa" not in err


def test_a_non_utf8_file_names_the_right_byte(tmp_path):
    src = tmp_path / "latin1.csv"
    head = b"smiles\n" + b"CCO\n" * 100_000
    src.write_bytes(head + b"C\xe9\n")
    with pytest.raises(DataError, match=f"at byte {len(head) + 1}\\)"):
        read_smiles_table(src)


def test_dashboard_errors_name_no_server_path(tiny_checkpoint, tmp_path, monkeypatch):
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
        "assets/model: not found in the dashboard's own folder"
    assert messages.shown("/elsewhere/x: no such file") == "/elsewhere/x: no such file"
