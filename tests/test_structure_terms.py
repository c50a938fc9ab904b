"""Structure terms in rewards (engine/chem/structure_terms.py): similarity to references,
required and forbidden substructures, alert penalties; checked on molecules whose answer is
known by hand, through reward files, scoring, candidate selection and the CLI."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.chem.rewards import Reward, RewardError, Term
from engine.chem.scoring import rescore, score_candidates, score_molecules
from engine.chem.structure_terms import StructureTerm, structure_values

ROOT = Path(__file__).resolve().parents[1]
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
PHENACETIN = "CCOc1ccc(NC(C)=O)cc1"          # the ethyl ether of paracetamol
RHODANINE = "S=C1SC(=Cc2ccccc2)C(=O)N1"      # 5-benzylidene rhodanine: PAINS ene_rhod
NITROBENZENE = "O=[N+]([O-])c1ccccc1"
BENZENE = "c1ccccc1"

LEAD_TOML = f'''
name = "paracetamol analogues"
aggregate = "mean"

[[terms]]
property = "tpsa"
goal = "range"
low = 40.0
high = 90.0
ramp = 20.0

[[terms]]
structure = "similarity"
references = ["{PARACETAMOL}"]
goal = "maximize"
low = 0.2
high = 0.6
weight = 1.0

[[terms]]
structure = "substructure"
smarts = "[N+](=O)[O-]"
goal = "forbid"
'''


def similarity(goal="maximize", low=0.2, high=0.6, **kw) -> StructureTerm:
    return StructureTerm("similarity", goal=goal, low=low, high=high,
                         references=(PARACETAMOL,), **kw)


def test_tanimoto_of_a_drug_and_its_close_analogue():
    # paracetamol and phenacetin share 8 of the 15 Morgan radius-2 bits set in either
    table = structure_values([PARACETAMOL, PHENACETIN, BENZENE], [similarity()])
    assert table["similarity"].tolist()[:2] == [1.0, pytest.approx(8 / 15)]
    assert table["similarity"][2] < 0.1
    assert table["nearest_reference"].tolist() == [PARACETAMOL] * 3


def test_largest_similarity_over_several_references_names_the_nearest():
    term = StructureTerm("similarity", goal="maximize", low=0.2, high=0.6,
                         references=(BENZENE, PHENACETIN))
    table = structure_values([PARACETAMOL, "Cc1ccccc1"], [term])
    assert table["similarity"][0] == pytest.approx(8 / 15)
    assert table["nearest_reference"].tolist() == [PHENACETIN, BENZENE]


def test_similarity_window_keeps_analogues_and_drops_copies():
    term = similarity(goal="range", low=0.4, high=0.8, ramp=0.1)
    d = term.desirability(np.array([1.0, 8 / 15, 0.35, 0.25, np.nan]))
    assert d[:4].tolist() == [0.0, 1.0, pytest.approx(0.5), 0.0]
    assert math.isnan(d[4])


def test_pains_rhodanine_is_penalized_and_a_drug_is_not():
    term = StructureTerm("alerts", families=("PAINS",))
    table = structure_values([RHODANINE, PARACETAMOL, "not a molecule"], [term])
    assert table["n_alerts"][0] >= 1 and table["n_alerts"][1] == 0
    assert math.isnan(table["n_alerts"][2])
    assert term.desirability(table["n_alerts"])[:2].tolist() == [0.0, 1.0]


def test_a_forbidden_group_zeroes_the_reward_and_a_required_one_keeps_it():
    reward = Reward.from_toml(LEAD_TOML)
    scored = score_molecules([PARACETAMOL, "O=[N+]([O-])c1ccc(O)cc1", "xx"], reward)
    assert scored["reward"].tolist() == [1.0, 0.0, 0.0]
    assert scored["substructure"].tolist()[:2] == [0.0, 1.0]   # raw: the nitro matched
    assert scored["d_substructure"].tolist()[:2] == [1.0, 0.0]
    require = StructureTerm("substructure", goal="require", smarts=("c1ccccc1", "[OX2H]"),
                            match="all")
    either = StructureTerm("substructure", goal="require", smarts=("[OX2H]", "[N+](=O)[O-]"),
                           match="any", name="either")
    table = structure_values([PARACETAMOL, BENZENE, NITROBENZENE], [require, either])
    assert table["substructure"].tolist() == [1.0, 0.0, 0.0]
    assert table["either"].tolist() == [1.0, 0.0, 1.0]


def test_weighted_structure_terms_join_the_aggregate_and_filters_multiply_it():
    tpsa = Term("tpsa", "maximize", 0.0, 100.0, weight=1.0)
    alerts = StructureTerm("alerts", families=("pains",), mode="term", weight=3.0)
    frame = score_molecules([RHODANINE, PARACETAMOL], None)
    mean = Reward("r", (tpsa,), structures=(alerts,)).evaluate(frame)
    d_tpsa = (frame["tpsa"] / 100).clip(0, 1).to_numpy()
    assert mean["reward"].to_numpy() == pytest.approx((d_tpsa + 3 * np.array([0, 1])) / 4)
    geometric = Reward("r", (tpsa,), aggregate="geometric",
                       structures=(alerts,)).evaluate(frame)
    assert geometric["reward"].tolist() == [0.0, pytest.approx(d_tpsa[1] ** 0.25)]
    filtered = Reward("r", (tpsa,), structures=(StructureTerm("alerts", families=("pains",)),))
    assert filtered.score(frame).tolist() == [0.0, pytest.approx(d_tpsa[1])]
    only_filter = Reward("r", (), structures=(StructureTerm("alerts", families=("pains",)),))
    assert only_filter.score(frame).tolist() == [0.0, 1.0]


def test_reward_file_round_trips_structure_terms(tmp_path):
    reward = Reward.from_toml(LEAD_TOML)
    assert [t.structure for t in reward.structures] == ["similarity", "substructure"]
    assert Reward.from_toml(reward.to_toml()) == reward
    path = reward.save(tmp_path / "lead.toml")
    assert Reward.from_file(path) == reward


@pytest.mark.parametrize("name,text", [
    ("leads.smi", f"{PARACETAMOL} paracetamol\n{PHENACETIN} phenacetin\n"),
    ("leads.csv", f"name,smiles\nparacetamol,{PARACETAMOL}\nphenacetin,{PHENACETIN}\n"),
])
def test_references_from_a_file_next_to_the_reward(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    toml = LEAD_TOML.replace(f'references = ["{PARACETAMOL}"]', f'references_file = "{name}"')
    reward = Reward.from_file((tmp_path / "r.toml").write_text(toml) and tmp_path / "r.toml")
    assert len(reward.structures[0].references) == 2
    # the download is self-contained: references written inline, same reward read back
    assert "references = [" in reward.to_toml()
    assert Reward.from_toml(reward.to_toml()) == reward


def test_references_from_an_sdf_file(tmp_path):
    from rdkit import Chem
    writer = Chem.SDWriter(str(tmp_path / "leads.sdf"))
    for smi in (PARACETAMOL, PHENACETIN):
        writer.write(Chem.MolFromSmiles(smi))
    writer.close()
    toml = LEAD_TOML.replace(f'references = ["{PARACETAMOL}"]', 'references_file = "leads.sdf"')
    (tmp_path / "r.toml").write_text(toml)
    assert len(Reward.from_file(tmp_path / "r.toml").structures[0].references) == 2


@pytest.mark.parametrize("change,message", [
    (('smarts = "[N+](=O)[O-]"', 'smarts = "[N+](=O"'), "term 3: substructure: '[N+](=O'"),
    ((f'references = ["{PARACETAMOL}"]', 'references = []'), "term 2: similarity: the "
     "reference set is empty"),
    ((f'references = ["{PARACETAMOL}"]', 'references = ["C1CC"]'), "term 2: similarity: "
     "reference SMILES that RDKit cannot parse: C1CC"),
    ((f'references = ["{PARACETAMOL}"]', 'references_file = "missing.smi"'),
     "term 2: similarity: references_file missing.smi: no such file"),
    (("high = 0.6", "high = 1.5"), "term 2: similarity: high = 1.5 is outside [0, 1]"),
    (("low = 0.2", "low = -0.1"), "term 2: similarity: low = -0.1 is outside [0, 1]"),
    (('goal = "forbid"', 'goal = "avoid"'), "term 3: substructure: goal 'avoid' is not "
     "allowed"),
    (('goal = "forbid"', 'goal = "forbid"\nweight = 2.0'), "weight is only used with mode"),
])
def test_bad_structure_terms_get_one_line_errors_naming_the_term(tmp_path, change, message):
    (tmp_path / "r.toml").write_text(LEAD_TOML.replace(*change))
    with pytest.raises(RewardError) as info:
        Reward.from_file(tmp_path / "r.toml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unreadable_reference_file_and_unknown_family_are_named(tmp_path):
    (tmp_path / "leads.smi").write_text(f"{PARACETAMOL}\nC1CC broken\n")
    with pytest.raises(RewardError, match="similarity: references_file leads.smi: 1 record"):
        StructureTerm.from_dict({"structure": "similarity", "goal": "maximize", "low": 0.2,
                                 "high": 0.6, "references_file": "leads.smi"}, tmp_path)
    with pytest.raises(RewardError, match="unknown alert family 'pan'; allowed: pains"):
        StructureTerm("alerts", families=("pan",))
    with pytest.raises(RewardError, match="two structure terms write the column 'similarity'"):
        Reward("r", (), structures=(similarity(), similarity()))


def test_guidance_steers_by_property_terms_only():
    reward = Reward.from_toml(LEAD_TOML)
    assert reward.steering.structures == () and reward.steering.properties == ("tpsa",)
    assert [role for role, _ in reward.describe_terms()] == ["steers", "selects", "filters"]
    assert Reward("r", (), structures=(similarity(),)).steering is None
    with pytest.raises(RewardError, match="scores molecules, not property vectors"):
        reward.score(np.zeros((2, 25)))


def test_candidates_are_ranked_by_the_structure_terms_too():
    reward = Reward.from_toml(LEAD_TOML)
    smiles = [PARACETAMOL, PHENACETIN, "O=[N+]([O-])c1ccc(O)cc1", BENZENE, "xx"]
    fast = score_candidates(smiles, reward)
    full = score_molecules(smiles, reward)
    assert fast["reward"].to_numpy() == pytest.approx(full["reward"].to_numpy(), abs=0)
    # a structure-only reward still knows which candidates are invalid
    only = score_candidates(smiles, Reward("r", (), structures=(similarity(),)))
    assert only["valid"].tolist() == [True, True, True, True, False]


def test_rescore_replaces_structure_columns_for_new_references():
    first = score_molecules([PARACETAMOL, BENZENE], Reward.from_toml(LEAD_TOML))
    other = Reward.from_toml(LEAD_TOML.replace(PARACETAMOL, BENZENE))
    again = rescore(first, other)
    assert again["similarity"].tolist() == [pytest.approx(first["similarity"][1]), 1.0]
    assert again["nearest_reference"].tolist() == [BENZENE, BENZENE]
    assert list(again.columns).count("similarity") == 1


@pytest.mark.skipif(not (ROOT / "assets" / "model" / "model.safetensors").exists(),
                    reason="needs the shipped model")
def test_sampling_with_a_structure_reward_keeps_the_best_candidate():
    from engine.model.checkpoint import load_checkpoint
    from engine.sampling.sampler import SampleSettings, bank_rewards, reward_ceiling, sample

    ckpt = load_checkpoint()
    reward = Reward.from_toml(LEAD_TOML)
    result = sample(ckpt, reward, SampleSettings(n=12, candidates=4, seed=1))
    frame, cands = result.molecules, result.candidates
    for column in ("similarity", "nearest_reference", "d_similarity", "d_substructure"):
        assert column in frame
    groups = cands["reward"].to_numpy().reshape(12, 4)
    valid = cands["valid"].to_numpy().reshape(12, 4)
    best = np.where(valid, groups, 0.0).max(axis=1)
    assert frame["reward"].mean() > cands["reward"].mean()
    # a kept molecule is never better than its group's best, and the first group (nothing
    # kept before it) keeps exactly its best
    assert (frame["reward"].to_numpy() <= best + 1e-12).all()
    assert frame["reward"][0] == pytest.approx(max(best[0], 0.0))
    assert frame["reward"].to_numpy() == pytest.approx(
        rescore(frame, reward)["reward"].to_numpy())
    steer = bank_rewards(ckpt, reward)
    assert steer == pytest.approx(reward.steering.score(ckpt.bank_values()))
    assert reward_ceiling(ckpt, reward) == pytest.approx(float(reward.score(ckpt.bank).max()))
    only = Reward("r", (), structures=(similarity(),))
    assert (bank_rewards(ckpt, only) == 1).all()


def test_cli_score_writes_structure_columns(tmp_path, capsys):
    from engine.cli import main

    (tmp_path / "lead.toml").write_text(LEAD_TOML)
    pd.DataFrame({"smiles": [PARACETAMOL, PHENACETIN, NITROBENZENE]}).to_csv(
        tmp_path / "in.csv", index=False)
    assert main(["score", "--in", str(tmp_path / "in.csv"), "--reward",
                 str(tmp_path / "lead.toml"), "--out", str(tmp_path / "out.csv")]) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["similarity"].tolist()[:2] == [1.0, pytest.approx(8 / 15, abs=1e-4)]  # 4 d.p.
    assert out["d_substructure"].tolist() == [1.0, 1.0, 0.0]
    assert out["reward"][2] == 0.0
    assert main(["score", "--in", str(tmp_path / "in.csv"), "--reward",
                 str(tmp_path / "lead.toml"), "--out", str(tmp_path / "o2.csv"),
                 "--reference", BENZENE]) == 2
    assert "which the reward's similarity term already writes" in capsys.readouterr().err


@pytest.mark.skipif(not (ROOT / "assets" / "model" / "model.safetensors").exists(),
                    reason="needs the shipped model")
def test_cli_analogues_of_a_lead(tmp_path, capsys):
    from engine.cli import main
    from engine.sampling import methods as M

    out = tmp_path / "analogues.csv"
    assert main(["sample", "--reward", "drug_like", "--analogues-of", PARACETAMOL, "--n", "8",
                 "--candidates", "4", "--no-reference", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert set(frame["method"]) == {M.ANALOGUE_METHOD} and set(frame["candidates"]) == {4}
    assert set(frame["nearest_reference"]) == {PARACETAMOL}
    d = ((frame["similarity"] - 0.4).clip(upper=0) + (0.8 - frame["similarity"]).clip(upper=0))
    assert frame["d_similarity"].to_numpy() == pytest.approx((1 + d / 0.1).clip(0, 1), abs=1e-3)
    err = capsys.readouterr().err
    assert "selects: similarity: Tanimoto to CC(=O)Nc1ccc(O)cc1 in 0.4-0.8" in err


def test_analogues_of_a_lead_keeps_property_terms_and_replaces_the_window():
    base = Reward.from_toml(LEAD_TOML)
    made = base.analogues_of(PHENACETIN)
    assert made.terms == base.terms and made.name == f"Analogues of {PHENACETIN}"
    window = [t for t in made.structures if t.structure == "similarity"]
    assert len(window) == 1 and window[0].references == (PHENACETIN,)
    assert (window[0].goal, window[0].low, window[0].high) == ("range", 0.4, 0.8)
    assert [t.structure for t in made.structures] == ["substructure", "similarity"]
    profile = made.lead_profile(PHENACETIN)
    assert profile["tpsa"] == 65.0                          # the middle of the 40-90 window
    assert profile["mw"] == pytest.approx(179.219, abs=1e-3)  # the lead's own, kept
    # its hydrochloride is profiled as `score` scores it: the neutral largest fragment
    assert made.lead_profile(PHENACETIN + ".Cl") == profile
    with pytest.raises(RewardError, match="not a valid molecule"):
        made.lead_profile("C1CC")
    with pytest.raises(RewardError, match="cannot parse"):
        base.analogues_of("C1CC")


def test_structure_table_leaves_out_what_the_kind_goal_and_mode_do_not_use():
    """The reward editor's slot fields become a reward-file table by the engine's schema."""
    from engine.chem.structure_terms import (DEFAULT_WEIGHT, WINDOW,  # noqa: PLC0415
                                             structure_table)

    fields = {"on": True, "name": "similarity", "references": [PARACETAMOL],
              "goal": "maximize", **WINDOW, "weight": DEFAULT_WEIGHT, "smarts": ["c"]}
    table = structure_table("similarity", fields)
    assert table == {"structure": "similarity", "goal": "maximize",
                     "references": [PARACETAMOL], "low": 0.4, "high": 0.8, "weight": 1.0}
    assert structure_table("similarity", {**fields, "goal": "range"})["ramp"] == 0.1
    forbid = {"name": "forbidden_substructure", "smarts": [NITROBENZENE], "match": "any",
              "mode": "filter", "weight": 2.0, "goal": "forbid"}
    assert structure_table("substructure", forbid) == {
        "structure": "substructure", "name": "forbidden_substructure", "goal": "forbid",
        "smarts": [NITROBENZENE], "match": "any", "mode": "filter"}       # no weight
    assert structure_table("substructure", {**forbid, "mode": "term"})["weight"] == 2.0
    alerts = structure_table("alerts", {"name": "n_alerts", "families": ["pains"],
                                        "mode": "filter"})
    assert alerts == {"structure": "alerts", "families": ["pains"], "mode": "filter"}
    for kind, raw in (("similarity", fields), ("substructure", forbid),
                      ("alerts", {"families": ["pains"], "mode": "term", "weight": 3.0})):
        assert StructureTerm.from_dict(structure_table(kind, raw)).structure == kind
