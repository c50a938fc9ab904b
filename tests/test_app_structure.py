"""Structure terms in the dashboard, through AppTest: the reward editor's Structure section
(similarity to pasted references re-scores at once and adds its columns; an invalid SMARTS
is refused with the previous reward kept; a reward file's structure terms fill the
section), "Make analogues" from a card and from the table (the reward, the lead's profile
as a target, a run named after its lead), and the filter bar's references beside a reward's
similarity term. Real molecules from the fixture in a run injected beside the tiny
checkpoint."""
import pandas as pd
import pytest

from app import state
from app.components import analogues, filters
from app.components.export import export_table, selected_table
from app.components.reward_editor import ERROR, REWARD
from engine.chem.diversity import reference_similarity
from engine.sampling import methods as M
from tests.test_app import app, inject_run, metric, show  # noqa: F401  (app is a fixture)

SIM, FORBID = "rw::st::similarity::", "rw::st::forbid::"
LEAD_TOML = """name = "paracetamol analogues"
[[terms]]
property = "tpsa"
goal = "range"
low = 40.0
high = 90.0
ramp = 20.0
[[terms]]
structure = "similarity"
references = ["CC(=O)Nc1ccc(O)cc1"]
goal = "range"
low = 0.4
high = 0.8
ramp = 0.2
[[terms]]
structure = "substructure"
smarts = "[N+](=O)[O-]"
goal = "forbid"
[[terms]]
structure = "substructure"
name = "no_acyl_chloride"
smarts = "C(=O)Cl"
goal = "forbid"
"""


def add_similarity(app, references: str):
    app.toggle(key=SIM + "on").set_value(True).run()
    app.text_area(key=SIM + "references").set_value(references).run()
    assert not app.exception, app.exception
    return app.session_state[REWARD]


def test_a_similarity_term_rescores_at_once_and_adds_its_columns(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.run()
    before = metric(app, "Mean reward")
    app.toggle(key=SIM + "on").set_value(True).run()
    # on but empty: not in the reward yet, and the section says so
    assert not app.session_state[REWARD].structures
    assert any("joins the reward once it has one" in i.value for i in app.info)
    lead = run.molecules["smiles"].iloc[3]
    reward = add_similarity(app, f"{lead}\n\n{lead}\n")      # blank and repeated lines go
    (term,) = reward.structures
    assert term.references == (lead,) and (term.low, term.high, term.ramp) == (0.4, 0.8, 0.1)
    assert reward.properties == run.reward.properties
    assert len(app.session_state[state.RUNS]) == 1 and metric(app, "Mean reward") != before
    # the bank's similarity histogram, and which terms steer and which select
    assert "rw::st::plot::similarity" in [c.key for c in app.get("plotly_chart")]
    roles = next(c.value for c in app.caption if "Steer the guidance" in c.value)
    assert "TPSA" in roles and "**Act by selection**" in roles and "`similarity`" in roles
    # a window edit re-scores at once too
    app.slider(key=SIM + "window").set_value((0.9, 1.0)).run()
    assert (app.session_state[REWARD].structures[0].low, metric(app, "Mean reward")) != (
        0.4, before)
    show(app, "Table")
    table = app.dataframe[0].value
    assert {"similarity", "nearest_image", "d_similarity"} <= set(table)
    assert table["similarity"].iloc[0] == 1.0          # the lead itself, most similar first
    exported = selected_table(app.session_state[REWARD], {run.molecules["id"].iloc[3]},
                              [run])
    assert exported["similarity"].tolist() == [1.0]
    assert {"nearest_reference", "d_similarity"} <= set(exported)
    # with one candidate per molecule the sidebar says the structure term selects nothing
    app.number_input(key="s::candidates::tilted").set_value(1).run()
    assert any("act only by choosing among the candidates" in w.value
               for w in app.sidebar.warning)


def test_an_invalid_smarts_shows_an_error_and_keeps_the_previous_reward(app,
                                                                          tiny_checkpoint):
    inject_run(app, tiny_checkpoint)
    app.toggle(key=FORBID + "on").set_value(True).run()
    app.text_area(key=FORBID + "smarts").set_value("[N+](=O)[O-]").run()
    good = app.session_state[REWARD]
    assert [t.smarts for t in good.structures] == [("[N+](=O)[O-]",)]
    app.text_area(key=FORBID + "smarts").set_value("[N+](=O)[O-]\nc1ccc(").run()
    assert not app.exception, app.exception
    message = app.error[0].value
    assert message.startswith("Forbidden substructures (SMARTS): 'c1ccc(' is not a valid "
                              "SMARTS pattern")
    assert "previous valid reward" in message and "stays in its box" in message
    assert app.session_state[REWARD] == good
    assert app.text_area(key=FORBID + "smarts").value == "[N+](=O)[O-]\nc1ccc("   # to fix
    app.text_area(key=FORBID + "smarts").set_value("[N+](=O)[O-]\nc1ccccc1").run()
    assert not app.error and app.session_state[ERROR] is None
    assert app.session_state[REWARD].structures[0].smarts == ("[N+](=O)[O-]", "c1ccccc1")
    show(app, "Molecules")   # the reward's patterns are highlighted on the cards
    assert any("Highlighted: the reward's SMARTS, forbidden `[N+](=O)[O-]`, `c1ccccc1`"
               in c.value for c in app.caption)


def test_a_reward_file_fills_the_structure_section(app):
    app.text_area(key="rw::toml").set_value(LEAD_TOML)
    app.button(key="rw::apply").click().run()
    assert not app.exception and not app.error
    reward = app.session_state[REWARD]
    assert app.toggle(key=SIM + "on").value and app.toggle(key=FORBID + "on").value
    assert app.text_area(key=SIM + "references").value == "CC(=O)Nc1ccc(O)cc1"
    assert app.slider(key=SIM + "window").value == (0.4, 0.8)
    assert any("no_acyl_chloride" in c.value for c in app.caption)   # the second forbid term
    app.number_input(key=SIM + "weight").set_value(2.0).run()        # an edit keeps it
    edited = app.session_state[REWARD]
    assert [t.name for t in edited.structures] == [t.name for t in reward.structures]
    assert edited.structures[0].weight == 2.0 and edited.structures[0].ramp == 0.2


def test_make_analogues_from_a_card_builds_the_reward_and_offers_the_lead(app,
                                                                          tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    previous = app.session_state[REWARD]
    show(app, "Molecules")
    card = next(b for b in app.button if b.key.startswith("grid::analogues::"))
    card.click().run()
    assert not app.exception, app.exception
    molecule_id = card.key.removeprefix("grid::analogues::")
    smiles = run.molecules.set_index("id").loc[molecule_id, "smiles"]
    reward = app.session_state[REWARD]
    # the engine's analogue reward (as `sample --analogues-of`), named after the molecule
    assert reward == previous.analogues_of(smiles, name=reward.name)
    assert reward.name.startswith(f"Analogues of {molecule_id}")
    assert reward.terms == previous.terms
    (term,) = reward.structures
    assert term.references == (smiles,) and term.goal == "range"
    assert (term.low, term.high, term.ramp) == (0.4, 0.8, 0.1)
    assert app.selectbox(key="rw::preset").value == "Custom"
    assert app.toggle(key=SIM + "on").value                  # the editor shows the term
    assert app.text_area(key=SIM + "references").value == smiles
    assert any(reward.name in s.value for s in app.success)
    # the lead's profile is offered as a target; aiming switches to the analogue recipe
    lead = app.session_state[analogues.LEAD]
    assert lead["target"] == reward.lead_profile(smiles) and len(lead["target"]) == 25
    app.button(key="s::aim").click().run()
    assert app.selectbox(key="s::method").value == M.ANALOGUE_METHOD
    assert (app.number_input(key=f"s::candidates::{M.ANALOGUE_METHOD}").value
            == M.ANALOGUE_CANDIDATES)
    assert app.checkbox(key=analogues.AIM).value
    app.number_input(key="s::n").set_value(4)
    app.number_input(key=f"s::candidates::{M.ANALOGUE_METHOD}").set_value(2)
    app.button(key="s::generate").click().run(timeout=120)
    assert not app.exception, app.exception
    made = app.session_state[state.RUNS][-1]
    assert made.settings["target"] == lead["target"] and made.reward == reward
    # the run names its lead (a 25-value target is cut to the project's 200 characters)
    assert made.name.startswith(f"conditional, Analogues of {molecule_id}")
    assert len(made.name) <= 200 and "target of 25 properties #" in made.name


def test_make_analogues_from_the_table(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    show(app, "Table")
    picked = run.molecules["id"].iloc[7]
    app.selectbox(key="table::lead").set_value(picked).run()
    app.button(key="table::lead::go").click().run()
    assert not app.exception, app.exception
    reward = app.session_state[REWARD]
    assert reward.structures[0].references == (run.molecules["smiles"].iloc[7],)
    assert app.session_state[analogues.LEAD]["id"] == picked


def test_the_filter_bar_never_overwrites_the_reward_similarity(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    lead, other = run.molecules["smiles"].iloc[3], run.molecules["smiles"].iloc[9]
    reward = add_similarity(app, lead)
    app.session_state[filters.REFS] = other
    show(app, "Table")
    table = app.dataframe[0].value.set_index("smiles")
    assert table.loc[lead, "similarity"] == 1.0 and table.loc[other, "ref_similarity"] == 1.0
    assert table.loc[other, "similarity"] < 1.0
    assert filters.columns(reward) == filters.RENAMED
    assert filters.columns(run.reward) == filters.PLAIN    # no similarity term: as before
    bar = reference_similarity(run.molecules["smiles"], [other]).set_axis(
        list(filters.RENAMED), axis=1)
    exported = export_table(pd.concat([reward.evaluate(run.molecules), bar], axis=1), run,
                            reward)
    assert list(exported.columns[4:9]) == ["reward", "similarity", "nearest_reference",
                                           "ref_similarity", "ref_nearest"]
    assert exported["ref_similarity"].tolist() == pytest.approx(bar["ref_similarity"].tolist())
    assert exported["nearest_reference"].tolist() == [lead] * len(run.molecules)
