"""`score` on the files a chemist has: CSV with or without a header, .smi and SDF (an
unreadable record kept, saying why); a salt scored as its largest fragment unless asked
otherwise; why a molecule is invalid; the columns of an earlier reward replaced."""
from io import StringIO

import pandas as pd
import pytest
from rdkit import Chem

from engine.chem.properties import MAX_HEAVY_ATOMS
from engine.chem.rewards import load_reward
from engine.cli import main


def _sdf_with_a_broken_record() -> str:
    """ethanol and benzene written by RDKit, then a record whose atom RDKit does not know."""


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


def test_a_salt_is_scored_as_its_neutral_largest_fragment_unless_asked_otherwise(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCC(=O)[O-].[Na+]\nCCO\nCC(=O)[O-]\nCC(=O)O\nC[N+](C)(C)C.[Cl-]\n")

    def score(*extra):
        out = tmp_path / f"out{len(extra)}.csv"
        assert main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(out),
                     *extra]) == 0
        return pd.read_csv(out, keep_default_na=False)

    parts = score()
    assert parts["smiles"].tolist() == ["CC(=O)[O-].[Na+]", "CCO", "CC(=O)[O-]", "CC(=O)O",
                                        "C[N+](C)(C)C.[Cl-]"]   # as given
    # a quaternary ammonium has no proton to lose: the largest fragment keeps its charge
    assert parts["scored_as"].tolist() == ["CC(=O)O", "", "CC(=O)O", "", "C[N+](C)(C)C"]
    salt, _, acetate, acid, _ = parts.to_dict("records")
    assert salt["heavy_atoms"] == acetate["heavy_atoms"] == acid["heavy_atoms"] == 4
    for name in ("mw", "logp", "hbd", "reward"):
        assert salt[name] == acetate[name] == acid[name], name
    whole = score("--as-given")
    assert whole["scored_as"].tolist() == [""] * 5
    assert whole["heavy_atoms"][0] == 5 and whole["mw"][0] > acid["mw"]
    assert whole["hbd"][2] == 0 < acid["hbd"]          # the anion as written
    assert score("--whole-mixture", "--force")["scored_as"].tolist() == [""] * 5   # its old name


def test_an_inorganic_salt_or_water_is_not_scored_unless_asked(tmp_path):
    from engine.chem.properties import NOT_ORGANIC, organic_refusal  # noqa: PLC0415

    src = tmp_path / "in.csv"
    src.write_text("smiles\n[Na+].[Cl-]\nO\n[Cu]\nCCl\nCCN.Cl\n")
    out = tmp_path / "out.csv"
    assert main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table["valid"].tolist() == [False, False, False, True, True]
    assert table["invalid_reason"].tolist()[:3] == [NOT_ORGANIC] * 3
    assert table["reward"].tolist()[:3] == ["", "", ""] or (table["reward"][:3] == 0).all()
    as_given = tmp_path / "as_given.csv"
    assert main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(as_given),
                 "--as-given"]) == 0
    assert pd.read_csv(as_given)["valid"].all()   # scored as written
    # carbon as written: lexical, the same as RDKit's atoms on every kind of symbol
    for smiles, organic in (("[13CH4]", True), ("[C@@H](F)(Cl)Br", True), ("Cl", False),
                            ("[Ca+2]", False), ("[Cs+]", False), ("OP(=O)(O)O", False),
                            ("c1ccccc1", True), ("[Co]", False)):
        assert (organic_refusal(smiles) == "") == organic, smiles


def test_scored_form_keeps_what_a_proton_cannot_neutralize():
    from engine.chem.properties import scored_form  # noqa: PLC0415

    assert scored_form("CC[NH3+].[Cl-]") == scored_form("CCN.Cl") == "CCN"
    assert scored_form("[NH3+]CC(=O)[O-]") == "NCC(=O)O"            # a zwitterion
    for kept in ("O=[N+]([O-])c1ccccc1", "[O-][n+]1ccccc1", "CCO", "C[C@H](N)C(=O)O",
                 "C1.C1", "not a smiles", ""):
        assert scored_form(kept) == "", kept


def test_score_says_why_a_molecule_is_invalid(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"smiles": ["CCO", "C1CC", "C" * (MAX_HEAVY_ATOMS + 1), "c1ccccc1(",
                             "CC(C)(C)(C)C", "c1cccc1"]}).to_csv(src, index=False)
    assert main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(out)]) == 0
    scored = pd.read_csv(out, keep_default_na=False)
    # in RDKit's words: what the parser or the sanitizer found, and where
    assert scored["invalid_reason"].tolist() == [
        "", "not a SMILES: unclosed ring",
        f"{MAX_HEAVY_ATOMS + 1} heavy atoms, more than {MAX_HEAVY_ATOMS}",
        "not a SMILES: syntax error at position 9",
        "not sanitizable: Explicit valence for atom # 1 C, 5, is greater than permitted",
        "not sanitizable: Can't kekulize mol. Unkekulized atoms: 0 1 2 3 4"]


def test_rescoring_with_another_reward_drops_the_old_desirabilities(tmp_path):
    src, first, second = tmp_path / "in.csv", tmp_path / "a.csv", tmp_path / "b.csv"
    src.write_text("smiles\nCCO\n")
    assert main(["score", "--reward", "drug_like", "--in", str(src), "--out", str(first)]) == 0
    assert main(["score", "--reward", "tiny_fragment", "--in", str(first),
                 "--out", str(second)]) == 0
    d_cols = {c for c in pd.read_csv(second).columns if c.startswith("d_")}
    assert d_cols == {f"d_{p}" for p in load_reward("tiny_fragment").properties}
