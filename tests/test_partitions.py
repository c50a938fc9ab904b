"""Scoring in partitions (engine/chem/partitions.py): a real Dask LocalCluster of two
worker processes and the local process pool write shards whose rows are exactly those of
in-process scoring, in input order, from a CSV, a .smi and a library folder."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from engine.chem.partitions import PartitionError, read_partitions, score_partitions
from engine.chem.rewards import load_reward
from engine.chem.scoring import score_table
from engine.cli import main

SMILES = ["CC(=O)Nc1ccc(O)cc1", "CCOc1ccc(NC(C)=O)cc1", "not a molecule", "c1ccccc1",
          "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21", "[Na+].OC(=O)c1ccccc1", "", "CCO",
          "S=C1SC(=Cc2ccccc2)C(=O)N1", "O=[N+]([O-])c1ccccc1", "C1CC", "CCN(CC)CC"]


def _shards(folder) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(f) for f in sorted(folder.glob("part-*.parquet"))],
                     ignore_index=True)


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "mols.csv"
    pd.DataFrame({"id": range(len(SMILES)), "SMILES": SMILES}).to_csv(path, index=False)
    return path


def test_dask_local_cluster_gives_in_process_rows(csv_file, tmp_path):
    reward = load_reward("drug_like")
    summary = score_partitions(csv_file, "smiles", reward, tmp_path / "out", partition=5,
                               workers=2, alerts=True)
    assert summary["engine"] == "a local Dask cluster of 2 workers"
    assert summary["partitions"] == 3 and summary["n"] == len(SMILES)
    frame = pd.read_csv(csv_file, dtype=str, keep_default_na=False)
    expected = score_table(frame, "SMILES", reward, alerts=True)
    pd.testing.assert_frame_equal(_shards(tmp_path / "out"), expected, check_dtype=False)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["rows"] for s in manifest["shards"]] == [5, 5, 2]


def test_process_pool_and_smi_input(tmp_path):
    smi = tmp_path / "mols.smi"
    smi.write_text("".join(f"{s or 'C1CC'} mol{i}\n" for i, s in enumerate(SMILES)))
    reward = load_reward("cns_penetrant")
    calls = []
    score_partitions(smi, "smiles", reward, tmp_path / "out", partition=4,
                     progress=lambda done, total: calls.append((done, total)))
    # the bar starts before the first partition is scored and ends at every molecule
    assert calls == [(0, 12), (4, 12), (8, 12), (12, 12)]
    frames = list(read_partitions(smi, size=4))
    assert [len(f) for f, _ in frames] == [4, 4, 4]
    whole = pd.concat([f for f, _ in frames], ignore_index=True)
    pd.testing.assert_frame_equal(_shards(tmp_path / "out"),
                                  score_table(whole, "smiles", reward, alerts=False),
                                  check_dtype=False)


def test_cli_scores_a_library_folder_with_workers(tmp_path, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    pd.DataFrame({"smiles": SMILES[:6], "valid": True}).to_parquet(lib / "shard-000000.parquet")
    pd.DataFrame({"smiles": SMILES[6:], "valid": True}).to_parquet(lib / "shard-000001.parquet")
    assert main(["score", "--reward", "drug_like", "--in", str(lib), "--out",
                 f"{tmp_path / 'scored'}/", "--workers", "2", "--partition", "4"]) == 0
    out = _shards(tmp_path / "scored")
    assert out["smiles"].tolist() == SMILES
    assert "a local Dask cluster of 2 workers" in capsys.readouterr().out


def test_the_local_pool_has_the_processes_asked_for(tmp_path, capsys):
    csv = tmp_path / "mols.csv"
    pd.DataFrame({"smiles": SMILES}).to_csv(csv, index=False)
    assert main(["score", "--reward", "drug_like", "--in", str(csv), "--out",
                 f"{tmp_path / 'one'}/", "--jobs", "1", "--partition", "5"]) == 0
    assert "on a local pool of 1 process;" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["engine"] == "a local pool of 1 process" and manifest["n"] == len(SMILES)
    for bad, says in ((["--jobs", "1", "--workers", "2"], "sizes the local process pool"),
                      (["--jobs", "0"], "--jobs 0: give a number of processes >= 1")):
        assert main(["score", "--reward", "drug_like", "--in", str(csv), "--out",
                     f"{tmp_path / 'bad'}/", *bad]) != 0
        assert says in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()   # refused before any work


def test_inputs_that_cannot_be_partitioned_are_named(tmp_path):
    (tmp_path / "x.sdf").write_text("")
    with pytest.raises(PartitionError, match="cannot be read in partitions"):
        list(read_partitions(tmp_path / "x.sdf"))
    (tmp_path / "t.csv").write_text("name,smi\na,CCO\n")
    with pytest.raises(PartitionError, match="no 'smiles' column"):
        list(read_partitions(tmp_path / "t.csv"))
    with pytest.raises(PartitionError, match="a folder without shard"):
        list(read_partitions(tmp_path))
