"""Data preparation from a user's CSV, and every bad-file case."""
import pandas as pd
import pytest

from engine.cli import main
from engine.train.data import DataError, load_dataset, prepare_dataset, read_smiles_csv


def test_prepare_reports_invalid_and_duplicates(tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("name,smi\na,CCO\nb,OCC\nc,not_a_smiles\nd,c1ccccc1\ne,\n")
    table, report = prepare_dataset(read_smiles_csv(csv, "smi"), tmp_path / "out", "mine",
                                    n_jobs=1, progress=False)
    assert (report.rows_read, report.invalid, report.duplicates, report.kept) == (5, 2, 1, 2)
    assert sorted(table["smiles"]) == ["CCO", "c1ccccc1"]
    assert len(load_dataset(tmp_path / "out")) == 2


def test_cli_data_on_own_csv(tmp_path, capsys):
    csv = tmp_path / "mine.csv"
    csv.write_text("smiles\nCCO\nCCN\nCCN\n")
    assert main(["data", "--csv", str(csv), "--out", str(tmp_path / "d"), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "dropped 0 invalid and 1 duplicates" in out and "kept 2" in out


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"name,other\nx,CCO\n", "no column 'smiles'; the columns are name, other"),
    (b"smiles\n\xff\xfeC\x00C\n", "not UTF-8"),
    (b"smiles\nnot_valid\nalso(bad\n", "none of the 2 SMILES is valid"),
    (b'smiles,x\n"CCO,1\n', "not a readable CSV"),
])
def test_bad_files_give_clear_messages(tmp_path, capsys, content, message):
    csv = tmp_path / "bad.csv"
    csv.write_bytes(content)
    code = main(["data", "--csv", str(csv), "--out", str(tmp_path / "d"), "--jobs", "1"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "d" / "molecules.parquet").exists()


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_smiles_csv(tmp_path / "nope.csv", "smiles")


def test_load_dataset_missing_columns(tmp_path):
    pd.DataFrame({"smiles": ["CCO"]}).to_parquet(tmp_path / "molecules.parquet")
    with pytest.raises(DataError, match="missing columns"):
        load_dataset(tmp_path)
