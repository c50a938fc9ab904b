"""The trade-off explorer on the Explore screen through AppTest: it samples every weighting
in one go with the sidebar's method, draws the front, says which weighting selected
molecules came from, and refuses what cannot be a trade-off. Tiny checkpoint from conftest."""
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app.components.tradeoff import OPEN, PLOT, RESULT, picked
from engine.chem.rewards import load_reward
from engine.chem.scoring import score_molecules
from engine.model.checkpoint import load_checkpoint
from engine.sampling.sampler import SampleSettings
from engine.sampling.tradeoff import (TradeoffResult, conflicting_terms, front,
                                      score_tradeoff, term_pair)
from tests.test_app import APP, FIXTURE_SMILES


@pytest.fixture
def app(tiny_checkpoint, monkeypatch) -> AppTest:
    monkeypatch.setenv("RCFG_CHECKPOINT", str(tiny_checkpoint))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state[OPEN] = True  # the explorer renders only while its expander is open
    at.run()
    assert not at.exception, at.exception
    return at


def real_result(n: int = 10):
    """A trade-off result made of real molecules (the tiny model's are all invalid)."""
    smiles = pd.read_csv(FIXTURE_SMILES)["smiles"].head(4 * n).tolist()
    pair = term_pair(load_reward("cns_penetrant"), "tpsa", "logp")
    weights = (1.0, 0.5, 0.0)
    molecules = score_tradeoff(smiles[:3 * n], pair, weights)
    result = TradeoffResult(molecules, front(molecules, pair), pair, SampleSettings(n=n),
                            {"wall_time_s": 1.0, "batches": 1})
    return result, score_molecules(smiles[3 * n:])


def test_samples_every_weighting_with_the_sidebar_method(app, tiny_checkpoint):
    bank = load_checkpoint(tiny_checkpoint).bank_values()
    assert (app.selectbox(key="tradeoff::a").value, app.selectbox(key="tradeoff::b").value) \
        == conflicting_terms(load_reward("cns_penetrant"), bank)
    app.selectbox(key="tradeoff::a").set_value("tpsa")
    app.selectbox(key="tradeoff::b").set_value("logp")
    app.slider(key="tradeoff::count").set_value(3)
    app.number_input(key="tradeoff::n").set_value(4)
    app.number_input(key="s::n").set_value(8)  # the base comparison set
    app.run()
    assert any("3 × 4 molecules × 1 rows" in c.value for c in app.caption)   # reward-tilted
    app.button(key="tradeoff::go").click().run(timeout=120)
    assert not app.exception, app.exception
    result, base = app.session_state[RESULT]
    assert result.front["weighting"].tolist() == [1.0, 0.5, 0.0]
    assert len(result.molecules) == 12 and result.settings.method == "tilted"
    assert result.settings.candidates == 1 and len(base) == 8   # the explorer keeps all
    assert result.pair.a.properties == ("tpsa",) and result.pair.b.properties == ("logp",)
    shown = next(d.value for d in app.dataframe if "steering weights" in d.value)
    # CNS: logp weight 2 + tpsa weight 1, shared by the two terms; the other terms keep 1
    assert shown["steering weights"].tolist() == ["tpsa 3 / logp 0", "tpsa 1.5 / logp 1.5",
                                                  "tpsa 0 / logp 3"]
    assert app.get("plotly_chart")  # the front over the clouds


def test_selection_names_the_weighting_of_each_molecule(app):
    result, base = real_result()
    app.session_state[RESULT] = (result, base)
    app.session_state[PLOT] = {"selection": {"points": [
        {"customdata": 0}, {"customdata": 11}, {"customdata": 25}, {"x": 0.5}]}}
    app.run()
    assert not app.exception, app.exception
    assert any("3 selected" in m.value and "w = 0.5: 1" in m.value for m in app.markdown)
    table = next(d.value for d in app.dataframe if "desirability_a" in d.value)
    assert table["weighting"].tolist() == [1.0, 0.5, 0.0]
    assert table["smiles"].tolist() == result.molecules["smiles"].iloc[[0, 11, 25]].tolist()


def test_picked_ignores_base_model_points():
    result, _ = real_result(4)
    rows = picked(result.molecules, [{"customdata": 5}, {"x": 0.1}, {"customdata": "x"}])
    assert rows["weighting"].tolist() == [0.5] and len(rows) == 1


def test_refuses_what_cannot_be_a_trade_off(app):
    app.selectbox(key="s::method").set_value("base").run()
    assert any("same molecules whatever the weighting" in w.value for w in app.warning)
    assert app.button(key="tradeoff::go").disabled
    app.selectbox(key="s::method").set_value("rcfg")
    app.selectbox(key="tradeoff::a").set_value("logp")
    app.selectbox(key="tradeoff::b").set_value("logp").run()
    app.button(key="tradeoff::go").click().run()
    assert any("must differ, got 'logp' twice" in e.value for e in app.error)
    assert RESULT not in app.session_state


def test_two_rewards_mode(app):
    app.radio(key="tradeoff::mode").set_value("Two rewards").run()
    assert app.selectbox(key="tradeoff::ra").value == ""  # the reward being edited
    app.selectbox(key="tradeoff::rb").set_value("drug_like")
    app.slider(key="tradeoff::count").set_value(2)
    app.number_input(key="tradeoff::n").set_value(4)
    app.number_input(key="s::n").set_value(8)
    app.button(key="tradeoff::go").click().run(timeout=120)
    assert not app.exception, app.exception
    result, _ = app.session_state[RESULT]
    assert result.front["steering"].tolist() == ["1 × A + 0 × B", "0 × A + 1 × B"]
    assert result.pair.b == load_reward("drug_like")
