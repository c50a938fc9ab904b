"""Structural alerts and sanity flags on hand-checkable molecules."""
import subprocess
import sys
from pathlib import Path

import pandas as pd

from engine.chem import alerts
from engine.chem.properties import to_mol

RHODANINE = "O=C1C(=Cc2ccccc2)SC(=S)N1"       # a textbook PAINS hit (ene_rhod_A)
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
ROOT = Path(__file__).resolve().parents[1]


def flags_of(smiles: str) -> dict:
    return alerts.mol_alerts(to_mol(smiles))


def test_rhodanine_hits_pains_brenk_and_nih_by_name():
    found = flags_of(RHODANINE)
    assert found["alert_pains"] and found["alert_brenk"] and found["alert_nih"]
    assert "PAINS: ene_rhod_A(235)" in found["alerts"]
    assert "Michael_acceptor_1" in found["alerts"] and "NIH: rhodanine" in found["alerts"]


def test_a_clean_drug_raises_no_flag():
    found = flags_of("CN1CCC[C@H]1c1cccnc1")   # (S)-nicotine: one assigned stereocentre
    assert not any(found[c] for c in alerts.FAMILY_COLUMNS)
    assert found["alerts"] == ""


def test_unassigned_stereocentres_are_counted_and_assigned_ones_are_not():
    assert flags_of("CC(N)c1ccccc1")["flag_unassigned_stereo"]
    assert "unassigned stereocentres: 2" in flags_of("CC(N)C(O)c1ccccc1")["alerts"]
    assert not flags_of("C[C@H](N)c1ccccc1")["flag_unassigned_stereo"]


def test_charged_atoms_but_not_a_nitro_group():
    assert flags_of("C[N+](C)(C)Cc1ccccc1")["flag_charged"]
    assert "charged atoms: 1" in flags_of("CC(=O)[O-]")["alerts"]
    assert not flags_of("O=[N+]([O-])c1ccccc1")["flag_charged"]   # neutral group, drawn +/-


def test_long_chain_from_six_acyclic_sp3_carbons():
    assert alerts.LONG_CHAIN_CARBONS == 6
    assert flags_of("CCCCCCc1ccccc1")["flag_long_chain"]      # hexyl
    assert not flags_of("CCCCCc1ccccc1")["flag_long_chain"]   # pentyl
    assert not flags_of("C1CCCCCC1")["flag_long_chain"]       # ring carbons are no chain


def test_rings_larger_than_six_and_macrocycles():
    assert not flags_of("c1ccc2ccccc2c1")["flag_large_ring"]   # naphthalene: two 6-rings
    seven = flags_of("C1CCCCCC1")
    assert seven["flag_large_ring"] and "large ring: 7 atoms" in seven["alerts"]
    assert "macrocycle: 14 atoms" in flags_of("C1CCCCCCCCCCCCC1")["alerts"]


def test_batch_keeps_order_and_marks_invalid_rows_missing():
    frame = alerts.batch_alerts([RHODANINE, "not a smiles", "", ASPIRIN])
    assert list(frame.columns) == list(alerts.COLUMNS)
    assert frame["alert_pains"].tolist()[0] is True
    assert frame.loc[1, alerts.FAMILY_COLUMNS].isna().all() and frame.loc[1, "alerts"] == ""
    assert frame.loc[2, alerts.FAMILY_COLUMNS].isna().all()
    assert not frame.loc[3, "alert_pains"] and frame.loc[3, "alerts"].startswith(
        "Brenk: phenol_ester; ChEMBL Dundee: phenol ester")


def test_with_alerts_replaces_old_columns_and_keeps_the_index():
    frame = pd.DataFrame({"smiles": [ASPIRIN, RHODANINE], "alerts": ["stale", "stale"]},
                         index=[7, 3])
    out = alerts.with_alerts(frame)
    assert list(out.index) == [7, 3] and list(out.columns) == ["smiles", *alerts.COLUMNS]
    assert out.loc[3, "alerts"].startswith("PAINS") and "stale" not in set(out["alerts"])


def test_with_checks_adds_the_alerts_and_the_scaffold_of_the_given_smiles():
    """The one table of checks the dashboard (runs, own molecules) and the CLI add."""
    frame = pd.DataFrame({"smiles": [ASPIRIN, "CCO", "nope"], "scaffold": ["stale"] * 3},
                         index=[4, 5, 6])
    out = alerts.with_checks(frame)
    assert list(out.columns) == ["smiles", *alerts.CHECK_COLUMNS]
    assert list(alerts.CHECK_COLUMNS) == [*alerts.COLUMNS, "scaffold"]
    assert list(out.index) == [4, 5, 6]
    assert out["scaffold"].tolist()[:2] == ["c1ccccc1", ""]      # acyclic: ""
    assert pd.isna(out.loc[6, "scaffold"])                           # invalid: missing
    assert out.loc[6, list(alerts.FAMILY_COLUMNS)].isna().all()
    fragment = alerts.with_checks(frame[["smiles"]].assign(smiles="CCO.c1ccccc1"),
                                  smiles=["c1ccccc1"] * 3)    # what was scored, not the given
    assert set(fragment["scaffold"]) == {"c1ccccc1"}
    assert (fragment["smiles"] == "CCO.c1ccccc1").all()


def test_rates_are_over_valid_molecules_only():
    frame = alerts.with_alerts(pd.DataFrame({"smiles": [RHODANINE, ASPIRIN, "C1CCCCCC1",
                                                        "xx"]}))
    rates = alerts.alert_rates(frame)
    assert rates["alert_pains"] == 1 / 3 and rates["flag_large_ring"] == 1 / 3
    assert rates["alert_brenk"] == 2 / 3            # rhodanine, and aspirin's phenol ester
    assert rates["any_alert"] == 2 / 3 and rates["any_flag"] == 1.0
    assert alerts.flagged(frame).tolist()[3] is False   # invalid: nothing to flag
    empty = alerts.alert_rates(alerts.with_alerts(pd.DataFrame({"smiles": ["xx"]})))
    assert empty["any_alert"] is None and empty["alert_pains"] is None


def test_cli_score_writes_the_alert_columns_and_rates(tmp_path, capsys):
    from engine.cli import main  # noqa: PLC0415

    src = tmp_path / "mols.csv"
    pd.DataFrame({"smiles": [RHODANINE, "CN1CCC[C@H]1c1cccnc1", "nope"]}).to_csv(src,
                                                                                  index=False)
    out = tmp_path / "scored.csv"
    assert main(["score", "--reward", "cns_penetrant", "--in", str(src), "--out", str(out),
                 "--jobs", "1"]) == 0
    scored = pd.read_csv(out, keep_default_na=False)
    assert list(scored.columns[-len(alerts.COLUMNS) - 1:]) == [*alerts.COLUMNS, "scaffold"]
    assert scored["alert_pains"].tolist() == ["True", "False", ""]
    assert scored["alerts"][0].startswith("PAINS: ene_rhod_A")
    assert "PAINS/Brenk/NIH alert 50.0%" in capsys.readouterr().out


def test_nibr_counts_flags_and_exclusions_but_not_annotations():
    acid_chloride = flags_of("CC(=O)Cl")
    assert acid_chloride["alert_nibr"]
    assert "NIBR: carboxyclic_acid_halides (exclude)" in acid_chloride["alerts"]
    assert "NIBR: 1_1_di_cyano (flag)" in flags_of("N#CC(C#N)Cc1ccccc1")["alerts"]
    benzaldehyde = flags_of("O=Cc1ccccc1")     # NIBR annotates aromatic aldehydes only
    assert not benzaldehyde["alert_nibr"] and "NIBR" not in benzaldehyde["alerts"]
    assert alerts.nibr_catalog().GetNumEntries() == 337   # of 444: 107 are annotations


def test_nibr_minimum_counts():
    one = flags_of("FC(F)(F)c1ccccc1")
    three = flags_of("FC(F)(F)c1cc(C(F)(F)F)cc(C(F)(F)F)c1")
    assert "CF2_CF3" not in one["alerts"]
    assert "NIBR: CF2_CF3_count_3 (flag)" in three["alerts"]
    assert "CF2_CF3_count_5" not in three["alerts"]


def test_chembl_sets_are_families_of_their_own_outside_any_alert():
    ester = alerts.with_alerts(pd.DataFrame({"smiles": ["CCOC(=O)c1ccccc1"]}))
    assert ester.loc[0, "alerts"] == "ChEMBL MLSMR: Ester"
    assert ester.loc[0, "alert_mlsmr"] and not ester.loc[0, "alert_glaxo"]
    rates = alerts.alert_rates(ester)
    assert rates["alert_mlsmr"] == 1.0 and rates["any_alert"] == 0.0   # PAINS/Brenk/NIH
    assert rates["any_flag"] == 1.0
    names = {c: alerts.FAMILY_LABELS[c] for c in alerts.ALERT_COLUMNS}
    assert names["alert_glaxo"] == "ChEMBL Glaxo" and names["alert_nibr"] == "NIBR"
    assert set(alerts.FAMILY_SHORT) == set(alerts.FAMILY_LABELS) == set(alerts.FAMILY_COLUMNS)


def test_a_molecule_over_the_heavy_atom_bound_is_invalid_and_quick():
    huge = "C" * 8000                         # matching took seconds; a scaffold, minutes
    frame = alerts.batch_alerts([huge, "CCO"])
    assert frame.loc[0, list(alerts.FAMILY_COLUMNS)].isna().all() and frame["alerts"][0] == ""
    assert alerts.alert_rates(frame)["flag_long_chain"] == 0.0    # over CCO alone


def test_cli_score_of_an_8000_atom_smiles_finishes_at_once(tmp_path):
    """Every per-molecule column of `score` (properties, alerts, scaffold, similarity,
    clusters, picks) treats molecules over the bound as invalid: the whole command takes
    seconds (over 5 minutes before), run in a process of its own so it cannot hang here."""
    src, out = tmp_path / "big.csv", tmp_path / "scored.csv"
    src.write_text(f"smiles\n{'C' * 8000}\nCCO\n{'c1ccccc1' * 1000}\n")
    subprocess.run([sys.executable, "-m", "engine", "score", "--reward", "drug_like", "--in",
                    str(src), "--out", str(out), "--reference", "CCO", "--cluster", "0.6",
                    "--pick", "2"], check=True, timeout=120, cwd=ROOT, capture_output=True)
    scored = pd.read_csv(out)
    assert scored["valid"].tolist() == [False, True, False]
    assert scored["invalid_reason"][0] == "8000 heavy atoms, more than 150"
    for column in ("scaffold", "alerts", "alert_pains", "similarity", "cluster", "diverse_pick"):
        assert scored[column][[0, 2]].isna().all(), column
