"""The Library screen through AppTest, on a small library written as `sample --out DIR/
--dedupe` writes one (tests/test_library_reader.py, write_library: 60 fixture molecules in
shards of 20, one invalid, one repeat): a folder that is not a library is named, the
manifest summary, paging in library order, range and SMARTS filters over every shard, the
library's own selection, the CSV exports' contents, re-scoring with the reward in use, and
plots from a bounded sample that say so."""
import io
from pathlib import Path

import pandas as pd
import pytest

from app import state
from app.components import library_export, library_plots
from app.components import library_view as view
from app.components.reward_editor import REWARD
from engine.chem.alerts import CHECK_COLUMNS, with_checks
from engine.chem.rewards import load_reward
from engine.chem.scoring import rescore
from engine.chem.structures import has_substructure
from engine.cli import main
from engine.sampling.library_reader import RowFilter, open_library
from tests.test_app import app  # noqa: F401  (a fixture)
from tests.test_library_reader import library_smiles, write_library

PAGE = "screens/library.py"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_library(tmp_path_factory.mktemp("lib") / "lib", library_smiles())


@pytest.fixture(scope="module")
def scored_folder(tmp_path_factory) -> Path:
    """The same molecules sampled for a reward: the shards store its `reward`."""
    return write_library(tmp_path_factory.mktemp("lib") / "scored", library_smiles(),
                         reward_key="drug_like")


def opened(at, folder: Path, view_name: str = "Table"):
    at.switch_page(PAGE).run()
    at.session_state["library::view"] = view_name
    at.text_input(key=view.FOLDER).set_value(str(folder)).run()
    assert not at.exception, at.exception
    return at


def whole(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(f) for f in sorted(folder.glob("shard-*.parquet"))],
                     ignore_index=True)


def table(at) -> pd.DataFrame:
    """The Table view, with each molecule's row in the folder (from its ID) as the index."""
    shown = at.dataframe[-1].value
    return shown.set_axis([int(i.rsplit(":", 1)[1]) for i in shown["id"]])


def caption(at, text: str) -> str:
    return next(c.value for c in at.caption if text in c.value)


def test_a_folder_that_is_not_a_library_is_named(app, folder, tmp_path):
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    assert "Give the folder of a library" in app.info[0].value
    (tmp_path / "empty").mkdir()
    for given, expected in ((tmp_path / "nowhere", "no such folder"),
                            (folder / "library.json", "is a file; give the library's folder"),
                            (tmp_path / "empty", "is not a library folder: it holds no "
                                                 "shard-NNNNNN.parquet or part-NNNNNN"
                                                 ".parquet files")):
        app.text_input(key=view.FOLDER).set_value(str(given)).run()
        assert not app.exception, app.exception
        assert app.error[0].value.startswith("Cannot open the library: ")
        assert expected in app.error[0].value
        assert not app.dataframe


def test_summary_and_pages_in_library_order(app, folder):
    opened(app, folder)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Molecules"] == "60" and metrics["Shards"] == "3"
    assert metrics["Unique (InChIKey)"] == "58" and metrics["Validity"] == "98.3%"
    first = table(app)
    valid = [r for r in range(60) if r != 7]   # row 7 is the invalid SMILES
    assert len(first) == 48 and set(first["id"]) == {f"lib:{r}" for r in valid[:48]}
    assert "59 molecules pass the filters" in caption(app, "Molecules 1-48")
    app.number_input(key=view.PAGE).set_value(2).run()
    second = table(app)
    assert set(second["id"]) == {f"lib:{r}" for r in valid[48:]}
    assert caption(app, "Molecules 49-59")
    assert (second["mw"] == whole(folder).loc[second.index, "mw"]).all()
    app.checkbox(key=view.INVALID).check().run()
    assert app.number_input(key=view.PAGE).value == 1   # a filter change starts over
    app.number_input(key=view.PAGE).set_value(2).run()
    assert len(table(app)) == 12 and "60 molecules pass" in caption(app, "Molecules 49-60")


def test_unique_molecules_only(app, folder):
    opened(app, folder)
    app.toggle(key=view.UNIQUE).set_value(True).run()
    assert {m.label: m.value for m in app.metric}["Molecules"] == "58"
    app.number_input(key=view.PAGE).set_value(2).run()
    assert len(table(app)) == 10 and table(app)["id"].str.startswith("lib-unique:").all()


def test_range_and_smarts_filters_cover_every_shard(app, folder):
    opened(app, folder)
    app.session_state[view.RANGES] = ["mw"]
    app.session_state["library::range::mw"] = (300.0, 350.0)
    app.run()
    shown = table(app)
    expected = whole(folder).query("valid and 300 <= mw <= 350")
    assert sorted(shown.index) == sorted(expected["library_index"])
    assert (f"{len(expected)} molecules pass the filters (MW 300.0-350.0)"
            in caption(app, "Molecules 1-"))
    app.text_input(key=view.SMARTS).set_value("c1ccccc1").run()
    shown = table(app)
    benzene = expected[has_substructure(expected["smiles"].tolist(), "c1ccccc1")]
    assert 0 < len(shown) < len(expected)
    assert sorted(shown.index) == sorted(benzene["library_index"])
    app.text_input(key=view.SMARTS).set_value("c1ccc(").run()
    assert "not a valid SMARTS pattern" in app.error[0].value
    # the slider reads as precisely as it moves: MW in steps of 10 Da, logP of 0.25
    assert [view._step_format(s) for s in (10.0, 0.25, 0.05, 1 / 3)] == [
        "%.0f", "%.2f", "%.2f", "%.3f"]
    assert not any("id" in d.value for d in app.dataframe)   # no molecules, the summary stays


def test_the_library_selection_and_exports(app, folder):
    opened(app, folder, "Molecules")
    cards = [c.key for c in app.checkbox if c.key.startswith("grid::sel::lib:")]
    assert len(cards) == 12   # the grid's first page of the library's first page
    # two SMARTS boxes, told apart: the whole library's and this page's
    assert {t.label for t in app.text_input} >= {"SMARTS in every shard",
                                                  "SMARTS on this page"}
    first, second = cards[:2]
    app.checkbox(key=first).check().run()
    app.checkbox(key=second).check().run()
    ids = {first.removeprefix("grid::sel::"), second.removeprefix("grid::sel::")}
    assert app.session_state[view.PICKED] == ids
    assert not app.session_state[state.SELECTION]   # the project's selection is not touched
    assert any(m.value == "**2** selected in this library" for m in app.markdown)
    lib = open_library(folder)
    reward = app.session_state[REWARD]
    picked = pd.read_csv(io.StringIO(library_export.selection_csv(lib, ids, reward)))
    rows = sorted(int(i.split(":")[1]) for i in ids)
    stored = whole(folder)
    assert picked["id"].tolist() == [f"lib:{r}" for r in rows]
    assert picked["smiles"].tolist() == stored["smiles"].iloc[rows].tolist()
    assert picked["scored_with"].eq(reward.name).all()
    expected = rescore(stored.iloc[rows].reset_index(drop=True), reward)["reward"]
    assert picked["reward"].round(3).tolist() == expected.round(3).tolist()
    # what the cards' badges show goes with the molecules: alerts, flags, scaffold
    checks = with_checks(stored.iloc[rows][["smiles"]].reset_index(drop=True))
    assert set(CHECK_COLUMNS) <= set(picked.columns)
    assert picked["scaffold"].fillna("").tolist() == checks["scaffold"].fillna("").tolist()
    assert picked["alerts"].fillna("").tolist() == checks["alerts"].fillna("").tolist()
    rows = RowFilter(ranges=(("mw", 300.0, 350.0),))
    text = library_export.filtered_csv(lib, rows, None, cap=1000)
    filtered = pd.read_csv(io.StringIO(text))
    heavy = stored.query("valid and 300 <= mw <= 350")
    assert filtered["id"].tolist() == [f"lib:{i}" for i in heavy["library_index"]]
    assert "reward" not in filtered and list(filtered.columns[:3]) == ["id", "smiles",
                                                                      "library_index"]
    capped = pd.read_csv(io.StringIO(library_export.filtered_csv(lib, rows, None, cap=5)))
    assert capped["id"].tolist() == filtered["id"].head(5).tolist()
    app.button(key="library::export::clear").click().run()
    assert app.session_state[view.PICKED] == set()


def test_the_best_molecules_by_a_stored_column_over_every_shard(app, folder):
    opened(app, folder)
    app.selectbox(key=view.ORDER_BY).set_value("qed").run()
    assert not app.exception, app.exception
    stored = whole(folder).query("valid")
    best = stored.sort_values(["qed", "library_index"], ascending=[False, True])
    assert table(app).index.tolist() == best["library_index"].head(48).tolist()
    assert "by stored QED, highest first; 59 molecules with a QED value pass" in caption(
        app, "Molecules 1-48")
    app.number_input(key=view.PAGE).set_value(2).run()
    assert table(app).index.tolist() == best["library_index"].iloc[48:].tolist()
    app.toggle(key=view.LOWEST_FIRST).set_value(True).run()
    assert app.number_input(key=view.PAGE).value == 1   # a new order starts over
    worst = stored.sort_values(["qed", "library_index"], ascending=[True, True])
    assert table(app).index.tolist() == worst["library_index"].head(48).tolist()
    app.session_state[view.RANGES] = ["mw"]   # filters and order together
    app.session_state["library::range::mw"] = (300.0, 350.0)
    app.run()
    heavy = worst.query("300 <= mw <= 350")
    assert table(app).index.tolist() == heavy["library_index"].tolist()
    lib = open_library(folder)
    rows = RowFilter(ranges=(("mw", 300.0, 350.0),))
    text = library_export.filtered_csv(lib, rows, None, cap=5, order=("qed", False))
    assert pd.read_csv(io.StringIO(text))["id"].tolist() == [
        f"lib:{i}" for i in heavy["library_index"].head(5)]
    app.selectbox(key=view.ORDER_BY).set_value(view.LIBRARY_ORDER).run()
    assert sorted(table(app).index) == sorted(heavy["library_index"])   # the table: by reward


def test_rewards_stored_or_computed_with_the_reward_in_use(app, scored_folder):
    opened(app, scored_folder)
    assert app.radio(key=view.REWARD).value == view.STORED
    stored = whole(scored_folder)
    shown = table(app)
    assert (shown["reward"] == stored.loc[shown.index, "reward"]).all()
    in_use = app.session_state[REWARD]
    assert in_use != load_reward("drug_like")
    app.radio(key=view.REWARD).set_value(view.IN_USE).run()
    shown = table(app)
    again = rescore(stored.loc[shown.index], in_use)
    assert (shown["reward"] - again["reward"]).abs().max() < 1e-12
    assert "computed for this page" in caption(app, "Molecules 1-48")


def test_a_folder_opens_on_its_stored_reward_whatever_was_open_before(app, folder,
                                                                       scored_folder):
    opened(app, folder)   # no stored reward: the reward in use
    assert app.radio(key=view.REWARD).value == view.IN_USE
    app.text_input(key=view.FOLDER).set_value(str(scored_folder)).run()
    assert app.radio(key=view.REWARD).value == view.STORED
    shown = table(app)
    assert (shown["reward"] == whole(scored_folder).loc[shown.index, "reward"]).all()
    app.radio(key=view.REWARD).set_value(view.IN_USE).run()   # a choice for this folder
    app.switch_page("screens/explore.py").run()
    app.switch_page(PAGE).run()
    assert app.radio(key=view.REWARD).value == view.IN_USE    # is kept while it is open


def test_plots_draw_a_bounded_sample_and_say_so(app, folder, monkeypatch):
    monkeypatch.setattr(library_plots, "SAMPLE_N", 20)
    opened(app, folder, "Distributions")
    assert app.get("plotly_chart")
    assert "random sample of 20 of the 59 molecules that pass the filters (seed 0" in caption(
        app, "Drawn from")
    app.session_state["library::view"] = "Scatter"
    app.run()
    assert not app.exception, app.exception
    assert app.get("plotly_chart") and caption(app, "random sample of 20 of the 59")


def test_a_smarts_is_checked_only_as_far_as_the_pages_go(app, folder, monkeypatch):
    monkeypatch.setattr(view, "PAGE_SIZES", (5, 48))
    opened(app, folder)
    app.text_input(key=view.SMARTS).set_value("c1ccccc1").run()
    stored = whole(folder)
    benzene = stored[stored["valid"] & pd.Series(has_substructure(stored["smiles"].tolist(),
                                                                  "c1ccccc1"))]
    in_first = int((benzene["library_index"] < 20).sum())
    assert len(table(app)) == 5
    assert (f"at least {in_first} molecules pass the filters (containing `c1ccccc1`); the "
            "SMARTS is checked in 1 of 3 shards so far") in caption(app, "Molecules 1-5")
    app.session_state["library::view"] = "Distributions"   # the plots need every shard
    app.run()
    assert not app.exception, app.exception
    assert (f"{len(benzene)} molecules pass the filters (containing `c1ccccc1`)."
            in caption(app, "Molecules 1-5"))
    assert f"All {len(benzene)} molecules that pass the filters." in caption(app, "All ")


def test_a_scored_folder_shows_the_reward_it_was_scored_with(app, folder, tmp_path):
    out = tmp_path / "scored"
    assert main(["score", "--reward", "drug_like", "--in", f"{folder}/", "--out", f"{out}/"]) == 0
    opened(app, out)
    radio = app.radio(key=view.REWARD)
    assert radio.value == view.STORED and "stored: Drug-like" in radio.options[0]
    scored = pd.concat([pd.read_parquet(f) for f in sorted(out.glob("part-*.parquet"))],
                       ignore_index=True)
    shown = table(app)
    assert (shown["reward"] == scored.loc[shown.index, "reward"]).all()
    assert {m.label: m.value for m in app.metric}["Mean reward"] == (
        f"{scored['reward'].fillna(0).mean():.3f}")
    assert caption(app, "Scored from") == f"Scored from `{folder}`."
    # scored from a unique/ folder: validity 100 % is said to be that of unique molecules
    unique = tmp_path / "scored_unique"
    assert main(["score", "--reward", "drug_like", "--in", f"{folder}/unique/",
                 "--out", f"{unique}/"]) == 0
    opened(app, unique)
    assert {m.label: m.value for m in app.metric}["Validity"] == "100.0%"
    # the stored reward is the one scored with (its TOML in the manifest): the cards list
    # its properties, not those of the reward in use
    from app.components import library_summary  # noqa: PLC0415
    from engine.sampling.library_reader import open_library  # noqa: PLC0415
    stored = library_summary.stored_reward(open_library(unique))
    assert stored is not None and stored.name == "Drug-like"
    view_reward = app.radio(key=view.REWARD)
    assert view_reward.value == view.STORED
    assert "its invalid SMILES already dropped there" in caption(app, "Scored from")


def test_filters_and_order_survive_a_visit_to_another_screen(app, folder):
    # a chemist checks a molecule on Explore and comes back to the same view of the library
    opened(app, folder)
    app.toggle(key=view.UNIQUE).set_value(True).run()
    app.checkbox(key=view.INVALID).check().run()
    app.session_state[view.RANGES] = ["mw"]
    app.session_state["library::range::mw"] = (300.0, 350.0)
    app.run()
    app.text_input(key=view.SMARTS).set_value("c1ccccc1").run()
    app.selectbox(key=view.ORDER_BY).set_value("qed").run()
    app.toggle(key=view.LOWEST_FIRST).set_value(True).run()
    app.selectbox(key=view.PAGE_SIZE).set_value(96).run()
    before = table(app)
    app.switch_page("screens/explore.py").run()
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    assert app.toggle(key=view.UNIQUE).value and app.checkbox(key=view.INVALID).value
    assert app.session_state["library::range::mw"] == (300.0, 350.0)
    assert app.text_input(key=view.SMARTS).value == "c1ccccc1"
    assert app.selectbox(key=view.ORDER_BY).value == "qed"
    assert app.toggle(key=view.LOWEST_FIRST).value
    assert app.selectbox(key=view.PAGE_SIZE).value == 96
    pd.testing.assert_frame_equal(table(app), before)
