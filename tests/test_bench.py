"""The benchmark scripts run end to end on the tiny model (figures come from real runs)."""
import json

import pytest

from engine.bench import effect, finetune, speed


def test_effect_benchmark_writes_a_row_per_preset(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "effect.json"
    argv = ["--n", "3", "--n-k64", "2", "--checkpoint", str(tiny_checkpoint), "--device", "cpu",
            "--presets", "drug_like", "qed_high", "--out", str(out)]
    assert effect.main(argv) == 0
    results = json.loads(out.read_text())
    assert set(results["presets"]) == {"drug_like", "qed_high"}
    row = results["presets"]["drug_like"]
    assert row["rcfg_k64"]["n"] == 2 and row["rcfg_k16"]["n"] == 3
    assert row["base"]["normalized_score"] == 0.0
    assert "| drug_like |" in capsys.readouterr().out
    assert effect.main(argv) == 0  # a re-run reuses the saved rows


def test_speed_benchmark_compares_with_the_sequential_reference(tiny_checkpoint, capsys):
    assert speed.main(["--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--n", "4",
                       "--ks", "1", "2", "--batch-rows", "40", "--app-n", "4"]) == 0
    out = capsys.readouterr().out
    assert "| 1 | 2 | 4 |" in out and "| 2 | 3 | 4 |" in out and "Dashboard default" in out


def test_finetune_benchmark_runs_every_variant_and_reuses_finished_runs(tiny_checkpoint,
                                                                        tmp_path, capsys):
    out, runs = tmp_path / "finetune.json", tmp_path / "runs"
    argv = ["--rewards", "qed_high", "--seeds", "0", "--steps", "2", "--batch-size", "4",
            "--eval-every", "1", "--curve-n", "4", "--eval-n", "8", "--device", "cpu",
            "--checkpoint", str(tiny_checkpoint), "--runs", str(runs), "--out", str(out)]
    assert finetune.main(argv) == 0
    row = json.loads(out.read_text())["rewards"]["qed_high"]["0"]
    assert set(row) == {"start", *finetune.VARIANTS}
    assert [step for step, _ in row["rl-student"]["curve"]] == [0, 1, 2]
    student = json.loads((runs / "qed_high-s0-rl-student" / "config.json").read_text())
    assert student["training"]["start"] == str(runs / "qed_high-s0-distill-valid")
    assert "| qed_high | distill-valid |" in capsys.readouterr().out
    assert finetune.main(argv) == 0               # reused: no run is trained again
    assert json.loads(out.read_text())["rewards"]["qed_high"]["0"]["rl-base"]["wall_s"] is None
    with pytest.raises(SystemExit, match="other settings"):
        finetune.main([*argv[:4], "3", *argv[5:]])
