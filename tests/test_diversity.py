"""Distribution metrics on hand-checkable sets, and the quality benchmark's distribution
section end to end on the tiny model (MOSES replaced by the fixture SMILES)."""
import json
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.bench import quality
from engine.chem.diversity import (
    SimilarityError,
    butina_clusters,
    fcd_statistics,
    frechet_chemnet_distance,
    internal_diversity,
    murcko_scaffold,
    pick_diverse,
    reference_similarity,
    scaffold_diversity,
    scaffold_table,
    unique_scaffolds,
)
from engine.sampling.methods import DEFAULT_TOP_P, DEFAULT_YS
from tests.conftest import FIXTURE_CSV

DRUGS = pd.read_csv(FIXTURE_CSV)["smiles"].tolist()[:64]
# small acyclic molecules: far from the drug-like fixture in ChemNet's space
ACYCLIC = ["C" * k + tail for k in range(1, 9) for tail in ("", "O", "N", "Cl", "C=O", "C#N",
                                                           "OC", "S")]


def test_identical_molecules_have_no_internal_diversity():
    assert internal_diversity(["CCO", "OCC", "C(O)C"]) == pytest.approx(0.0)


def test_internal_diversity_of_ethane_and_propane():
    # Morgan r=2 environments: ethane {CH3, CH3-CH3}; propane {CH3, CH2, CH3-CH2,
    # CH2(-CH3)2}; they share CH3 only, so Tanimoto = 1 / 5
    assert internal_diversity(["CC", "CCC"]) == pytest.approx(0.8)
    # methane and water share no bit: pairs (C, C) = 1, (C, O) = 0 twice
    assert internal_diversity(["C", "C", "O"]) == pytest.approx(2 / 3)


def test_internal_diversity_leaves_out_invalid_and_needs_two_molecules():
    assert internal_diversity(["CC", "not a smiles", "CCC", ""]) == pytest.approx(0.8)
    assert internal_diversity(["CC", "C1CC"]) is None
    assert internal_diversity([]) is None


def test_internal_diversity_on_a_capped_subset():
    full = internal_diversity(DRUGS)
    capped = internal_diversity(DRUGS, max_molecules=40)
    assert 0.5 < full < 1 and capped != full and capped == pytest.approx(full, abs=0.05)
    assert internal_diversity(["C", "C", "O"], max_molecules=2) in (0.0, 1.0)


def test_scaffolds_of_benzene_cyclohexane_and_an_acyclic_molecule():
    assert murcko_scaffold("Cc1ccccc1") == "c1ccccc1"
    assert murcko_scaffold("OC1CCCCC1") == "C1CCCCC1"
    assert murcko_scaffold("CCO") == ""
    assert murcko_scaffold("C1CC") is None
    # two scaffolds among three valid molecules: the acyclic one has none
    assert scaffold_diversity(["c1ccccc1", "C1CCCCC1", "CCO", "oops"]) == pytest.approx(2 / 3)
    assert scaffold_diversity(["Cc1ccccc1", "Oc1ccccc1", "c1ccccc1"]) == pytest.approx(1 / 3)
    assert scaffold_diversity(["CCO", "CCN"]) == 0.0
    assert scaffold_diversity(["nope"]) is None


def test_similarity_to_references_names_the_nearest():
    # ethane and propane share the CH3 environment only: Tanimoto 1 / 5 (see above)
    table = reference_similarity(["CCC", "O", "nope", "N"], ["CC", " O "])
    assert table["similarity"][0] == pytest.approx(0.2) and table["nearest_reference"][0] == "CC"
    assert table["similarity"][1] == 1.0 and table["nearest_reference"][1] == "O"
    assert np.isnan(table["similarity"][2]) and pd.isna(table["nearest_reference"][2])
    assert table["similarity"][3] == 0.0 and table["nearest_reference"][3] == "CC"  # first tie


@pytest.mark.parametrize("references, message", [
    ([], "no reference molecule"), (["  ", ""], "no reference molecule"),
    (["CC", "C1CC"], "cannot parse: C1CC"),
])
def test_unusable_references_are_refused_with_the_reason(references, message):
    with pytest.raises(SimilarityError, match=message):
        reference_similarity(["CC"], references)


def test_scaffold_table_counts_members_and_mean_reward():
    frame = pd.DataFrame({"smiles": ["Cc1ccccc1", "Oc1ccccc1", "OC1CCCCC1", "CCO", "Cc1ccccc1",
                                     "xx"],
                          "valid": [True, True, True, True, True, False],
                          "reward": [0.9, 0.5, 0.8, 0.1, 0.9, 0.0]})
    table = scaffold_table(frame)
    assert table["scaffold"].tolist() == ["c1ccccc1", "C1CCCCC1", ""]
    assert table["molecules"].tolist() == [2, 1, 1]        # the duplicate toluene once
    assert table["mean_reward"].tolist() == pytest.approx([0.7, 0.8, 0.1])
    assert table["best_reward"].tolist() == pytest.approx([0.9, 0.8, 0.1])
    assert unique_scaffolds(frame["smiles"]) == 2
    assert unique_scaffolds(frame["smiles"], frame["reward"], min_reward=0.8) == 2
    assert unique_scaffolds(frame["smiles"], frame["reward"], min_reward=0.85) == 1


def test_butina_puts_near_duplicates_together():
    smiles = ["CCCCCCO", "CCCCCCCO", "c1ccc2ccccc2c1", "Cc1ccc2ccccc2c1", "oops", "N#N"]
    clusters = butina_clusters(smiles, distance=0.7)
    assert clusters[0] == clusters[1] and clusters[2] == clusters[3]
    assert clusters[0] != clusters[2] and clusters[4] is None
    assert clusters[5] == 2                            # a singleton, after the two pairs
    # hexanol and heptanol have the same radius-2 environments: one cluster even at 0
    zero = butina_clusters(smiles, distance=0.0)
    assert zero[0] == zero[1] and len(set(zero[:4])) == 3
    with pytest.raises(SimilarityError, match="from 0 to 1"):
        butina_clusters(smiles, distance=1.5)


def test_maxmin_picks_one_of_each_family_and_extends_a_selection():
    smiles = ["CCCCCCO", "CCCCCCCO", "c1ccc2ccccc2c1", "Cc1ccc2ccccc2c1", "bad", "O=C=O"]
    picked = pick_diverse(smiles, 3, seed=1)
    families = [{0, 1}, {2, 3}, {5}]
    assert len(picked) == 3 and all(len(f & set(picked)) == 1 for f in families)
    assert pick_diverse(smiles, 3, seed=1) == picked                  # repeatable
    more = pick_diverse(smiles, 2, already=[0], seed=1)
    assert 0 not in more and {2, 3} & set(more) and 5 in more
    assert len(pick_diverse(smiles, 50)) == 5 and pick_diverse(smiles, 0) == []
    assert 4 not in pick_diverse(smiles, 50)


def test_chemnet_loads_from_the_wheel_without_network_or_full_unpickling(monkeypatch):
    import fcd_torch
    import torch

    from engine.chem import diversity

    weights = Path(fcd_torch.__file__).parent / "ChemNet_v0.13_pretrained.pt"
    layers = torch.load(weights, weights_only=True)   # the restricted unpickler suffices
    assert [kind for kind, _ in layers] == ["Conv1d", "Conv1d", "LSTM", "LSTM"]

    def no_network(*args, **kwargs):
        raise AssertionError("ChemNet tried to reach the network")

    real_load, loads = torch.load, []
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(torch, "load", lambda f, **kw: loads.append((Path(f), kw))
                        or real_load(f, **kw))
    diversity._chemnet.cache_clear()
    assert fcd_statistics(["CCO", "c1ccccc1", "CCN"])["mu"].shape == (512,)
    assert loads == [(weights, {})]   # the wheel's file, under torch's default weights_only=True
    diversity._chemnet.cache_clear()


@pytest.fixture(scope="module")
def drug_stats():
    return fcd_statistics(DRUGS)


def test_fcd_of_a_set_to_itself_is_zero_and_to_another_set_is_large(drug_stats):
    assert drug_stats["mu"].shape == (512,) and drug_stats["sigma"].shape == (512, 512)
    assert int(drug_stats["n"]) == 64
    assert frechet_chemnet_distance(drug_stats, drug_stats) == pytest.approx(0, abs=1e-3)
    assert frechet_chemnet_distance(fcd_statistics(ACYCLIC), drug_stats) > 20


def test_fcd_is_none_without_two_valid_molecules(drug_stats):
    assert fcd_statistics(["CCO", "bad"]) is None
    assert frechet_chemnet_distance(None, drug_stats) is None


def test_distribution_metrics_of_a_sample_table(drug_stats):
    frame = pd.DataFrame({"smiles": ["CC", "CCC", "CC", "xx"], "valid": [True, True, True, False]})
    got = quality.distribution_metrics(frame, {"CC"}, drug_stats)
    assert got["validity"] == 0.75 and got["unique_k"] == 3
    assert got["unique"] == pytest.approx(2 / 3) and got["novelty"] == 0.5
    assert got["intdiv1"] == pytest.approx((0.8 + 0 + 0.8) / 3)   # pairs 0-1, 0-2, 1-2
    assert got["scaffold_diversity"] == 0.0 and got["fcd_test"] > 0


@pytest.fixture
def no_moses(monkeypatch, tmp_path):
    """The benchmark's MOSES inputs from the fixture: train = its first 32 molecules."""
    monkeypatch.setattr(quality, "read_moses", lambda split, cache_dir: DRUGS)
    monkeypatch.setattr(quality, "moses_train_canonical", lambda cache_dir: set(DRUGS[:32]))
    return tmp_path / "cache"


def test_fcd_reference_is_computed_once_and_cached_as_npz(no_moses, monkeypatch):
    no_moses.mkdir()
    monkeypatch.setattr(quality, "read_moses", lambda split, cache_dir: DRUGS[:20])
    first = quality.moses_test_fcd_reference(no_moses)
    subset = quality.moses_test_fcd_reference(no_moses, n=8)
    assert sorted(p.name for p in no_moses.iterdir()) == ["moses_test_fcd_stats.npz",
                                                          "moses_test_fcd_stats_8.npz"]
    monkeypatch.setattr(quality, "fcd_statistics", lambda *a: pytest.fail("recomputed"))
    again = quality.moses_test_fcd_reference(no_moses)
    assert np.array_equal(first["sigma"], again["sigma"]) and int(again["n"]) == 20
    assert int(quality.moses_test_fcd_reference(no_moses, n=8)["n"]) == int(subset["n"]) == 8


def test_quality_benchmark_writes_the_distribution_section(tiny_checkpoint, no_moses,
                                                          drug_stats, tmp_path, monkeypatch,
                                                          capsys):
    monkeypatch.setattr(quality, "moses_test_fcd_reference", lambda *a: drug_stats)
    ckpt = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, ckpt)
    argv = ["--checkpoint", str(ckpt), "--device", "cpu", "--cache-dir", str(no_moses),
            "--n", "12", "--rcfg-n", "6", "--skip-unconditional", "--skip-fidelity"]
    assert quality.main(argv) == 0
    recorded = json.loads((ckpt / "config.json").read_text())["quality"]
    dist = recorded["distribution"]
    assert set(dist) == {"base_top_p_1", "base", "rcfg"}
    assert dist["base_top_p_1"]["n"] == 12 and dist["base_top_p_1"]["top_p"] == 1.0
    assert dist["rcfg"]["n"] == 6 and dist["rcfg"]["method"] == "rcfg"
    assert dist["rcfg"]["ys"] == DEFAULT_YS and dist["base"]["top_p"] == DEFAULT_TOP_P
    assert dist["rcfg"]["reward"] == "drug_like" and dist["rcfg"]["grammar"] is True
    assert dist["rcfg"]["fcd_reference_n"] == 64
    assert {"validity", "unique", "novelty", "intdiv1", "scaffold_diversity",
            "fcd_test"} <= set(dist["rcfg"])
    assert "fidelity" not in recorded
    assert '"distribution"' in capsys.readouterr().out
    # a later run of one part keeps what the others recorded
    assert quality.main([*argv[:8], "--skip-distribution", "--n-targets", "5"]) == 0
    recorded = json.loads((ckpt / "config.json").read_text())["quality"]
    assert recorded["distribution"] == dist and recorded["fidelity"]["n_targets"] <= 5


def test_cli_score_adds_scaffold_similarity_clusters_and_picks(tmp_path):
    from engine.cli import main  # noqa: PLC0415

    src, refs, out = tmp_path / "mols.csv", tmp_path / "leads.smi", tmp_path / "scored.csv"
    pd.DataFrame({"smiles": ["CCCCCCO", "CCCCCCCO", "c1ccc2ccccc2c1", "Cc1ccc2ccccc2c1",
                             "bad"]}).to_csv(src, index=False)
    refs.write_text("Cc1ccc2ccccc2c1 methylnaphthalene\n")
    assert main(["score", "--reward", "cns_penetrant", "--in", str(src), "--out", str(out),
                 "--jobs", "1", "--reference", str(refs), "--reference", "CCO",
                 "--cluster", "0.7", "--pick", "2"]) == 0
    scored = pd.read_csv(out)
    assert list(scored.columns[-5:]) == ["scaffold", "similarity", "nearest_reference",
                                         "cluster", "diverse_pick"]
    assert scored["scaffold"].tolist()[2:4] == ["c1ccc2ccccc2c1"] * 2
    assert scored["similarity"][3] == 1.0
    assert scored["nearest_reference"][3] == "Cc1ccc2ccccc2c1"
    assert scored["cluster"][0] == scored["cluster"][1] != scored["cluster"][2]
    assert pd.isna(scored["cluster"][4]) and sorted(scored["diverse_pick"].dropna()) == [1, 2]


def test_cli_score_refuses_a_bad_reference(tmp_path, capsys):
    from engine.cli import main  # noqa: PLC0415

    src = tmp_path / "mols.csv"
    src.write_text("smiles\nCCO\n")
    assert main(["score", "--reward", "cns_penetrant", "--in", str(src), "--out",
                 str(tmp_path / "o.csv"), "--reference", "C1CC"]) == 2
    assert "cannot parse: C1CC" in capsys.readouterr().err


def test_molecules_over_the_heavy_atom_bound_are_invalid_here_and_quick():
    """An 8,000-atom chain: its Murcko scaffold alone took minutes; every per-molecule view
    treats it as invalid, as scoring does, and answers at once."""
    huge = "C" * 8000
    smiles = [huge, "CCO", "c1ccccc1O"]
    start = time.perf_counter()
    assert murcko_scaffold(huge) is None
    assert scaffold_diversity(smiles) == 0.5
    near = reference_similarity(smiles, ["CCO"])
    assert np.isnan(near["similarity"][0]) and near["similarity"][1] == 1.0
    assert butina_clusters(smiles)[0] is None
    assert 0 not in pick_diverse(smiles, 3)
    assert internal_diversity(smiles) is not None
    assert time.perf_counter() - start < 5
    with pytest.raises(SimilarityError, match="more heavy atoms than the 150 allowed"):
        reference_similarity(["CCO"], [huge])
