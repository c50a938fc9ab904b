"""Hand-checkable structure helpers (SMARTS, drawings, SDF, conformer) and the Pareto front."""
import numpy as np
import pandas as pd
import pytest

from engine.chem.pareto import goal_distance, non_dominated
from engine.chem.structures import (
    SmartsError,
    conformer,
    has_substructure,
    mol_svg,
    smarts_pattern,
    to_sdf,
)
from engine.errors import UserError


def test_benzene_pattern_matches_phenol_not_cyclohexane():
    assert has_substructure(["Oc1ccccc1", "C1CCCCC1", "not a smiles", ""], "c1ccccc1") == [
        True, False, False, False]
    assert has_substructure(("CCN", "CCO"), "[NX3;H2]") == [True, False]  # primary amine


def test_invalid_smarts_has_a_clear_message():
    with pytest.raises(SmartsError, match=r"'c1ccc\(' is not a valid SMARTS pattern"):
        smarts_pattern("c1ccc(")
    with pytest.raises(SmartsError, match="example: c1ccccc1 for benzene"):
        has_substructure(["CCO"], "c1ccc(")
    assert issubclass(SmartsError, ValueError) and issubclass(SmartsError, UserError)


def test_svg_highlights_only_with_a_match():
    plain = mol_svg("Oc1ccccc1")
    highlighted = mol_svg("Oc1ccccc1", "c1ccccc1", width=300, height=200)
    assert plain.startswith("<?xml") and "</svg>" in plain
    assert "width='300px'" in highlighted and highlighted != plain
    assert "</svg>" in mol_svg("not a smiles")  # empty drawing, no exception
    with pytest.raises(SmartsError):
        mol_svg("CCO", "c1ccc(")


def test_sdf_skips_invalid_smiles_and_carries_tags():
    frame = pd.DataFrame({"smiles": ["CCO", "not a smiles", "c1ccccc1"],
                          "reward": [0.5, 0.9, 0.123456789], "run": [1, 1, 2],
                          "note": ["a", "b", None]})
    text, skipped = to_sdf(frame)
    records = [r for r in text.split("$$$$\n") if r.strip()]
    assert skipped == 1 and len(records) == 2
    assert records[0].startswith("CCO\n") and records[1].startswith("c1ccccc1\n")
    assert ">  <reward>  (1) \n0.5\n" in records[0] and ">  <run>  (1) \n1\n" in records[0]
    assert ">  <note>  (1) \na\n" in records[0]
    assert "0.123457" in records[1] and "<note>" not in records[1]  # missing value: no tag
    assert to_sdf(frame.iloc[[1]]) == ("", 1)


def test_conformer_of_ethanol_and_of_an_invalid_smiles():
    block, note = conformer("CCO")
    assert block is not None and "V2000" in block and note.startswith("ETKDGv3")
    assert "MMFF94-minimized" in note
    counts = block.splitlines()[3]
    assert int(counts[:3]) == 9  # C2H6O with hydrogens
    assert conformer("CCO")[0] == block  # fixed seed: repeatable
    block, note = conformer("not a smiles")
    assert block is None and "not a valid molecule" in note
    assert "not a SMILES: syntax error" in note   # RDKit's words


def test_a_conformer_of_a_molecule_with_open_stereocentres_says_it_is_one_stereoisomer():
    for smiles, open_centres in (("CC(O)C(N)C", 2), ("CC(O)CC", 1), ("C[C@H](O)CC", 0)):
        block, note = conformer(smiles)
        assert block is not None
        said = f"leaves {open_centres} stereocentre"
        assert (said in note and "one stereoisomer" in note) == (open_centres > 0), note


def test_a_molecule_over_the_heavy_atom_bound_is_neither_drawn_nor_embedded():
    """Laying out or embedding 8,000 atoms would take minutes: such a molecule is invalid
    here, as in scoring."""
    huge = "C" * 8000
    empty = mol_svg("not a smiles")
    assert mol_svg(huge) == empty and has_substructure([huge], "CCCC") == [False]
    assert to_sdf(pd.DataFrame({"smiles": [huge, "CCO"]}), three_d=True)[1] == 1
    block, note = conformer(huge)
    assert block is None and "8000 heavy atoms, more than 150" in note


def test_pareto_front_by_hand():
    x = np.array([1.0, 2.0, 3.0, 2.0, 0.5])
    y = np.array([3.0, 2.0, 1.0, 1.0, 3.0])
    # both higher: (1,3) (2,2) (3,1) trade off; (2,1) loses to (2,2); (0.5,3) to (1,3)
    assert non_dominated(x, y, True, True).tolist() == [True, True, True, False, False]
    # x lower, y higher: (0.5,3) beats every other point
    assert non_dominated(x, y, False, True).tolist() == [False, False, False, False, True]
    # both lower: (0.5,3) and (2,1) trade off; (3,1) loses to (2,1); (1,3) to (0.5,3)
    assert non_dominated(x, y, False, False).tolist() == [False, False, False, True, True]
    # exact duplicates on the front are kept once
    assert non_dominated(np.array([1.0, 1.0]), np.array([2.0, 2.0]), True, True).sum() == 1
    assert non_dominated(np.array([]), np.array([]), True, True).tolist() == []


def test_goal_distance_follows_each_terms_goal():
    from engine.chem.rewards import Term  # noqa: PLC0415

    logp = np.array([-1.4, 2.5, 3.5, np.nan])
    # "minimize, 1 at 2.5": logP -1.4 meets the goal no better than 2.5
    assert goal_distance(Term("logp", "minimize", 2.5, 4.5), logp)[:3].tolist() == [0, 0, 1]
    assert goal_distance(Term("logp", "maximize", 0, 3), logp)[:3] == pytest.approx([4.4, 0.5, 0])
    window = goal_distance(Term("tpsa", "range", 40, 90, ramp=20), np.array([20, 60, 95]))
    assert window.tolist() == [20, 0, 5]
    assert np.isnan(goal_distance(Term("logp", "minimize", 2.5, 4.5), logp)[3])


def test_sdf_in_3d_carries_the_conformer_with_hydrogens():
    from rdkit import Chem

    frame = pd.DataFrame({"smiles": ["CCO", "c1ccccc1"], "reward": [0.5, 0.2]})
    flat = Chem.MolFromMolBlock(to_sdf(frame)[0].split("$$$$")[0])
    assert not flat.GetConformer().Is3D() and "<conformer>" not in to_sdf(frame)[0]
    text, skipped = to_sdf(frame, three_d=True)
    supplier = Chem.SDMolSupplier()
    supplier.SetData(text, removeHs=False)
    mols = list(supplier)
    assert skipped == 0 and [m.GetNumAtoms() for m in mols] == [9, 12]   # hydrogens kept
    ethanol = mols[0].GetConformer()
    assert ethanol.Is3D() and ethanol.GetPositions()[:, 2].std() > 0.1   # not flat
    assert mols[0].GetProp("conformer") == "ETKDGv3 conformer, MMFF94-minimized."
    assert mols[0].GetProp("reward") == "0.5" and mols[0].GetProp("_Name") == "CCO"
    assert text == to_sdf(frame, three_d=True)[0]   # fixed seed: the same file twice


def test_sdf_in_3d_keeps_2d_coordinates_when_embedding_fails(monkeypatch):
    from rdkit import Chem

    from engine.chem import structures

    monkeypatch.setattr(structures, "_embedded", lambda mol: (None, "no"))
    text, _ = to_sdf(pd.DataFrame({"smiles": ["CCO"]}), three_d=True)
    mol = Chem.MolFromMolBlock(text)
    assert not mol.GetConformer().Is3D() and mol.GetNumAtoms() == 3
    assert "could not embed" in text
