"""Rewards: hand-checked desirabilities and aggregation, validation messages, TOML round
trips, presets, and the `score` / `rewards` CLI verbs."""
import math

import numpy as np
import pandas as pd
import pytest

from engine.chem.alerts import COLUMNS as ALERT_AND_FLAG_COLUMNS
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.rewards import (
    PRESET_DIR,
    Reward,
    RewardError,
    Term,
    list_presets,
    load_reward,
)
from engine.cli import main

NAN = float("nan")


def frame(**columns) -> pd.DataFrame:
    """A property table with every property 1.0 except the given columns."""
    n = len(next(iter(columns.values())))
    data = {p: np.ones(n) for p in PROPERTY_NAMES}
    data.update({k: np.asarray(v, dtype=float) for k, v in columns.items()})
    return pd.DataFrame(data)


# --- desirability of one term --------------------------------------------------------

def test_maximize_is_linear_between_low_and_high():
    t = Term("qed", "maximize", 0.2, 0.6)
    got = t.desirability(np.array([0.0, 0.2, 0.3, 0.4, 0.6, 0.9]))
    np.testing.assert_allclose(got, [0, 0, 0.25, 0.5, 1, 1])


def test_minimize_is_one_at_low_and_zero_at_high():
    t = Term("mw", "minimize", 360, 500)
    got = t.desirability(np.array([100, 360, 395, 430, 500, 800]))
    np.testing.assert_allclose(got, [1, 1, 0.75, 0.5, 0, 0])


def test_range_has_a_plateau_and_linear_ramps_on_both_sides():
    t = Term("tpsa", "range", 40, 90, ramp=20)
    got = t.desirability(np.array([10, 20, 35, 40, 65, 90, 95, 110, 200]))
    np.testing.assert_allclose(got, [0, 0, 0.75, 1, 1, 1, 0.75, 0, 0])


@pytest.mark.parametrize("term", [Term("qed", "maximize", 0, 1), Term("mw", "minimize", 0, 1),
                                  Term("tpsa", "range", 0, 1, ramp=1)])
def test_nan_in_gives_nan_out(term):
    got = term.desirability(np.array([NAN, 0.5]))
    assert math.isnan(got[0]) and got[1] == pytest.approx(0.5 if term.goal != "range" else 1)


def test_integers_are_stored_as_floats():
    t = Term("hbd", "minimize", 0, 5)
    assert isinstance(t.low, float) and isinstance(t.high, float) and isinstance(t.weight, float)


# --- aggregation --------------------------------------------------------------------

def two_terms(aggregate, w1=1.0, w2=3.0) -> Reward:
    return Reward("hand", (Term("qed", "maximize", 0, 1, weight=w1),
                           Term("logp", "maximize", 0, 1, weight=w2)), aggregate=aggregate)


def test_weighted_mean_by_hand():
    values = frame(qed=[0.2, 1.0, 0.0], logp=[0.6, 0.0, 0.0])
    np.testing.assert_allclose(two_terms("mean").score(values),
                               [(0.2 + 3 * 0.6) / 4, 0.25, 0.0])


def test_weighted_geometric_by_hand():
    values = frame(qed=[0.2, 1.0, 0.5], logp=[0.6, 0.0, 0.5])
    want = [0.2 ** 0.25 * 0.6 ** 0.75, 0.0, 0.5]  # a zero anywhere gives 0
    np.testing.assert_allclose(two_terms("geometric").score(values), want)


@pytest.mark.parametrize("aggregate", ["mean", "geometric"])
def test_weight_zero_term_is_shown_but_not_counted(aggregate):
    values = frame(qed=[0.4, 0.4], logp=[0.0, 1.0])  # logp desirability 0 then 1
    reward = two_terms(aggregate, w1=1.0, w2=0.0)
    np.testing.assert_allclose(reward.score(values), [0.4, 0.4])  # no 0 ** 0 surprise
    np.testing.assert_allclose(reward.desirabilities(values), [[0.4, 0.0], [0.4, 1.0]])
    out = reward.evaluate(values)
    assert list(out.columns[-3:]) == ["reward", "d_qed", "d_logp"]
    np.testing.assert_allclose(out["d_logp"], [0.0, 1.0])


@pytest.mark.parametrize("aggregate", ["mean", "geometric"])
def test_invalid_molecules_score_zero(aggregate):
    reward = two_terms(aggregate)
    values = frame(qed=[1.0, 1.0, 1.0], logp=[1.0, 1.0, 1.0])
    values.loc[1, "tpsa"] = NAN  # a property the reward does not use: still invalid
    values["valid"] = [True, True, False]
    np.testing.assert_array_equal(reward.score(values), [1.0, 0.0, 0.0])


def test_array_input_in_property_order_matches_frame_input():
    rng = np.random.default_rng(0)
    array = rng.uniform(0, 1, size=(50, len(PROPERTY_NAMES)))
    array[3] = NAN
    reward = two_terms("geometric")
    from_array = reward.score(array)
    from_frame = reward.score(pd.DataFrame(array, columns=PROPERTY_NAMES))
    np.testing.assert_allclose(from_array, from_frame)
    assert from_array[3] == 0.0 and from_array.shape == (50,)
    assert reward.desirabilities(array).shape == (50, 2)


def test_wrong_inputs_are_refused_with_the_reason():
    reward = two_terms("mean")
    with pytest.raises(RewardError, match="logp"):
        reward.score(pd.DataFrame({"qed": [0.5]}))
    with pytest.raises(RewardError, match=r"\(N, 25\).*\(4, 3\)"):
        reward.score(np.zeros((4, 3)))


def test_properties_lists_the_terms_properties():
    assert two_terms("mean").properties == ("qed", "logp")


# --- validation (REWARDS.md "Errors") ----------------------------------------------------

TERM_LINES = {"property": '"tpsa"', "goal": '"range"', "low": "40.0", "high": "90.0",
              "ramp": "20.0", "weight": "1.0"}


def reward_text(**changes) -> str:
    """A one-term reward file; `changes` maps a key to its raw TOML value (None drops it)."""
    lines = {**TERM_LINES, **changes}
    body = "\n".join(f"{k} = {v}" for k, v in lines.items() if v is not None)
    return f'name = "t"\n\n[[terms]]\n{body}\n'


@pytest.mark.parametrize("change, message", [
    ({"property": '"tpsaa"'}, r"unknown property 'tpsaa' \(did you mean 'tpsa'\?\); "
                              r"valid names: mw, logp, tpsa, .*basic_amines"),
    ({"goal": '"maximise"'}, r"unknown goal 'maximise'; allowed: maximize, minimize, range"),
    ({"low": "90"}, r"low \(90\) must be below high \(90\)"),
    ({"low": "100.5"}, r"low \(100.5\) must be below high \(90\)"),
    ({"ramp": "0"}, r"ramp must be > 0, got 0"),
    ({"ramp": "-5.0"}, r"ramp must be > 0, got -5"),
    ({"ramp": None}, r"goal 'range' needs a ramp > 0"),
    ({"ramp": "inf"}, r"ramp must be a finite number, got inf"),
    ({"weight": "-1.0"}, r"weight must be >= 0, got -1"),
    ({"weight": "inf"}, r"weight must be a finite number, got inf"),
    ({"weight": "nan"}, r"weight must be a finite number, got nan"),
    ({"low": "-inf"}, r"low must be a finite number, got -inf"),
    ({"high": "nan"}, r"high must be a finite number, got nan"),
    ({"low": '"forty"'}, r"low must be a number, got 'forty'"),
    ({"weight": "true"}, r"weight must be a number, got True"),
    ({"goal": '"maximize"'}, r"ramp \(20.0\) is only used by goal 'range'"),
    ({"wieght": "1.0"}, r"unknown key\(s\) 'wieght' in term; allowed: property, goal"),
    ({"high": None}, r"term is missing 'high'"),
])
def test_each_bad_term_value_is_named_in_the_error(change, message):
    with pytest.raises(RewardError, match=r"^term 1: .*" + message):
        Reward.from_toml(reward_text(**change))


def test_the_same_errors_come_from_building_terms_in_code():
    with pytest.raises(RewardError, match="valid names: mw, logp"):
        Term("weight", "maximize", 0, 1)
    with pytest.raises(RewardError, match="weight must be a finite number, got inf"):
        Term("mw", "maximize", 0, 1, weight=math.inf)


@pytest.mark.parametrize("text, message", [
    ("name = \n", r"not a TOML reward file \(.*line 1"),
    ("[[terms]\nproperty = 'mw'", r"not a TOML reward file"),
    ("name = 't'\naggregate = 'median'\n[[terms]]\nproperty = 'mw'\ngoal = 'maximize'\n"
     "low = 0\nhigh = 1\n", r"unknown aggregate 'median'; allowed: mean, geometric"),
    ("name = 't'\n[[terms]]\nproperty = 'mw'\ngoal = 'maximize'\nlow = 0\nhigh = 1\n"
     "weight = 0\n[[terms]]\nproperty = 'qed'\ngoal = 'maximize'\nlow = 0\nhigh = 1\n"
     "weight = 0.0\n", r"all term weights are zero"),
    ("name = 't'\nterms = []\n", r"needs at least one term"),
    ("name = 't'\n", r"reward is missing 'terms'"),
    ("[[terms]]\nproperty = 'mw'\ngoal = 'maximize'\nlow = 0\nhigh = 1\n",
     r"reward is missing 'name'"),
    ("name = 't'\ncolour = 'red'\n[[terms]]\nproperty = 'mw'\ngoal = 'maximize'\nlow = 0\n"
     "high = 1\n", r"unknown key\(s\) 'colour' in reward"),
    ("name = 't'\n[[terms]]\nproperty = 'mw'\ngoal = 'maximize'\nlow = 0\nhigh = 1\n"
     "[[terms]]\nproperty = 'mw'\ngoal = 'minimize'\nlow = 0\nhigh = 1\n",
     r"properties used by more than one term: mw"),
    ("name = 't'\nout_of_support = 'yes'\n[[terms]]\nproperty = 'mw'\ngoal = 'maximize'\n"
     "low = 0\nhigh = 1\n", r"out_of_support must be true or false"),
])
def test_bad_reward_files_are_refused_with_the_reason(text, message):
    with pytest.raises(RewardError, match=message):
        Reward.from_toml(text)


def test_code_in_a_reward_file_is_just_data(tmp_path):
    marker = tmp_path / "pwned"
    text = (f'name = "__import__(\'os\').system(\'touch {marker}\')"\n'
            'description = "{{7*7}} ${HOME} `rm -rf /`"\n'
            "[[terms]]\nproperty = \"mw\"\ngoal = \"maximize\"\nlow = 0\nhigh = 1\n")
    reward = Reward.from_toml(text)
    assert reward.name.startswith("__import__") and "{{7*7}}" in reward.description
    assert not marker.exists()
    with pytest.raises(RewardError, match="unknown property \"__import__"):
        Reward.from_toml(text.replace('property = "mw"', 'property = "__import__(\'os\')"'))


def test_a_failed_load_leaves_nothing_behind(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(reward_text(ramp="-1.0"))
    with pytest.raises(RewardError, match=r"broken.toml: term 1: tpsa \(range\): ramp"):
        Reward.from_file(path)
    with pytest.raises(RewardError, match="no such reward file"):
        Reward.from_file(tmp_path / "missing.toml")


# --- TOML round trip and loading -----------------------------------------------------

def custom_reward() -> Reward:
    return Reward(
        name='Tricky "quoted" name\twith tab',
        description="line one\nline two \\ backslash, unicode: \u00e9\u03b1\u2192 \U0001F600 \x7f",
        rationale="", source="Doe et al. (2020) J. Tests 1:1", aggregate="geometric",
        out_of_support=True,
        terms=(Term("mw", "range", 250, 1e3, ramp=0.1 + 0.2, weight=0.0),
               Term("sa_score", "minimize", -1e-05, 3.5, weight=2),
               Term("basic_amines", "maximize", 0, 1.0000000000000002, weight=1e-3)))


def test_custom_reward_round_trips_exactly(tmp_path):
    reward = custom_reward()
    assert Reward.from_toml(reward.to_toml()) == reward
    assert Reward.from_dict(reward.to_dict()) == reward
    loaded = Reward.from_file(reward.save(tmp_path / "sub" / "mine.toml"))
    assert loaded == reward and loaded.key == "mine"
    assert load_reward(str(tmp_path / "sub" / "mine.toml")) == reward


def test_all_24_presets_load_and_round_trip():
    presets = list_presets()
    assert len(presets) == 24
    assert [r.key for r in presets] == sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
    for reward in presets:
        assert Reward.from_toml(reward.to_toml()) == reward, reward.key
        assert load_reward(reward.key) == reward
        assert reward.description and reward.rationale, reward.key
    assert {"3d_complex", "antibacterial_like", "cns_penetrant", "drug_like"} <= {
        r.key for r in presets}
    assert 3 <= sum(r.out_of_support for r in presets) <= 6


def test_unknown_reward_name_lists_the_presets():
    with pytest.raises(RewardError, match=r"'cns_penetrnt' is neither .* \(did you mean "
                                          r"'cns_penetrant'\?\); presets: 3d_complex, "):
        load_reward("cns_penetrnt")


# --- CLI ---------------------------------------------------------------------------------

def test_cli_score_adds_properties_reward_and_desirabilities(tmp_path, capsys):
    src = tmp_path / "mols.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "smi": ["CCO", "not a smiles", "c1ccccc1O"]}).to_csv(
        src, index=False)
    reward_file = tmp_path / "small.toml"
    Reward("small", (Term("heavy_atoms", "minimize", 3, 7),
                     Term("oxygens", "maximize", 0, 1, weight=0))).save(reward_file)
    out = tmp_path / "scored.csv"
    code = main(["score", "--reward", str(reward_file), "--in", str(src), "--out", str(out),
                 "--smiles-column", "smi", "--jobs", "1"])
    assert code == 0
    scored = pd.read_csv(out)
    assert list(scored.columns[:4]) == ["id", "smi", "scored_as", "valid"]
    after = [*ALERT_AND_FLAG_COLUMNS, "scaffold"]
    assert list(scored.columns[-3 - len(after):-len(after)]) == ["reward", "d_heavy_atoms",
                                                                 "d_oxygens"]
    assert list(scored.columns[-len(after):]) == after
    assert set(PROPERTY_NAMES) <= set(scored.columns)
    assert scored["id"].tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(scored["reward"], [1.0, 0.0, 0.0])  # phenol: 7 heavy atoms
    np.testing.assert_allclose(scored["d_oxygens"], [1.0, NAN, 1.0])
    assert "3 molecules, 2 valid, mean reward 0.333" in capsys.readouterr().out


def test_cli_score_with_a_preset(tmp_path):
    src = tmp_path / "mols.csv"
    src.write_text("smiles\nCN1CCC[C@H]1c1cccnc1\n")
    out = tmp_path / "scored.csv"
    assert main(["score", "--reward", "cns_penetrant", "--in", str(src), "--out", str(out),
                 "--jobs", "1"]) == 0
    scored = pd.read_csv(out)
    assert 0.0 < scored["reward"].iloc[0] <= 1.0
    assert all(f"d_{p}" in scored.columns for p in load_reward("cns_penetrant").properties)


@pytest.mark.parametrize("reward, column, message", [
    ("cns_penetrant", "structure", "no column 'structure'; the columns are smiles, name"),
    ("no_such_preset", "smiles", "'no_such_preset' is neither a reward file nor a preset"),
])
def test_cli_score_errors_exit_2_with_a_message(tmp_path, capsys, reward, column, message):
    src = tmp_path / "mols.csv"
    src.write_text("smiles,name\nCCO,x\n")
    out = tmp_path / "o.csv"
    assert main(["score", "--reward", reward, "--in", str(src), "--out", str(out),
                 "--smiles-column", column]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not out.exists()


def test_cli_score_bad_reward_file_exits_2(tmp_path, capsys):
    src = tmp_path / "mols.csv"
    src.write_text("smiles\nCCO\n")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[[terms]]\nproperty = 'mw'\ngoal = 'maximize'\nlow = 2\nhigh = 1\n")
    assert main(["score", "--reward", str(bad), "--in", str(src), "--out",
                 str(tmp_path / "o.csv")]) == 2
    assert "low (2) must be below high (1)" in capsys.readouterr().err


def test_cli_rewards_lists_every_preset(capsys):
    assert main(["rewards"]) == 0
    out = capsys.readouterr().out
    for reward in list_presets():
        assert reward.key in out and reward.name in out
    assert "24 presets" in out


def test_term_table_keeps_the_term_keys_and_a_ramp_only_for_a_range():
    """The reward editor's fields become a [[terms]] table by the engine's own schema."""
    from engine.chem.rewards import TERM_KEYS, term_table  # noqa: PLC0415

    fields = {"on": True, "property": "logp", "goal": "maximize", "low": 1.0, "high": 3.0,
              "ramp": 0.5, "weight": 2.0}
    table = term_table(fields)
    assert table == {"property": "logp", "goal": "maximize", "low": 1.0, "high": 3.0,
                     "weight": 2.0}
    assert Term(**table) == Term("logp", "maximize", 1.0, 3.0, weight=2.0)
    ranged = term_table({**fields, "goal": "range"})
    assert list(ranged) == list(TERM_KEYS) and ranged["ramp"] == 0.5
    with pytest.raises(RewardError, match="low .* must be below high"):
        Term(**term_table({**fields, "low": 4.0}))


def test_support_is_the_share_of_finite_values_at_desirability_one():
    from engine.chem.rewards import MET_BY_ALL, MET_BY_FEW, support  # noqa: PLC0415
    from engine.chem.structure_terms import StructureTerm  # noqa: PLC0415

    term = Term("logp", "maximize", 1.0, 3.0)
    assert support(term, [0.0, 2.0, 3.0, 4.0, NAN]) == (0.5, 2)     # NaN left out
    assert support(Term("logp", "range", 1.0, 3.0, 0.5), [0.9, 1.0, 3.0, 3.2]) == (0.5, 2)
    assert support(term, [NAN, NAN]) is None
    alerts = StructureTerm("alerts", families=("pains",))
    assert support(alerts, [0.0, 0.0, 2.0, 1.0]) == (0.5, 2)         # no alert meets it
    assert 0 < MET_BY_FEW < MET_BY_ALL < 1


def test_a_term_beyond_what_its_property_can_take_says_so():
    from engine.chem.rewards import term_reach  # noqa: PLC0415

    assert term_reach(Term("fsp3", "maximize", 0.3, 1.5)) == (
        "fsp3 lies between 0 and 1: no molecule reaches desirability 1 on this term (it "
        "needs fsp3 >= 1.5)")
    assert term_reach(Term("fsp3", "maximize", 1.2, 1.5)).endswith(
        "this term is 0 for every molecule (it is above 0 only for fsp3 > 1.2)")
    assert "needs sa_score <= 0.5" in term_reach(Term("sa_score", "minimize", 0.5, 3.0))
    assert "0 for every molecule" in term_reach(Term("tpsa", "minimize", -10.0, -5.0))
    # counts are whole numbers: [2.3, 2.7] holds none, its ramps may reach 2 or 3
    assert "whole number" in term_reach(Term("hbd", "range", 2.3, 2.7, 0.2))
    assert "0 for every molecule" in term_reach(Term("hbd", "range", 2.3, 2.7, 0.2))
    assert "no molecule reaches" in term_reach(Term("hbd", "range", 2.3, 2.7, 0.5))
    assert "from 1 to 150" in term_reach(Term("heavy_atoms", "maximize", 100, 200))
    # no ring has one or two atoms: 0 (no ring) or 3 and more
    assert "0 for every molecule" in term_reach(Term("largest_ring_size", "range", 1, 2, 0.5))
    assert "0 for every molecule" in term_reach(Term("largest_ring_size", "range", 1, 2, 1.0))
    assert "no molecule reaches" in term_reach(   # 0 and 3 score above 0, none scores 1
        Term("largest_ring_size", "range", 1, 2, 1.5))
    assert term_reach(Term("largest_ring_size", "range", 2, 3, 0.5)) == ""
    for fine in (Term("fsp3", "maximize", 0.3, 1.0), Term("hbd", "range", 2.0, 2.5, 0.5),
                 Term("logp", "maximize", 10, 20), Term("qed", "range", 0.5, 0.8, 0.1),
                 Term("hbd", "minimize", 0, 3), Term("sa_score", "minimize", 1, 3)):
        assert term_reach(fine) == "", fine


def test_property_limits_hold_on_real_molecules():
    # the limits term_reach reads are those of real molecules: the prior bank and odd ones
    from engine.chem.properties import (INTEGER_PROPERTIES, PROPERTY_LIMITS,  # noqa: PLC0415
                                        batch_properties)

    bank = pd.read_parquet("assets/model/prior_bank.parquet", columns=["smiles"])
    odd = ["C", "[Na+].[Cl-]", "O", "C1CCCCCCCCCCCCCCC1", "FC(F)(F)C(F)(F)F", "c1ccccc1",
           "C[C@@]12CC[C@H]3[C@@H](CC=C4C[C@@H](O)CC[C@@]43C)[C@@H]1CC[C@@H]2O"]
    table = batch_properties(bank["smiles"].tolist()[:2000] + odd, n_jobs=1)
    table = table[table["valid"]]
    assert set(PROPERTY_LIMITS) == set(PROPERTY_NAMES)
    for name, (low, high) in PROPERTY_LIMITS.items():
        values = table[name].to_numpy(float)
        assert ((values >= low) & (values <= high)).all(), name
        if name in INTEGER_PROPERTIES:
            assert (values == np.round(values)).all(), name


def test_a_reward_lists_its_unreachable_terms():
    reward = Reward(name="t", terms=(Term("fsp3", "maximize", 1.2, 1.5),
                                     Term("logp", "maximize", 1.0, 3.0),
                                     Term("qed", "maximize", 0.9, 1.2, weight=0.0)))
    (line,) = reward.unreachable()   # a weight-0 term counts for nothing
    assert line.startswith("fsp3 lies between 0 and 1: this term is 0 for every molecule")
    geometric = Reward(name="t", aggregate="geometric", terms=reward.terms)
    assert geometric.unreachable()[0].endswith(
        "with the geometric mean the reward is 0 for every molecule")
    assert geometric.never_above_zero() == reward.never_above_zero() == ("fsp3",)
    assert Reward(name="t", terms=(Term("fsp3", "maximize", 0.2, 0.6),)).unreachable() == []


def test_score_warns_of_a_term_no_molecule_can_meet(tmp_path, capsys):
    reward = tmp_path / "fsp3.toml"
    reward.write_text("name = 'too flat'\n[[terms]]\nproperty = 'fsp3'\ngoal = 'maximize'\n"
                      "low = 0.3\nhigh = 1.5\n")
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("smiles\nCCO\nc1ccccc1\n")
    assert main(["score", "--reward", str(reward), "--in", str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert ("warning: fsp3 lies between 0 and 1: no molecule reaches desirability 1 on this "
            "term (it needs fsp3 >= 1.5)") in err
    assert pd.read_csv(out)["reward"].max() < 1   # scored all the same
