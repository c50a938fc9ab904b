"""A chemist's own molecules from CSV, .smi and SDF: readable ones canonicalized in file
order, unreadable ones listed with their row and reason, unreadable files refused."""
import pandas as pd
import pytest

from engine.chem.molfile import MoleculeFileError, read_molecules
from engine.chem.structures import to_sdf

BROKEN_RECORD = ("broken\n  test\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n"
                 "    0.0000    0.0000    0.0000 Qq  0  0  0  0  0  0  0  0  0  0  0  0\n"
                 "M  END\n$$$$\n")


def test_csv_with_names_keeps_order_and_lists_bad_rows():
    data = b"ID,SMILES\na,OCC\nb,C1CC\nc,\nd,c1ccccc1O\n"
    good, bad = read_molecules(data, "leads.csv")
    assert good.to_dict("list") == {"row": [1, 4], "name": ["a", "d"],
                                    "smiles": ["CCO", "Oc1ccccc1"]}
    assert bad["row"].tolist() == [2, 3] and bad["given"].tolist() == ["C1CC", ""]
    assert bad["reason"].tolist() == ["RDKit could not parse or sanitize this SMILES",
                                      "empty SMILES"]


def test_smi_lines_with_and_without_names():
    good, bad = read_molecules(b"# my series\nCCO ethanol, dry\n\nc1ccccc1\nC(C\n", "x.smi")
    assert good["name"].tolist() == ["ethanol, dry", ""]
    assert good["smiles"].tolist() == ["CCO", "c1ccccc1"]
    assert bad.to_dict("records") == [{"row": 3, "name": "", "given": "C(C",
                                       "reason": "RDKit could not parse or sanitize this SMILES"}]


def test_sdf_round_trip_and_an_unreadable_record():
    text, _ = to_sdf(pd.DataFrame({"smiles": ["CCO", "Nc1ccccc1"], "reward": [0.5, 0.2]}))
    good, bad = read_molecules((text + BROKEN_RECORD).encode(), "mine.SDF")
    assert good["smiles"].tolist() == ["CCO", "Nc1ccccc1"]
    assert good["name"].tolist() == ["CCO", "Nc1ccccc1"]   # to_sdf names records by SMILES
    assert bad.to_dict("records") == [{"row": 3, "name": "broken", "given": "",
                                       "reason": "RDKit could not read this SDF record"}]


@pytest.mark.parametrize("data, filename, message", [
    (b"CCO", "mols.xlsx", "unknown file type; allowed: .csv"),
    (b"id,structure\na,CCO\n", "mols.csv", "no SMILES column; the columns are id, structure"),
    (b"\xff\xfeC", "mols.smi", "not UTF-8 text"),
    (b"\n# nothing\n", "mols.smi", "no molecule found"),
])
def test_unreadable_files_are_refused_with_the_reason(data, filename, message):
    with pytest.raises(MoleculeFileError, match=message):
        read_molecules(data, filename)


def test_a_stray_quote_or_extra_field_spoils_only_its_own_line():
    data = (b'name,smiles\nethanol,CCO\n"phenol,c1ccccc1O\naspirin,CC(=O)Oc1ccccc1C(=O)O\n'
            b'a,b,CCN\nshort\nbenzene,c1ccccc1\n')
    good, bad = read_molecules(data, "leads.csv")
    assert good["name"].tolist() == ["ethanol", "aspirin", "benzene"]
    assert good["row"].tolist() == [1, 3, 6]
    assert bad["row"].tolist() == [2, 4, 5]
    assert bad["given"].tolist()[:2] == ['"phenol,c1ccccc1O', "a,b,CCN"]
    assert bad["reason"][0].startswith("line 3: not valid CSV") and "quote" in bad["reason"][0]
    assert bad["reason"][1] == ("line 5: 3 fields where the header has 2 (a comma in a name "
                                "without quotes?)")
    assert bad["reason"][2] == "empty SMILES"
