"""The fast scoring path (one parse, shared intermediates, a process pool for large batches)
gives the values of the straightforward definitions in PROPERTIES.md."""
import importlib.util
import math
import multiprocessing
import os
import resource
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, RDConfig
from rdkit.Chem import QED, Crippen, Descriptors, GraphDescriptors, rdMolDescriptors

from engine.chem.properties import (BASIC_AMINE_SMARTS, MAX_HEAVY_ATOMS, PROPERTY_NAMES,
                                    _contrib, batch_properties, qed)
from engine.chem.rewards import load_reward

ODD = [
    "C[N+](C)(C)C", "[O-]C(=O)c1ccccc1", "[NH3+]CC(=O)[O-]", "O=[N+]([O-])c1ccccc1",
    "C[n+]1ccccc1", "[O-][n+]1ccccc1", "CC(=O)[O-].[Na+]", "c1ccccc1.O",
    "C[C@H](N)C(=O)O", "F/C=C/F", "C[C@@H]1CC[C@H](C)CC1", "C[C@H](C)C",
    "C[C@@]12CC[C@H]3[C@@H](CC=C4C[C@@H](O)CC[C@@]43C)[C@@H]1CC[C@@H]2O",
    "C1CCCCCCCCCCCCCCC1", "O=C1CCCCCCCCCCCCN1", "C1CC2CCC1CC2", "C1CCC2(CC1)CCCC2",
    "c1ccc2cccc2cc1", "c1ccc2c(c1)[nH]c1ccccc12", "c1ccc2ccccc2c1", "C1=CC=CC=C1",
    "[2H]C([2H])([2H])O", "[H]/C=C/F", "[H]OC", "C[H:1]", "[13CH4]", "*c1ccccc1", "[CH3]", "[Cu]",
    "[Fe+2]", "OP(=O)(O)O", "CS(=O)(=O)N", "B(O)O", "C[Si](C)(C)C", "C#N", "N#CC#N",
    "FC(F)(F)C(Cl)(Br)I", "CC(C)(C)c1ccccc1", "CCC(F)(F)F", "NC(=O)c1cccnc1",
    "c1nn[nH]n1", "O", "[Na+].[Cl-]", "C1CC", "not a smiles", "", "   ",
    "C" * (MAX_HEAVY_ATOMS + 1), "C" * MAX_HEAVY_ATOMS,
]


def _contrib_as_shipped(folder: str, name: str):
    path = os.path.join(RDConfig.RDContribDir, folder, f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"{name}_as_shipped", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=1)
def npscorer_as_shipped():
    """RDKit's npscorer module as shipped, loaded anew: `_contrib()` builds its per-molecule
    Morgan generator and namedtuple once and shares the fingerprint with sascorer, and this
    reference must not share any of that."""
    return _contrib_as_shipped("NP_Score", "npscorer")


@lru_cache(maxsize=1)
def sascorer_as_shipped():
    """RDKit's sascorer module as shipped, loaded anew (with its own fragment scores): the
    one `_contrib()` returns shares its fingerprint with npscorer and finds stereocentres
    over atom indices."""
    module = _contrib_as_shipped("SA_Score", "sascorer")
    module.readFragmentScores()   # RDKit's own packaged file
    return module


def reference_row(smiles: str) -> list[float]:
    """The 25 properties as PROPERTIES.md defines them, each on a freshly parsed molecule
    (nothing shared, no order effects); all NaN where batch_properties marks invalid."""
    _, _, model = _contrib()
    nan = [math.nan] * len(PROPERTY_NAMES)
    if not smiles.strip():
        return nan
    first = Chem.MolFromSmiles(smiles.strip())
    if first is None or not 0 < first.GetNumHeavyAtoms() <= MAX_HEAVY_ATOMS:
        return nan
    amine = Chem.MolFromSmarts(BASIC_AMINE_SMARTS)

    def count(mol, numbers):
        return sum(1 for a in mol.GetAtoms() if a.GetAtomicNum() in numbers)

    definitions = {
        "mw": Descriptors.MolWt, "logp": Crippen.MolLogP, "tpsa": rdMolDescriptors.CalcTPSA,
        "hbd": rdMolDescriptors.CalcNumHBD, "hba": rdMolDescriptors.CalcNumHBA,
        "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds,
        "heavy_atoms": lambda m: m.GetNumHeavyAtoms(), "rings": rdMolDescriptors.CalcNumRings,
        "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings,
        "aliphatic_rings": rdMolDescriptors.CalcNumAliphaticRings,
        "fsp3": rdMolDescriptors.CalcFractionCSP3,
        "stereocenters": lambda m: len(Chem.FindMolChiralCenters(
            m, includeUnassigned=True, useLegacyImplementation=False)),
        "qed": QED.qed, "sa_score": sascorer_as_shipped().calculateScore,
        "np_likeness": lambda m: npscorer_as_shipped().scoreMol(m, model),
        "heteroatoms": rdMolDescriptors.CalcNumHeteroatoms,
        "nitrogens": lambda m: count(m, {7}), "oxygens": lambda m: count(m, {8}),
        "halogens": lambda m: count(m, {9, 17, 35, 53}),
        "aromatic_atom_fraction": lambda m: sum(
            1 for a in m.GetAtoms() if a.GetIsAromatic() and a.GetAtomicNum() > 1
        ) / m.GetNumHeavyAtoms(),
        "molar_refractivity": Crippen.MolMR, "bertz_complexity": GraphDescriptors.BertzCT,
        "largest_ring_size": lambda m: max(map(len, m.GetRingInfo().AtomRings()), default=0),
        "amide_bonds": rdMolDescriptors.CalcNumAmideBonds,
        "basic_amines": lambda m: len(m.GetSubstructMatches(amine)),
    }
    try:
        return [float(definitions[name](Chem.MolFromSmiles(smiles.strip())))
                for name in PROPERTY_NAMES]
    except Exception:  # batch_properties marks a molecule a descriptor fails on invalid
        return nan


@pytest.fixture(scope="module")
def smiles():
    bank = pd.read_parquet("assets/model/prior_bank.parquet", columns=["smiles"])
    return bank["smiles"].tolist()[:250] + ODD


@pytest.fixture(scope="module")
def fast(smiles):
    return batch_properties(smiles, n_jobs=1, canonical=True)


def test_fast_path_equals_the_definitions(smiles, fast):
    want = np.array([reference_row(s) for s in smiles])
    got = fast[list(PROPERTY_NAMES)].to_numpy(np.float64)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)
    assert (np.isnan(got) == np.isnan(want)).all()
    assert fast["valid"].sum() > 250   # the odd ones are mostly valid, not all NaN
    for bad in ("C1CC", "not a smiles", "", "C" * (MAX_HEAVY_ATOMS + 1)):
        assert not fast.loc[smiles.index(bad), "valid"]


def test_qed_with_explicit_hydrogens_takes_rdkit_s_own_path():
    # RemoveHs changes this molecule, so QED's inputs are not taken from it
    mol = Chem.AddHs(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"))
    assert qed(mol) == QED.qed(mol)


@pytest.mark.parametrize("names", [
    ("qed",), ("sa_score", "stereocenters", "qed"), ("aromatic_atom_fraction", "halogens"),
    ("rotatable_bonds", "qed", "logp"), tuple(reversed(PROPERTY_NAMES)),
])
def test_a_subset_equals_the_full_row(smiles, fast, names):
    part = batch_properties(smiles, n_jobs=1, canonical=True, names=names)
    assert list(part.columns) == ["smiles", "canonical_smiles", "valid", *names]
    np.testing.assert_array_equal(part[list(names)].to_numpy(), fast[list(names)].to_numpy())
    assert part["canonical_smiles"].tolist() == fast["canonical_smiles"].tolist()


def test_reward_subset_scores_like_the_full_table(smiles, fast):
    reward = load_reward("drug_like")
    part = batch_properties(smiles, n_jobs=1, names=reward.properties)
    np.testing.assert_array_equal(reward.score(part), reward.score(fast))


def test_pool_keeps_order_and_values(smiles, fast):
    pooled = batch_properties(smiles, n_jobs=2, chunk_size=60, canonical=True)
    assert pooled["smiles"].tolist() == smiles
    pd.testing.assert_frame_equal(pooled, fast)


def test_pool_workers_cpu_time_is_counted(smiles):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    batch_properties(smiles, n_jobs=2, chunk_size=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the workers have been waited for, so their CPU time (about 0.5 s here) is counted
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) > 0.1


def _score_in_worker(smiles):
    frame = batch_properties(smiles, n_jobs=2, chunk_size=60, canonical=True)
    return multiprocessing.current_process().daemon, frame


def test_a_daemonic_worker_scores_in_process(smiles, fast):
    # multiprocessing.Pool and Dask workers are daemonic and may not start processes
    with multiprocessing.get_context("fork").Pool(1) as pool:
        daemon, frame = pool.apply(_score_in_worker, (smiles,))
    assert daemon
    pd.testing.assert_frame_equal(frame, fast)


def test_sascorer_s_stereocentres_are_rdkit_s(smiles):
    # sascorer counts Chem.FindMolChiralCenters(m, includeUnassigned=True); the index walk
    # gives RDKit's list itself, atom for atom and label for label, stale flags cleared
    from engine.chem.properties import _find_chiral_centers
    stereo = ["C1CC(C)C(C)C(C)C1", "C1C[C@H](C)C(C)[C@H](C)C1", "C[C@H](F)C(F)(Cl)Br",
              "OC1CCC(O)CC1", "C[C@@H]1O[C@H](CO)[C@@H](O)[C@H]1O", "CC(C)=C(C)C"]
    seen_unassigned = seen_assigned = 0
    for s in smiles + stereo:
        mol = Chem.MolFromSmiles(s.strip()) if s.strip() else None
        if mol is None:
            continue
        ours, theirs = Chem.Mol(mol), Chem.Mol(mol)
        for copy in (ours, theirs):   # a flag left by earlier work is cleared by both
            copy.GetAtomWithIdx(0).SetIntProp("_ChiralityPossible", 1)
        got = _find_chiral_centers(ours, includeUnassigned=True)
        assert got == Chem.FindMolChiralCenters(theirs, includeUnassigned=True), s
        seen_unassigned += sum(label == "?" for _, label in got)
        seen_assigned += sum(label != "?" for _, label in got)
    assert seen_unassigned > 50 and seen_assigned > 5   # both kinds of centre were compared


def test_sascorer_s_stereocentres_follow_rdkit_s_other_settings():
    from engine.chem.properties import _find_chiral_centers
    mol = Chem.MolFromSmiles("C1CC(C)C(C)C(C)C1")
    for kwargs in ({"includeUnassigned": False}, {"includeUnassigned": True,
                                                  "useLegacyImplementation": False}):
        assert _find_chiral_centers(Chem.Mol(mol), **kwargs) == \
            Chem.FindMolChiralCenters(Chem.Mol(mol), **kwargs)
    legacy = Chem.GetUseLegacyStereoPerception()
    Chem.SetUseLegacyStereoPerception(False)   # RDKit's new perception: its own function
    try:
        assert len(_find_chiral_centers(Chem.Mol(mol), includeUnassigned=True)) == 3
    finally:
        Chem.SetUseLegacyStereoPerception(legacy)


def test_the_morgan_fingerprint_is_shared_only_inside_one_molecule_s_row():
    from engine.chem.properties import _SHARED_MORGAN
    sascorer, npscorer, _ = _contrib()
    a, b = Chem.MolFromSmiles("CCOc1ccccc1"), Chem.MolFromSmiles("CCN")
    assert npscorer.rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048) \
        is sascorer.mfpgen is _SHARED_MORGAN
    with _SHARED_MORGAN.once(a):
        first = _SHARED_MORGAN.GetSparseCountFingerprint(a)
        assert _SHARED_MORGAN.GetSparseCountFingerprint(a) is first
        other = _SHARED_MORGAN.GetSparseCountFingerprint(b)   # another molecule: its own
        assert other.GetNonzeroElements() != first.GetNonzeroElements()
    assert _SHARED_MORGAN.GetSparseCountFingerprint(a) is not first   # afresh outside
    # another generator asked of npscorer is a real one, not the shared
    assert npscorer.rdFingerprintGenerator.GetMorganGenerator(radius=3) is not _SHARED_MORGAN


def test_rows_scored_in_threads_at_once_are_the_rows_scored_alone(smiles, fast):
    # the dashboard scores in several threads; each holds its own molecule's fingerprint
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(lambda _: batch_properties(smiles, n_jobs=1, canonical=True),
                               range(4)))
    for frame in frames:
        pd.testing.assert_frame_equal(frame, fast)


def _bertz_cases() -> dict[str, Chem.Mol]:
    """Molecules on which RDKit's BertzCT helpers and ours must agree, the fast path's
    refusals among them ("kekule": aromatic flags on single- and double-typed bonds, a
    Kekulé form that keeps its flags; "zero": a zero-order bond; "dative"), and a triple
    bond in a small ring, cumulenes, several fragments, single atoms."""
    kekule = Chem.MolFromSmiles("c1ccc2[nH]ccc2c1")
    Chem.Kekulize(kekule, clearAromaticFlags=False)   # SINGLE/DOUBLE types, aromatic flags
    zero = Chem.RWMol(Chem.MolFromSmiles("CCO.[Fe]"))
    zero.AddBond(2, 3, Chem.BondType.ZERO)
    odd = {s: Chem.MolFromSmiles(s) for s in (
        "C1#CC1", "C1=C=C1", "CC.O", "[Na+].[Cl-]", "C", "[Cu]", "N#CC#N", "C=C=C=C",
        "c1ccccc1-c1ccccc1", "C1CC2CCC1CC2", "O=S(=O)(O)c1ccccc1")}
    return {"kekule": kekule, "zero": zero.GetMol(),
            "dative": Chem.MolFromSmiles("[NH3]->[Fe+2]<-[NH3]"), **odd}


def test_bertz_complexity_is_rdkit_s_bertz_ct(smiles):
    from engine.chem.properties import bertz_complexity
    molecules = [Chem.MolFromSmiles(s.strip()) for s in smiles if s.strip()]
    molecules = [m for m in molecules if m is not None] + list(_bertz_cases().values())
    for mol in molecules:
        want = GraphDescriptors.BertzCT(Chem.Mol(mol))
        ours = Chem.Mol(mol)
        assert bertz_complexity(ours) == want, Chem.MolToSmiles(mol)
        if mol.GetNumAtoms() > 1:   # the Balaban matrix is left on it, as RDKit leaves it
            theirs = Chem.Mol(mol)
            GraphDescriptors.BertzCT(theirs)
            np.testing.assert_array_equal(ours._balabanMat, theirs._balabanMat)


def test_bertz_helpers_give_rdkit_s_structures_or_defer_to_rdkit(smiles, monkeypatch):
    from engine.chem.properties import _bond_dict_etc, _symmetry_classes
    rdkit_helper = GraphDescriptors._CreateBondDictEtc
    deferred = []
    monkeypatch.setattr(GraphDescriptors, "_CreateBondDictEtc",
                        lambda mol, n: deferred.append(Chem.MolToSmiles(mol))
                        or rdkit_helper(mol, n))
    bank = [Chem.MolFromSmiles(s) for s in smiles[:250]]
    cases = _bertz_cases()
    for mol in bank + list(cases.values()):
        n = mol.GetNumAtoms()
        mol._balabanMat = Chem.GetDistanceMatrix(mol, useBO=True, useAtomWts=False,
                                                 force=True, prefix="Balaban")
        assert _bond_dict_etc(mol, n) == rdkit_helper(mol, n), Chem.MolToSmiles(mol)
        vd = rdkit_helper(mol, n)[2]
        assert _symmetry_classes(mol, vd, mol._balabanMat, 0, n, 100) == \
            GraphDescriptors._AssignSymmetryClasses(mol, vd, mol._balabanMat, 0, n, 100)
    # the bank's molecules take the fast path; each odd bond above makes it defer
    assert sorted(deferred) == sorted(Chem.MolToSmiles(cases[k])
                                      for k in ("kekule", "zero", "dative"))


def test_symmetry_classes_defer_to_rdkit_near_a_rounding_tie():
    # rows that print alike or not to four decimals: ties (x.xxxx5) go to RDKit's formatting
    from engine.chem.properties import _symmetry_classes
    rng = np.random.default_rng(0)
    mol = Chem.MolFromSmiles("CCCCCC")
    for _ in range(200):
        base = rng.integers(0, 4, size=(6, 6)) / 6 + rng.integers(0, 3, size=(6, 6))
        ties = rng.random((6, 6)) < 0.2
        matrix = np.where(ties, np.round(base, 4) + 5e-5 * rng.choice([-1, 1], (6, 6)), base)
        matrix[rng.integers(0, 6)] = matrix[rng.integers(0, 6)]   # at least two rows alike
        assert _symmetry_classes(mol, [0] * 6, matrix, 0, 6, 100) == \
            GraphDescriptors._AssignSymmetryClasses(mol, [0] * 6, matrix, 0, 6, 100)
