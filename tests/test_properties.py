"""Hand-checkable property values and the batch contract."""
import math

import numpy as np
import pytest

from engine.chem.properties import PROPERTY_NAMES, batch_properties, canonical_smiles, to_mol


def test_names_match_the_documented_25():
    assert len(PROPERTY_NAMES) == 25
    assert PROPERTY_NAMES[0] == "mw" and PROPERTY_NAMES[-1] == "basic_amines"


@pytest.fixture(scope="module")
def table():
    smiles = ["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "C[C@H](N)C(=O)O", "CCN(CC)CC",
              "FC(F)(F)Cl", "C1CCCCCCCCCCC1", "not a smiles", "", "C1CC"]
    return batch_properties(smiles, n_jobs=1).set_index("smiles", drop=False)


def test_ethanol(table):
    row = table.loc["CCO"]
    assert row.valid
    assert row.mw == pytest.approx(46.069, abs=1e-3)
    assert row.heavy_atoms == 3 and row.oxygens == 1 and row.nitrogens == 0
    assert row.hbd == 1 and row.hba == 1
    assert row.tpsa == pytest.approx(20.23, abs=1e-2)
    assert row.rings == 0 and row.largest_ring_size == 0 and row.fsp3 == 1.0


def test_benzene(table):
    row = table.loc["c1ccccc1"]
    assert row.aromatic_rings == 1 and row.aliphatic_rings == 0
    assert row.aromatic_atom_fraction == 1.0 and row.fsp3 == 0.0
    assert row.largest_ring_size == 6 and row.heteroatoms == 0 and row.tpsa == 0.0


def test_paracetamol(table):
    row = table.loc["CC(=O)Nc1ccc(O)cc1"]
    assert row.mw == pytest.approx(151.165, abs=1e-3)
    assert row.amide_bonds == 1 and row.hbd == 2
    assert row.aromatic_atom_fraction == pytest.approx(6 / 11)
    assert row.basic_amines == 0  # an anilide is not a basic amine


def test_alanine_stereo_and_amine(table):
    row = table.loc["C[C@H](N)C(=O)O"]
    assert row.stereocenters == 1
    assert row.basic_amines == 1


def test_triethylamine_is_basic(table):
    assert table.loc["CCN(CC)CC"].basic_amines == 1


def test_halogens_and_macrocycle(table):
    assert table.loc["FC(F)(F)Cl"].halogens == 4
    assert table.loc["C1CCCCCCCCCCC1"].largest_ring_size == 12


def test_invalid_rows_are_nan_not_errors(table):
    for bad in ("not a smiles", "", "C1CC"):
        row = table.loc[bad]
        assert not row.valid
        assert all(math.isnan(row[name]) for name in PROPERTY_NAMES)


def test_scores_are_in_documented_ranges(table):
    valid = table[table.valid]
    assert valid.qed.between(0, 1).all()
    assert valid.sa_score.between(1, 10).all()


def test_parallel_equals_serial():
    smiles = [line.split(",")[0] for line in open("tests/data/smiles.csv").read().split()[1:81]]
    serial = batch_properties(smiles, n_jobs=1)
    parallel = batch_properties(smiles, n_jobs=2, chunk_size=20)
    np.testing.assert_allclose(serial[list(PROPERTY_NAMES)].to_numpy(),
                               parallel[list(PROPERTY_NAMES)].to_numpy())
    assert serial.smiles.tolist() == parallel.smiles.tolist() == smiles


def test_none_and_non_strings_do_not_raise():
    frame = batch_properties([None, float("nan"), "C"], n_jobs=1)
    assert frame.valid.tolist() == [False, False, True]


def test_canonical_smiles():
    assert canonical_smiles("OCC") == "CCO"
    assert canonical_smiles("C1CC") is None
    assert to_mol("xyz") is None
