"""Files written for a person (engine/output.py): checked before any work and never
overwritten without --force, a new timestamped file without --out, cells a spreadsheet
would run as a formula neutralised, values rounded but rewards kept in full."""
import os
import re

import pandas as pd
import pytest

from engine import cli, output
from engine.output import csv_text, write_csv
from engine.sampling import sampler


def _sample_args(ckpt, *extra):
    return ["sample", "--checkpoint", str(ckpt), "--n", "4", "--device", "cpu", *extra]


def test_outputs_are_checked_before_work_and_never_overwritten(tiny_checkpoint, tmp_path,
                                                                 capsys, monkeypatch):
    def no_sampling(*_, **__):
        raise AssertionError("sampled before checking --out")

    monkeypatch.setattr(sampler, "sample", no_sampling)
    taken = tmp_path / "taken.csv"
    taken.write_text("smiles\nCCO\n")
    for out, message in ((tmp_path, "is a folder"), (taken, "already exists.*--force"),
                         (tmp_path / "library", r"no file extension.*library\.csv.*library/")):
        assert cli.main(_sample_args(tiny_checkpoint, "--out", str(out))) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(message, err)
    assert taken.read_text() == "smiles\nCCO\n"
    assert not (tmp_path / "library").exists()   # a folder meant, its slash forgotten
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
    monkeypatch.chdir(tmp_path)
    assert cli.main(_sample_args(tiny_checkpoint)) == 0
    assert cli.main(_sample_args(tiny_checkpoint)) == 0
    written = sorted(tmp_path.glob("samples-*.csv"))
    assert len(written) == 2
    assert str(written[0].name) in capsys.readouterr().out.replace(str(tmp_path) + "/", "")
    assert cli.main(_sample_args(tiny_checkpoint, "--out", str(written[0]), "--force")) == 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_formula_cells_are_neutralised_in_every_csv(tmp_path):
    frame = pd.DataFrame({"smiles": ["=HYPERLINK(\"x\")", "+1+cmd", "@SUM(A1)", "CCO"],
                          "note": ["-2.5", "-x", "ok", None], "value": [-1.0, 2.0, 3.0, 4.0]})
    back = pd.read_csv(write_csv(frame, tmp_path / "t.csv"), keep_default_na=False)
    assert back["smiles"].tolist() == ["'=HYPERLINK(\"x\")", "'+1+cmd", "'@SUM(A1)", "CCO"]
    assert back["note"].tolist() == ["-2.5", "'-x", "ok", ""]   # numbers stay numbers
    assert back["value"].tolist() == [-1.0, 2.0, 3.0, 4.0]
    assert csv_text(frame) == (tmp_path / "t.csv").read_text()


def test_csv_values_are_rounded_but_rewards_keep_full_precision(tmp_path):
    frame = pd.DataFrame({"smiles": ["CCO"], "mw": [46.068999999], "qed": [0.40680716],
                          "reward": [0.123456789012], "d_mw": [0.98765432101], "hbd": [1]})
    back = pd.read_csv(pd.io.common.StringIO(csv_text(frame)))
    assert back.loc[0, ["mw", "qed", "hbd"]].tolist() == [46.069, 0.4068, 1]
    assert back.loc[0, "reward"] == 0.123456789012 and back.loc[0, "d_mw"] == 0.98765432101
