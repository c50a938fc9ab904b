"""The benchmark scripts run end to end on the tiny model (figures come from real runs)."""
import json

import pytest

from engine.bench import effect, finetune, speed, sweep, validity


def test_effect_benchmark_writes_a_row_per_preset(tiny_checkpoint, tmp_path, capsys):
    out, png = tmp_path / "effect.json", tmp_path / "effect.png"
    argv = ["--n", "3", "--checkpoint", str(tiny_checkpoint), "--device", "cpu",
            "--presets", "drug_like", "qed_high", "--out", str(out), "--plot", str(png)]
    assert effect.main(argv) == 0
    results = json.loads(out.read_text())
    assert set(results["presets"]) == {"drug_like", "qed_high"}
    row = results["presets"]["drug_like"]
    assert set(effect.COLUMNS) <= set(row)
    assert row["rcfg_k64"]["rows_per_molecule"] == 65 and row["best_of_n65"]["n"] == 3
    assert row["rcfg_k16"]["n"] == 3 and "normalized_se" in row["qtilt_k16"]
    # best-of-N never does worse than the base molecules it picks from, per group
    assert row["best_of_n65"]["mean_reward"] >= row["best_of_n17"]["mean_reward"]
    assert "| drug_like |" in capsys.readouterr().out
    assert png.stat().st_size > 10_000
    assert effect.main(argv) == 0  # a re-run reuses the saved rows


def test_sweep_benchmark_resumes_and_ranks_settings(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "sweep.json"
    argv = ["--n", "4", "--ys", "2", "--checkpoint", str(tiny_checkpoint), "--device", "cpu",
            "--presets", "drug_like", "--settings", "z:1:0", "relative:2:0.1",
            "--out", str(out)]
    assert sweep.main(argv) == 0
    cells = json.loads(out.read_text())["presets"]["drug_like"]["cells"]
    assert set(cells) == {"z:1:0", "relative:2:0.1"}
    assert all({"se", "normalized_score", "validity"} <= set(c) for c in cells.values())
    assert "| relative:2:0.1 | 1 |" in capsys.readouterr().out
    stamp = out.stat().st_mtime_ns
    assert sweep.main(argv) == 0                 # every cell measured: nothing re-run
    assert out.stat().st_mtime_ns == stamp
    with pytest.raises(ValueError):
        sweep.main([*argv[:-3], "z:1", "--out", str(out)])
    div = tmp_path / "diversity.json"
    assert sweep.main([*argv[:-1], str(div), "--diversity"]) == 0
    row = json.loads(div.read_text())["presets"]["drug_like"]
    assert {"intdiv1", "scaffold_diversity"} <= set(row["base"]) & set(row["cells"]["z:1:0"])


def test_speed_benchmark_compares_with_the_sequential_reference(tiny_checkpoint, capsys):
    assert speed.main(["--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--n", "4",
                       "--ks", "1", "2", "--batch-rows", "40", "--app-n", "4",
                       "--grammar-n", "4"]) == 0
    out = capsys.readouterr().out
    assert "| 1 | 2 | 4 |" in out and "| 2 | 3 | 4 |" in out and "Dashboard default" in out
    for label in ("no mask", "grammar", "grammar + ring checks"):
        assert f"| base | {label} | 4 |" in out and f"| rcfg | {label} | 4 |" in out


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


def test_validity_benchmark_sorts_failures_by_cause(tiny_checkpoint, tmp_path, capsys):
    assert validity.failure("C1CC") == "unparsable"
    assert validity.failure("c1cccc1") == "kekulize"
    assert validity.failure("C(C)(C)(C)(C)C") == "valence"
    assert validity.failure("c1ccccc1") == "ok" and validity.failure("") == "empty"
    out = tmp_path / "validity.json"
    assert validity.main(["--n", "6", "--checkpoint", str(tiny_checkpoint), "--device", "cpu",
                          "--out", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == len(validity.RUNS) * len(validity.DECODING) == 9
    for row in runs.values():  # every invalid molecule has one cause
        invalid = round((1 - row["validity"]) * 6)
        assert sum(row[k] for k in validity.CAUSES) == invalid


def test_cost_benchmark_places_families_on_the_best_of_n_curve(tiny_checkpoint, tmp_path,
                                                                capsys, monkeypatch):
    from engine.bench import cost
    from engine.sampling.sampler import SampleSettings

    monkeypatch.setattr(cost, "ROOT", tmp_path)      # the base pool's cache goes here
    out, png = tmp_path / "cost.json", tmp_path / "cost.png"
    argv = ["--n", "3", "--checkpoint", str(tiny_checkpoint), "--presets", "drug_like",
            "--families", "tilted_g16", "rcfg_k16", "--max-candidates", "2",
            "--out", str(out), "--plot", str(png)]
    assert cost.main(argv) == 0
    row = json.loads(out.read_text())["presets"]["drug_like"]
    curve = row["best_of_n"]
    assert [c["N"] for c in curve] == list(range(1, cost.BON_MAX + 1))
    assert all(a["cpu_ms"] < b["cpu_ms"] for a, b in zip(curve, curve[1:]))  # dearer with N
    tilted = row["families"]["tilted_g16"]["cells"]
    assert set(tilted) == {"1", "2"} and tilted["2"]["rows"] == 2
    assert set(row["families"]["rcfg_k16"]["cells"]) == {"1", "2"}
    assert row["families"]["rcfg_k16"]["cells"]["2"]["rows"] == 34
    for cell in tilted.values():        # a point on the curve at its own CPU cost
        assert {"normalized_score", "mean_reward", "good_scaffolds"} <= set(
            cell["best_of_n_at_cpu"])
    assert "tilted_g16 | 2 |" in capsys.readouterr().out
    assert png.stat().st_size > 10_000
    line = cost.standing(SampleSettings(method="tilted", candidates=2), (out,))
    assert line.startswith("matched-cost benchmark (1 presets, 3 molecules each)")
    assert "best-of-N at the same CPU time" in line
    assert cost.standing(SampleSettings(method="cfg"), (out,)) is None   # not measured
    assert "best-of-4" in cost.standing(SampleSettings(method="base", candidates=4), (out,))
