"""What a chemist checks, on the Explore screen through AppTest: alert and scaffold headline
figures against base, the filter that hides flagged molecules, similarity to pasted
reference SMILES (sort, filter, export), the scaffold and cluster views, "pick N diverse",
and their own molecules uploaded beside the run. Real molecules from the fixture in a run
injected beside the tiny checkpoint."""
import json

import pandas as pd
from streamlit.testing.v1 import AppTest

from app import state
from app.components import filters, grid, notes, own
from app.components.export import export_table
from engine.chem.alerts import FAMILY_COLUMNS, batch_alerts, flagged
from engine.chem.diversity import reference_similarity, unique_scaffolds
from tests.test_app import APP, app, inject_run, metric, show  # noqa: F401  (app is a fixture)


def test_headline_alert_rate_and_good_scaffolds_against_base(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.run()
    assert not app.exception, app.exception
    alerts = next(m for m in app.metric if m.label == "Structural alerts")
    rate = batch_alerts(run.molecules["smiles"].tolist())[
        ["alert_pains", "alert_brenk", "alert_nih"]].any(axis=1).mean()
    assert alerts.value == f"{rate:.1%}" and "vs base" in alerts.delta
    good = metric(app, "Scaffolds, reward ≥ 0.8")
    assert good == str(unique_scaffolds(run.molecules["smiles"], run.molecules["reward"], 0.8))


def test_hiding_flagged_molecules_filters_every_view(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.session_state[filters.HIDE] = list(FAMILY_COLUMNS)
    show(app, "Table")
    flags = batch_alerts(run.molecules["smiles"].tolist())
    clean = run.molecules[~flagged(flags).to_numpy()]
    table = app.dataframe[0].value
    assert set(table["smiles"]) == set(clean["smiles"]) and 0 < len(table) < len(run.molecules)
    assert any(f"{len(run.molecules) - len(clean)} hidden for flags" in c.value
               for c in app.caption)
    app.session_state[filters.HIDE] = []
    show(app, "Table")
    assert len(app.dataframe[0].value) == len(run.molecules)
    assert "alerts" in app.dataframe[0].value and "alert_pains" in app.dataframe[0].value


def test_reference_similarity_sorts_filters_and_is_exported(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    lead = run.molecules["smiles"].iloc[5]
    app.session_state[filters.REFS] = f"{lead}\n\n"
    show(app, "Table")
    table = app.dataframe[0].value
    assert table["smiles"].iloc[0] == lead and table["similarity"].iloc[0] == 1.0
    assert table["similarity"].is_monotonic_decreasing
    app.session_state[filters.MIN_SIM] = 0.3
    show(app, "Table")
    near = app.dataframe[0].value
    assert 1 <= len(near) < len(run.molecules) and (near["similarity"] >= 0.3).all()
    show(app, "Molecules")
    assert "Similarity to a reference" in app.selectbox(key="grid::sort").options
    frame = pd.concat([run.molecules, reference_similarity(run.molecules["smiles"], [lead])],
                      axis=1)
    exported = export_table(frame, run, run.reward)
    assert list(exported.columns[:7]) == ["smiles", "source", "name", "given_smiles",
                                          "reward", "similarity", "nearest_reference"]
    assert exported["similarity"].iloc[5] == 1.0 and {"alerts", "scaffold"} <= set(exported)


def test_a_bad_reference_is_named_and_the_views_still_render(app, tiny_checkpoint):
    inject_run(app, tiny_checkpoint)
    app.session_state[filters.REFS] = "CCO\nC1CC"
    show(app, "Table")
    assert "cannot parse: C1CC" in app.error[0].value
    assert "similarity" not in app.dataframe[0].value


def test_scaffold_and_cluster_views_add_members_to_the_selection(app, tiny_checkpoint):
    inject_run(app, tiny_checkpoint)
    show(app, "Scaffolds")
    scaffolds = app.dataframe[0].value
    assert list(scaffolds.columns) == ["structure", "molecules", "mean_reward", "best_reward",
                                       "scaffold"]
    assert scaffolds["molecules"].is_monotonic_decreasing
    app.session_state["scaffolds::table"] = {"selection": {"rows": [0], "columns": []}}
    show(app, "Scaffolds")
    assert len(app.dataframe[1].value) == scaffolds["molecules"].iloc[0]   # its members
    app.button(key="scaffolds::members::select").click().run()
    assert len(app.session_state[state.SELECTION]) == scaffolds["molecules"].iloc[0]
    app.session_state["scaffolds::by"] = "Butina cluster"
    show(app, "Scaffolds")
    clusters = app.dataframe[0].value
    assert clusters["molecules"].sum() == scaffolds["molecules"].sum()
    assert clusters["molecules"].is_monotonic_decreasing and clusters["cluster"].iloc[0] == 0


def test_pick_n_diverse_adds_to_the_selection(app, tiny_checkpoint):
    inject_run(app, tiny_checkpoint)
    app.run()
    app.number_input(key=filters.PICK_N).set_value(5)
    app.button(key="filters::pick").click().run()
    assert not app.exception, app.exception
    assert len(app.session_state[state.SELECTION]) == 5
    assert any("5 diverse molecules added" in c.value for c in app.caption)
    app.button(key="filters::pick").click().run()
    assert len(app.session_state[state.SELECTION]) == 10


def test_own_molecules_are_scored_listed_and_shown_beside_the_run(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.run()
    leads = b"CN1CCC[C@H]1c1cccnc1 nicotine\nC1CC broken ring\nc1ccccc1O phenol\n"
    app.file_uploader(key=own.UPLOAD).upload("leads.smi", leads, "text/plain").run()
    assert not app.exception, app.exception
    assert any(m.value.startswith("**2** read from `leads.smi`, **1** unreadable")
               for m in app.markdown)
    listed = next(d.value for d in app.dataframe if "reason" in d.value)
    assert listed.to_dict("records") == [{"row": 2, "name": "broken ring", "given": "C1CC",
                                          "reason": "RDKit could not parse or sanitize this "
                                                    "SMILES"}]
    show(app, "Table")
    table = next(d.value for d in app.dataframe if "structure" in d.value)
    assert len(table) == len(run.molecules) + 2
    mine = table[table["source"] == "leads.smi"]
    assert sorted(mine["name"]) == ["nicotine", "phenol"]
    nicotine = mine.loc[mine["name"] == "nicotine", "reward"].iloc[0]
    assert 0 < nicotine <= 1                       # scored with the current (CNS) reward
    exported = export_table(table.drop(columns=["structure"]), run, run.reward)
    assert exported.loc[exported["source"] == "leads.smi", "run"].isna().all()
    assert (exported.loc[exported["source"] == run.label, "run"] == run.number).all()
    app.toggle(key=own.SHOW).set_value(False)
    show(app, "Table")
    table = next(d.value for d in app.dataframe if "structure" in d.value)
    assert len(table) == len(run.molecules)


def test_own_molecules_are_scored_as_score_scores_them(app, tiny_checkpoint):
    # a salt's largest fragment, neutralized: the dashboard and `score` agree
    from engine.chem.properties import batch_properties  # noqa: PLC0415

    inject_run(app, tiny_checkpoint)
    app.run()
    salts = (b"CC(=O)[O-].[Na+] sodium acetate\nCCN.Cl ethylamine HCl\nc1ccccc1O phenol\n"
             b"[Na+].[Cl-] table salt\n")
    app.file_uploader(key=own.UPLOAD).upload("salts.smi", salts, "text/plain").run()
    assert not app.exception, app.exception
    listed = next(d.value for d in app.dataframe if "reason" in d.value)   # not scored
    assert listed["given"].tolist() == ["[Cl-].[Na+]"]   # as read (canonical)
    assert listed["reason"].iloc[0].startswith("no carbon atom: an inorganic salt")
    show(app, "Table")
    table = next(d.value for d in app.dataframe if "structure" in d.value)
    mine = table[table["source"] == "salts.smi"].set_index("name")
    assert mine["smiles"].to_dict() == {"sodium acetate": "CC(=O)O",
                                        "ethylamine HCl": "CCN", "phenol": "Oc1ccccc1"}
    assert mine.loc["sodium acetate", "given_smiles"] == "CC(=O)[O-].[Na+]"
    acid = batch_properties(["CC(=O)O"]).iloc[0]
    assert mine.loc["sodium acetate", "mw"] == acid["mw"]
    assert mine.loc["sodium acetate", "heavy_atoms"] == 4
    run = app.session_state[state.RUNS][0]
    exported = export_table(table.drop(columns=["structure"]), run, run.reward)
    salts_rows = exported[exported["source"] == "salts.smi"].set_index("name")
    assert salts_rows.loc["sodium acetate", "given_smiles"] == "CC(=O)[O-].[Na+]"
    assert salts_rows.loc["sodium acetate", "smiles"] == "CC(=O)O"


def test_own_molecules_notes_and_their_selection_come_back_in_a_new_session(app,
                                                                           tiny_checkpoint):
    """An upload is an imported set of the project and a note is kept with its run: a
    reload (a new session) shows both, and a selected molecule of yours keeps its ID."""
    run = inject_run(app, tiny_checkpoint)
    app.run()
    app.file_uploader(key=own.UPLOAD).upload("leads.smi", b"c1ccccc1O phenol\nCCO ethanol\n",
                                             "text/plain").run()
    show(app, "Table")
    table = next(d.value for d in app.dataframe if "structure" in d.value)
    phenol = table.loc[table["name"] == "phenol", "id"].iloc[0]
    assert not phenol.startswith(f"{run.project_id}:")            # an ID of its own set
    app.session_state["grid::smarts"] = "[OX2H]c1ccccc1"
    show(app, "Molecules")
    app.checkbox(key=f"grid::sel::{phenol}").check().run()
    assert app.session_state[state.SELECTION] == {phenol}
    app.text_area(key=notes.TEXT).input("phenol is our lead")
    app.button(key="FormSubmitter:notes::form-Add note").click().run()
    assert not app.exception, app.exception

    again = AppTest.from_file(APP, default_timeout=90)
    again.session_state["explore::run"] = run.id
    again.run()
    assert not again.exception, again.exception
    assert any(m.value.startswith("**2** read from `leads.smi`") for m in again.markdown)
    assert any("phenol is our lead" in m.value for m in again.markdown)
    assert "Notes (1)" in [p.proto.popover.label for p in again.get("popover")]
    assert again.session_state[state.SELECTION] == {phenol}
    show(again, "Table")
    table = next(d.value for d in again.dataframe if "structure" in d.value)
    assert sorted(table.loc[table["source"] == "leads.smi", "name"]) == ["ethanol", "phenol"]

def test_range_filters_on_any_column(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.session_state[filters.RANGES] = ["mw", "d_tpsa"]
    show(app, "Table")
    assert len(app.dataframe[0].value) == len(run.molecules)   # full ranges keep everything
    low = float(run.molecules["mw"].min())
    app.slider(key="filters::range::mw").set_value((low, 300.0))
    app.slider(key="filters::range::d_tpsa").set_value((0.5, 1.0)).run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    expected = run.molecules[run.molecules["mw"].between(low, 300)
                             & run.molecules["d_tpsa"].between(0.5, 1)]
    assert set(table["smiles"]) == set(expected["smiles"]) and 0 < len(table) < len(run.molecules)
    assert any(f"{len(run.molecules) - len(table)} outside the range filters" in c.value
               for c in app.caption)


def test_grid_sorts_by_two_columns(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.session_state["grid::sort"] = "hbd"          # few values: many ties
    app.session_state["grid::then"] = "reward"
    show(app, "Molecules")
    cards = [c.key.removeprefix("grid::sel::") for c in app.checkbox
             if c.key.startswith("grid::sel::")]
    ranked = run.molecules.sort_values(["hbd", "reward"], ascending=False, kind="stable")
    assert cards == ranked["id"].head(len(cards)).tolist()


def test_reward_editor_says_how_much_of_the_bank_meets_each_term(app):
    app.number_input(key="rw::mw::low").set_value(100.0)
    app.number_input(key="rw::mw::high").set_value(150.0).run()
    assert any("0.0% of the prior bank meets this term: outside what this model has seen"
               in w.value for w in app.warning)
    app.number_input(key="rw::mw::high").set_value(5000.0).run()   # high first: an edit
    app.number_input(key="rw::mw::low").set_value(4000.0).run()    # leaving low > high is undone
    assert any("100.0% of the prior bank already meets this term: it changes nothing"
               in w.value for w in app.warning)
    assert any("of the prior bank already meets this term (d = 1)" in c.value
               for c in app.caption)


def test_larger_grid_drawings_on_demand(app, tiny_checkpoint, monkeypatch):
    from app import chemview  # noqa: PLC0415

    sizes = []
    real = chemview.mol_svg

    def recorded(smiles, smarts="", width=260, height=190):
        sizes.append((width, height))
        return real(smiles, smarts, width, height)

    monkeypatch.setattr(chemview, "mol_svg", recorded)
    inject_run(app, tiny_checkpoint)
    show(app, "Molecules")
    assert set(sizes) == {grid.SMALL}
    sizes.clear()
    app.toggle(key="grid::large").set_value(True).run()
    assert not app.exception, app.exception
    assert len([c for c in app.checkbox if c.key.startswith("grid::sel::")]) == 12
    assert set(sizes) == {grid.LARGE}


def test_pick_n_diverse_picks_from_the_run_shown_not_the_upload(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.run()
    unusual = [f"{'C' * k}Br" for k in range(1, 9)] + ["IC(I)(I)I", "FC(F)(F)C(F)(F)F",
                                                      "[Na+].[Cl-]", "O=[Se]=O"]
    upload = "\n".join(f"{s} u{i}" for i, s in enumerate(unusual)).encode()
    app.file_uploader(key=own.UPLOAD).upload("far.smi", upload, "text/plain").run()
    app.number_input(key=filters.PICK_N).set_value(8)
    app.button(key="filters::pick").click().run()
    assert not app.exception, app.exception
    picked = app.session_state[state.SELECTION]
    assert len(picked) == 8 and all(m.startswith(f"{run.project_id}:") for m in picked)


def test_several_uploaded_sets_show_in_every_view_and_a_failed_upload_hides_none(
        app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.run()
    app.file_uploader(key=own.UPLOAD).upload("leads.smi", b"c1ccccc1O phenol\nCCO ethanol\n",
                                             "text/plain").run()
    app.file_uploader(key=own.UPLOAD).upload("actives.smi", b"CN1CCC[C@H]1c1cccnc1 nicotine\n",
                                             "text/plain").run()
    app.file_uploader(key=own.UPLOAD).upload("broken.csv", b"id,structure\na,CCO\n",
                                             "text/csv").run()
    assert not app.exception, app.exception
    assert any("broken.csv: no SMILES column" in e.value and "stay as they were" in e.value
               for e in app.error)
    show(app, "Table")
    table = next(d.value for d in app.dataframe if "structure" in d.value)
    assert table["source"].value_counts().to_dict() == {run.label: len(run.molecules),
                                                        "leads.smi": 2, "actives.smi": 1}
    show(app, "Distribution")
    chart = json.loads(next(c.proto.spec for c in app.get("plotly_chart")
                            if "reward (" in c.proto.spec))
    names = [trace.get("name") for trace in chart["data"]]
    assert {"leads.smi", "actives.smi", "base model"} <= set(names)


def test_reward_editor_says_a_term_cannot_be_met_beyond_its_property_s_range(app):
    from app import labels  # noqa: PLC0415

    # fsp3 is a fraction: a high of 1.5 is beyond it, not merely beyond what the model saw
    app.toggle(key="rw::fsp3::on").set_value(True).run()
    app.radio(key="rw::fsp3::goal").set_value("maximize").run()
    app.number_input(key="rw::fsp3::low").set_value(0.3).run()
    app.number_input(key="rw::fsp3::high").set_value(1.5).run()
    assert not app.exception, app.exception
    texts = [w.value for w in app.warning]
    label = labels.LABELS["fsp3"]   # the editor's name for it, not the file's
    assert (f"{label} lies between 0 and 1: no molecule reaches desirability 1 on this term "
            f"(it needs {label} >= 1.5)") in texts
    assert not any("outside what this model has seen" in t for t in texts)
    app.number_input(key="rw::fsp3::high").set_value(0.9).run()   # within reach again
    assert not any("no molecule reaches" in w.value for w in app.warning)
    # a term at 0 for every molecule, with the geometric mean: the whole reward is 0
    app.number_input(key="rw::fsp3::high").set_value(1.5).run()
    app.number_input(key="rw::fsp3::low").set_value(1.2).run()
    app.radio(key="rw::aggregate").set_value("geometric").run()
    assert any(e.value.startswith("With the weighted geometric mean the reward is 0 for "
                                  f"every molecule: {label} can never") for e in app.error)


def test_each_card_lists_every_property_the_reward_scores(app, tiny_checkpoint):
    # CNS penetrant scores five properties: a card lists all five, not the first four
    from app import labels  # noqa: PLC0415
    from app.components.reward_editor import REWARD  # noqa: PLC0415

    inject_run(app, tiny_checkpoint)
    show(app, "Molecules")
    assert not app.exception, app.exception
    reward = app.session_state[REWARD]
    assert len(reward.properties) == 5
    cards = [m.value for m in app.markdown if m.value.startswith("**reward ")]
    assert cards
    for card in cards:
        for prop in reward.properties:
            assert f"{labels.short(prop)} " in card, (prop, card)
