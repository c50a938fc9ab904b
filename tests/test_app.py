"""The dashboard through Streamlit's AppTest: every screen renders, Generate produces a run
and its charts, a reward change re-scores without sampling, a bad reward is refused with
the engine's message while the previous one stays, and one selection is shared by grid,
table and export. Uses the tiny checkpoint from conftest through $RCFG_CHECKPOINT."""
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import labels, open_project, state
from app.components import sampling
from app.components.export import export_table, selected_table
from app.components.reward_editor import REWARD
from engine.chem.rewards import load_reward
from engine.chem.scoring import score_molecules
from engine.model.checkpoint import load_checkpoint
from engine.sampling import methods as M
from engine.sampling.sampler import SETTING_COLUMNS, SampleSettings

APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
FIXTURE_SMILES = Path(__file__).parent / "data" / "smiles.csv"
CURVES = sorted(f"rw::plot::{p}" for p in load_reward("cns_penetrant").properties)
BAD_BOUNDS = """name = "broken"
[[terms]]
property = "qed"
goal = "maximize"
low = 0.9
high = 0.2
"""


@pytest.fixture
def app(tiny_checkpoint, monkeypatch) -> AppTest:
    monkeypatch.setenv("RCFG_CHECKPOINT", str(tiny_checkpoint))
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def inject_run(at: AppTest, tiny_checkpoint, n: int = 40) -> state.Run:
    """A finished run made of real molecules (the tiny model's are all invalid)."""
    smiles = pd.read_csv(FIXTURE_SMILES)["smiles"].head(2 * n).tolist()
    reward = load_reward("cns_penetrant")
    settings = SampleSettings(n=n, ys=4)

    def table(part):
        frame = score_molecules(part, reward)
        for column in SETTING_COLUMNS:
            frame[column] = getattr(settings, column)
        frame["nll"] = 30.0
        return frame

    run = state.Run(number=1, settings=asdict(settings), molecules=table(smiles[:n]),
                    base=table(smiles[n:]), reward=reward,
                    summary={"wall_time_s": 1.0, "molecules_per_s": n, "device": "cpu"},
                    ckpt=load_checkpoint(tiny_checkpoint), checkpoint=str(tiny_checkpoint))
    open_project.save_run(run)     # as Generate does: the molecules get their project IDs
    at.session_state[state.RUNS] = [run]
    at.session_state["explore::run"] = run.id
    return run


def show(at: AppTest, view: str) -> AppTest:
    at.session_state["explore::view"] = view
    at.run()
    assert not at.exception, at.exception
    return at


def badges(at: AppTest, text: str) -> list[str]:
    """st.badge renders as markdown `:color-badge[text]`."""
    return [m.value for m in at.markdown if "-badge[" in m.value and text in m.value]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def molecules_shown(at: AppTest) -> int:
    """The molecule count the headline gives (under the time)."""
    delta = next(m.delta for m in at.metric if m.label == "Time")
    return int(delta.split(" molecules")[0].replace(",", ""))


def test_explore_defaults(app):
    assert app.selectbox(key="s::method").value == M.DEFAULT_METHOD
    # the engine's defaults, not a copy of them
    default = M.METHODS[M.DEFAULT_METHOD]
    assert app.slider(key="s::ys").value == M.DEFAULT_YS
    assert app.slider(key=f"s::gamma::{M.DEFAULT_METHOD}").value == default.default_gamma
    assert (app.number_input(key=f"s::candidates::{M.DEFAULT_METHOD}").value
            == default.default_candidates)
    assert app.selectbox(key="s::advantage").value == M.DEFAULT_ADVANTAGE
    assert app.slider(key="s::plausibility").value == M.DEFAULT_PLAUSIBILITY
    assert app.checkbox(key="s::grammar").value is True
    assert app.checkbox(key="s::ring_check").value is True
    assert app.number_input(key="s::n").value == M.DASHBOARD_N
    assert app.selectbox(key="rw::preset").value == "cns_penetrant"
    assert any("-badge[" in m.value and ("CPU" in m.value or "GPU" in m.value)
               for m in app.markdown)
    assert "Generate" in [b.label for b in app.button]
    assert app.info and "Generate" in app.info[0].value
    # one desirability curve per term of the preset, and nothing else before a Generate
    assert sorted(c.key for c in app.get("plotly_chart")) == CURVES


def test_generate_draws_the_run(app):
    app.number_input(key="s::n").set_value(12)
    app.button(key="s::generate").click().run(timeout=120)
    assert not app.exception, app.exception
    runs = app.session_state[state.RUNS]
    assert len(runs) == 1 and runs[0].settings["n"] == 12 and len(runs[0].molecules) == 12
    assert molecules_shown(app) == 12
    assert {"Mean reward", "Base model", "Normalized score", "Validity", "Uniqueness",
            "Time", "Mean reward, valid only"} <= {m.label for m in app.metric}
    assert next(m for m in app.metric if m.label == "Uniqueness").delta.startswith("novelty")
    # the tiny test model writes no valid SMILES: the run is flagged, with what to change
    assert any("are valid" in w.value and "plausibility" in w.value for w in app.warning)
    charts = sorted(c.key for c in app.get("plotly_chart"))
    assert charts == sorted([*CURVES, "dist::plot"])   # the curves and the distribution
    # the finished Generate leaves its phase log (the live chart of molecules is gone)
    log = " ".join(c.value for c in app.caption)
    assert all(p in log for p in ("Decoding", "Keeping the best candidate",
                                  "Base model comparison"))
    timing = app.session_state[sampling.TIMING]
    assert 0 < timing["first_molecules_s"] <= timing["total_s"] and timing["needs_base"]
    # the rates measured here serve the estimate of the next session on this machine
    measured = app.session_state[sampling.RATES]
    assert set(measured) == {"base"} and runs[0].settings["first_chunk"] == 32   # 1 row each
    fresh = AppTest.from_file(APP, default_timeout=90)
    fresh.run()
    estimate = next(c.value for c in fresh.sidebar.caption if "forward rows" in c.value)
    assert "measured on this machine's last runs" in estimate
    for view in ("Pareto", "Molecules", "3D", "Table", "History"):
        show(app, view)
    assert len(app.dataframe) == 1  # the History table
    app.slider(key=f"s::gamma::{M.DEFAULT_METHOD}").set_value(4.0).run()
    assert len(app.session_state[state.RUNS]) == 1  # a slider never samples


def test_views_with_real_molecules(app, tiny_checkpoint):
    first = inject_run(app, tiny_checkpoint)
    run = replace(first, number=2, id="second", settings={**first.settings, "method": "cfg"})
    app.session_state[state.RUNS] = [first, run]
    app.session_state["explore::run"] = run.id
    show(app, "Pareto")
    unmet = run.molecules[[f"d_{p}" for p in run.reward.properties]].mean()
    assert app.selectbox(key="pareto::x").value == unmet.idxmin()[2:]   # the least-met term
    assert any("on the front" in c.value for c in app.caption)
    show(app, "Molecules")
    cards = [c for c in app.checkbox if c.key.startswith("grid::sel::")]
    assert len(cards) == 12  # first page of the grid, one select box per drawing
    show(app, "3D")
    assert app.selectbox(key="3d::smiles").value in set(run.molecules["smiles"])
    show(app, "Table")
    table = app.dataframe[0].value
    assert len(table) == len(run.molecules) and "d_tpsa" in table and "mw" in table
    show(app, "History")
    runs, compare = app.dataframe[0].value, app.dataframe[1].value
    assert runs["run"].tolist() == [first.label, run.label]
    assert compare["metric"].tolist()[:3] == ["mean reward", "base mean", "normalized score"]
    assert compare["B - A"].iloc[0] == "+0.000"  # the same molecules, another method label


def test_reward_change_rescores_without_sampling(app, tiny_checkpoint):
    inject_run(app, tiny_checkpoint)
    app.run()
    before = metric(app, "Mean reward")
    assert not badges(app, "re-scored")  # sampled for this very reward
    app.number_input(key="rw::logp::low").set_value(0.0)
    app.number_input(key="rw::logp::high").set_value(1.0).run()
    assert not app.exception
    assert len(app.session_state[state.RUNS]) == 1
    assert metric(app, "Mean reward") != before
    assert badges(app, "re-scored")


def test_bad_upload_keeps_previous_reward(app):
    previous = app.session_state[REWARD]
    app.file_uploader(key="rw::upload").upload("broken.toml", BAD_BOUNDS.encode(),
                                               "application/toml").run()
    assert not app.exception
    message = app.error[0].value
    assert "broken.toml" in message and "low (0.9) must be below high (0.2)" in message
    assert app.session_state[REWARD] == previous


def test_bad_toml_text_and_bounds_keep_previous_reward(app):
    previous = app.session_state[REWARD]
    app.text_area(key="rw::toml").set_value("name = [unclosed")
    app.button(key="rw::apply").click().run()
    assert "not a TOML reward file" in app.error[0].value
    assert app.session_state[REWARD] == previous
    low = app.number_input(key="rw::mw::low").value
    app.number_input(key="rw::mw::low").set_value(600.0).run()  # above high = 500
    assert "must be below high" in app.error[0].value
    # the field edited may be far below the message: a toast says it too, once per refusal
    assert [t.value for t in app.toast if "must be below high" in t.value]
    assert app.session_state[REWARD] == previous
    app.run()
    assert not app.toast and "must be below high" in app.error[0].value
    assert app.number_input(key="rw::mw::low").value == low     # the field shows it in use
    app.toggle(key="rw::qed::on").set_value(True).run()         # a valid edit applies
    assert not app.error
    assert "qed" in app.session_state[REWARD].properties


def test_preset_switch_and_good_upload(app):
    app.selectbox(key="rw::preset").set_value("lipinski").run()
    assert app.session_state[REWARD].key == "lipinski"
    text = BAD_BOUNDS.replace("low = 0.9", "low = 0.1").replace("broken", "mine")
    app.file_uploader(key="rw::upload").upload("mine.toml", text.encode()).run()
    reward = app.session_state[REWARD]
    assert reward.name == "mine" and reward.properties == ("qed",)
    assert app.toggle(key="rw::qed::on").value and not app.toggle(key="rw::mw::on").value


def test_one_selection_for_grid_table_and_export(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    show(app, "Molecules")
    next(c for c in app.checkbox if c.key.startswith("grid::sel::")).check().run()
    chosen = app.session_state[state.SELECTION]
    assert len(chosen) == 1
    show(app, "Table")
    rows = app.session_state["table::df"]["selection"]["rows"]
    table = app.dataframe[0].value
    assert set(table.iloc[rows]["id"]) == chosen    # molecule IDs: `<run>:<row>`
    show(app, "Distribution")
    assert any(m.value.startswith("**1** selected molecule") for m in app.markdown)
    # the same SMILES in a later run is another molecule: the export keeps where each came from
    (picked,) = chosen
    later = replace(run, number=run.number + 2, id="later", molecules=run.molecules.assign(
        id=run.molecules["id"].str.replace(f"{run.number}:", f"{run.number + 2}:")))
    app.session_state[state.RUNS] = [run, later]
    app.run()
    table = selected_table(run.reward, chosen, [run, later])
    assert table["id"].tolist() == [picked] and table["run"].tolist() == [run.number]
    out = export_table(run.molecules, run, run.reward)
    assert list(out.columns[:5]) == ["smiles", "source", "name", "given_smiles", "reward"]
    assert "d_logp" in out and "seed" in out and "alerts" in out


def test_smarts_filter_and_invalid_smarts(app, tiny_checkpoint):
    inject_run(app, tiny_checkpoint)
    app.session_state["grid::smarts"] = "c1ccccc1"
    show(app, "Molecules")
    assert "contain `c1ccccc1`" in " ".join(c.value for c in app.caption)
    app.text_input(key="grid::smarts").set_value("c1ccc(").run()
    assert "is not a valid SMARTS pattern" in app.error[0].value


def test_extreme_settings_warn_with_an_estimate(app):
    app.selectbox(key="s::method").set_value("rcfg").run()
    app.slider(key="s::ys").set_value(64)
    app.number_input(key="s::n").set_value(2000).run()
    warning = next(w.value for w in app.warning if "Slow settings" in w.value)
    assert "Slow settings" in warning and "132,000 forward rows" in warning
    assert not app.session_state.get(state.RUNS)


def test_runs_page_lists_checkpoints(app, tiny_checkpoint):
    app.switch_page("screens/runs.py").run()
    assert not app.exception, app.exception
    assert any(str(tiny_checkpoint) in e.label for e in app.expander)
    assert app.get("plotly_chart")  # the loss curve from history.jsonl


def test_benchmarks_page_renders(app):
    app.switch_page("screens/benchmarks.py").run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Benchmarks"
    assert app.markdown or app.info
    # the checked-in results are drawn, not dumped: the effect chart and the per-preset table
    assert app.get("plotly_chart")
    tables = [d.value for d in app.dataframe]
    rcfg = next(t for t in tables if "RCFG" in t.columns)
    assert len(rcfg) == 24 and (rcfg["RCFG"] > rcfg["base"]).all()
    matched = [set(t["family"]) for t in tables if "best_of_n_at_cpu" in t.columns]
    assert "tilted_g16" in set.union(*matched) and "rcfg_k16" in set.union(*matched)


def test_state_survives_page_switches(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.number_input(key="s::n").set_value(64)
    app.toggle(key="rw::qed::on").set_value(True).run()
    app.session_state[state.SELECTION] = set(run.molecules["smiles"].head(3))
    edited = app.session_state[REWARD]
    app.switch_page("screens/runs.py").run()
    app.switch_page("screens/explore.py").run()
    assert not app.exception, app.exception
    assert app.session_state[REWARD] == edited and "qed" in edited.properties
    assert app.toggle(key="rw::qed::on").value and app.selectbox(key="rw::preset").value == "Custom"
    assert app.number_input(key="s::n").value == 64
    assert len(app.session_state[state.SELECTION]) == 3
    assert molecules_shown(app) == len(run.molecules)


def _start_button(at: AppTest):
    return next(b for b in at.button if b.label == "Start run")


def test_runs_page_starts_and_watches_a_real_run(app, tmp_path, monkeypatch):
    from engine.train.launch import run_state  # noqa: PLC0415

    monkeypatch.setenv("RCFG_RUNS_DIR", str(tmp_path))
    app.switch_page("screens/runs.py").run()
    assert not app.exception, app.exception
    app.radio(key="launch::kind").set_value("rl").run()
    app.text_input(key="launch::name::rl").set_value("bad name!")
    _start_button(app).click().run()
    assert "is not allowed" in app.error[0].value and not any(tmp_path.iterdir())
    app.text_input(key="launch::name::rl").set_value("first")
    app.number_input(key="launch::steps::rl").set_value(3)
    app.number_input(key="launch::batch").set_value(8)
    app.number_input(key="launch::save_every").set_value(2)
    _start_button(app).click().run()
    assert not app.exception, app.exception
    assert "Started rl run `first`" in app.success[0].value
    deadline = time.time() + 240
    while run_state(tmp_path / "first")["status"] == "running" and time.time() < deadline:
        time.sleep(0.5)
    assert run_state(tmp_path / "first")["status"] == "finished"
    assert load_checkpoint(tmp_path / "first").meta["training"]["save_every"] == 2
    app.run()
    labels = [e.label for e in app.expander]
    assert any(label.startswith("first · rl · finished, step 3 of 3") and
               label.endswith(" s of training") for label in labels)
    assert app.get("plotly_chart")
    _start_button(app).click().run()            # the same name again: refused
    assert "already holds a run" in app.error[0].value


def test_runs_page_passes_the_teacher_filter_to_a_distillation(app, tmp_path, monkeypatch):
    from engine.train.launch import stop  # noqa: PLC0415
    from engine.train.runfolder import PROCESS_FILE  # noqa: PLC0415

    monkeypatch.setenv("RCFG_RUNS_DIR", str(tmp_path))
    app.switch_page("screens/runs.py").run()
    app.radio(key="launch::kind").set_value("distill").run()
    app.text_input(key="launch::name::distill").set_value("student")
    app.checkbox(key="launch::valid_only").check()
    _start_button(app).click().run()
    assert not app.exception, app.exception
    assert "Started distill run `student`" in app.success[0].value
    try:
        command = json.loads((tmp_path / "student" / PROCESS_FILE).read_text())["command"]
        assert command[command.index("--teacher-keep") + 1] == "valid"
    finally:
        stop(tmp_path / "student")


def test_the_teacher_gamma_box_says_empty_is_the_teacher_s_default(app):
    # a placeholder short enough to read; each teacher's default is in its help
    from app.components.launcher import TEACHERS  # noqa: PLC0415
    from engine.sampling import methods  # noqa: PLC0415

    app.switch_page("screens/runs.py").run()
    app.radio(key="launch::kind").set_value("distill").run()
    gamma = app.number_input(key="launch::gamma")
    assert gamma.proto.placeholder == "teacher's default" and gamma.value is None
    # each checkpoint's training record says whose it is
    assert any(c.value.startswith("This checkpoint's last training record: step ")
               for c in app.caption)
    for teacher in TEACHERS:
        spec = methods.METHODS[teacher]
        assert f"{spec.label} {spec.default_gamma:g}" in gamma.help


def test_a_failed_run_shows_why_and_where_resume_restarts(app, tiny_checkpoint, tmp_path,
                                                          monkeypatch):
    """A real run that fails after saves (a distillation at a learning rate of 1,000 whose
    gradients overflow): the panel shows the reason itself, and the step Resume restarts
    from, which is the last save, not the last step shown."""
    from engine.train.launch import launch, run_state  # noqa: PLC0415

    monkeypatch.setenv("RCFG_RUNS_DIR", str(tmp_path))
    out = tmp_path / "too_fast"
    launch("distill", load_reward("tiny_fragment"), out, tiny_checkpoint, steps=40, lr=1000.0,
           save_every=4, batch_size=4, eval_n=4, eval_every=100, device="cpu", threads=1)
    deadline = time.time() + 240
    while run_state(out)["status"] == "running" and time.time() < deadline:
        time.sleep(0.5)
    state_ = run_state(out)
    assert state_["status"] == "failed" and state_["saved_step"] < state_["step"]
    app.switch_page("screens/runs.py").run()
    assert not app.exception, app.exception
    errors = [e.value for e in app.error]
    assert any(e.startswith(f"Failed after step {state_['step']}: distill: 5 steps in a row")
               and "lower learning rate" in e for e in errors), errors
    assert any(f"Resume restarts from step {state_['saved_step']}, the last save" in c.value
               for c in app.caption)


def test_headline_compares_validity_and_valid_only_reward_with_base(app, tiny_checkpoint):
    run = inject_run(app, tiny_checkpoint)
    app.run()
    assert not app.exception, app.exception
    assert not [w for w in app.warning if "are valid" in w.value]   # all 40 are valid
    validity = next(m for m in app.metric if m.label == "Validity")
    assert validity.value == "100.0%" and "vs base (100.0%)" in validity.delta
    valid_only = next(m for m in app.metric if m.label == "Mean reward, valid only")
    reward = load_reward("cns_penetrant")
    expected = score_molecules(run.molecules["smiles"].tolist(), reward)["reward"].mean()
    assert valid_only.value == f"{expected:.3f}"


def _fields_equal_reward(at: AppTest) -> None:
    """Every editor field shows the reward in use, and nothing else."""
    reward = at.session_state[REWARD]
    assert at.selectbox(key="rw::preset").value == (reward.key or "Custom")
    for term in reward.terms:
        assert at.toggle(key=f"rw::{term.property}::on").value
        for field in ("low", "high", "weight") + (("ramp",) if term.goal == "range" else ()):
            assert at.number_input(key=f"rw::{term.property}::{field}").value == \
                getattr(term, field), (term.property, field)
    on = {t.key.split("::")[1] for t in at.toggle if t.key.startswith("rw::") and t.value}
    assert on == set(reward.properties)


def test_editor_fields_are_the_reward_in_use_after_page_switches(app):
    """Explore, Runs, Explore: the preset, every toggle and every bound still show the
    reward the curves and the scoring use; a failed upload changes none of them."""
    app.selectbox(key="rw::preset").set_value("3d_complex").run()
    _fields_equal_reward(app)
    for _ in range(2):
        app.switch_page("screens/runs.py").run()
        app.switch_page("screens/explore.py").run()
        assert not app.exception, app.exception
        assert app.session_state[REWARD].key == "3d_complex"
        _fields_equal_reward(app)
    app.file_uploader(key="rw::upload").upload("broken.toml", BAD_BOUNDS.encode(),
                                               "application/toml").run()
    assert app.session_state[REWARD].key == "3d_complex" and app.error
    _fields_equal_reward(app)


def test_editor_numbers_carry_no_float_noise(app):
    app.toggle(key="rw::fsp3::on").set_value(True).run()
    app.radio(key="rw::fsp3::goal").set_value("range").run()
    for field in ("low", "high", "ramp"):
        value = app.number_input(key=f"rw::fsp3::{field}").value
        assert value == float(f"{value:.10g}") and len(repr(value)) <= 12, value


def test_runs_and_selection_survive_a_new_session(tiny_checkpoint, monkeypatch,
                                                  project_folder):
    """A reload is a new session: it finds the project's runs (molecules with IDs and
    InChIKeys, the base set, the reward) and the selection as they were left."""
    monkeypatch.setenv("RCFG_CHECKPOINT", str(tiny_checkpoint))
    first = AppTest.from_file(APP, default_timeout=90)
    first.run()
    first.number_input(key="s::n").set_value(8)
    first.button(key="s::generate").click().run()
    assert not first.exception, first.exception
    (run,) = first.session_state[state.RUNS]
    assert run.molecules["id"].tolist() == [f"{run.project_id}:{i}" for i in range(8)]
    assert "inchikey" in run.molecules
    ids = run.molecules["id"].head(3).tolist()
    from engine.project import Project  # noqa: PLC0415

    Project.open(project_folder).save_selection("current selection",
                                                run.molecules["id"].head(3))
    second = AppTest.from_file(APP, default_timeout=90)
    second.run()
    assert not second.exception, second.exception
    (again,) = second.session_state[state.RUNS]
    assert again.number == run.number and again.name == run.name
    assert again.molecules["smiles"].tolist() == run.molecules["smiles"].tolist()
    assert len(again.base) == len(run.base) and again.reward == run.reward
    assert second.session_state[state.SELECTION] == set(ids)


def test_the_reward_in_use_comes_back_in_a_new_session(app, project_folder):
    app.number_input(key="rw::logp::high").set_value(3.25).run()
    edited = app.session_state[REWARD]
    assert edited.name.endswith("(edited)")
    # the preset's description is kept as what the edit started from, not as its own
    assert edited.description.startswith("Edited from the preset \u201cCNS penetrant")
    assert any(c.value.startswith("Edited from the preset") for c in app.caption)
    again = AppTest.from_file(APP, default_timeout=90)
    again.run()
    assert not again.exception, again.exception
    assert again.session_state[REWARD] == edited
    assert again.number_input(key="rw::logp::high").value == 3.25
    assert again.selectbox(key="rw::preset").value == "Custom"
    from engine.project import Project  # noqa: PLC0415

    Project.open(project_folder).set_value("reward in use", "{not json")   # damaged
    third = AppTest.from_file(APP, default_timeout=90)
    third.run()
    assert not third.exception and third.session_state[REWARD].key == "cns_penetrant"

def test_stored_runs_can_be_renamed_and_deleted(app, project_folder):
    app.number_input(key="s::n").set_value(4)
    app.checkbox(key="s::fix_seed").check().run()   # the same base molecules for both runs
    app.button(key="s::generate").click().run()
    app.text_input(key="project::name").set_value("first try")
    next(b for b in app.button if b.label == "Rename").click().run()
    assert not app.exception, app.exception
    from engine.project import Project  # noqa: PLC0415

    stored = Project.open(project_folder).runs()
    assert [r.name for r in stored if r.kind == "generated"] == ["first try"]
    assert [r.kind for r in stored] == ["base", "generated"]
    app.slider(key=f"s::gamma::{M.DEFAULT_METHOD}").set_value(2.0).run()
    app.button(key="s::generate").click().run()             # the same base molecules:
    stored = Project.open(project_folder).runs()            # stored once, IDs 2, 3
    assert [(r.id, r.kind) for r in stored] == [(1, "base"), (2, "generated"), (3, "generated")]
    # the base set takes no run number: the chemist's first run is #1
    assert [r.number for r in stored] == [None, 1, 2]
    assert [r.label[:3] for r in app.session_state[state.RUNS]] == ["#1 ", "#2 "]
    assert stored[2].settings["base_run"] == 1
    assert stored[2].reward_name == app.session_state[state.RUNS][1].reward.name   # for export
    app.session_state["project::run"] = app.session_state[state.RUNS][1].id
    app.checkbox(key="project::confirm").check().run()
    next(b for b in app.button if b.label == "Delete run").click().run()
    assert app.session_state[state.RUNS][0].label.endswith("first try")
    delete = next(b for b in app.button if b.label == "Delete run")
    assert delete.disabled                                   # needs the confirmation
    app.checkbox(key="project::confirm").check().run()
    next(b for b in app.button if b.label == "Delete run").click().run()
    assert not app.exception, app.exception
    assert app.session_state[state.RUNS] == [] and Project.open(project_folder).runs() == []


def test_the_sidebar_opens_and_creates_projects_beside_this_one(app, tiny_checkpoint,
                                                                project_folder):
    run = inject_run(app, tiny_checkpoint)
    app.run()
    app.text_input(key="project::new").set_value("../escape")
    app.button(key="FormSubmitter:project::create-Create and open").click().run()
    assert "project name '../escape'" in app.error[0].value
    app.text_input(key="project::new").set_value("series-2")
    app.button(key="FormSubmitter:project::create-Create and open").click().run()
    assert not app.exception, app.exception
    assert (project_folder.parent / "series-2" / "project.sqlite").is_file()
    assert app.session_state[state.RUNS] == [] and not app.session_state[state.SELECTION]
    assert any(p.proto.popover.label == "Project: series-2" for p in app.get("popover"))
    app.selectbox(key="project::pick").select(str(project_folder.resolve())).run()
    assert [r.number for r in app.session_state[state.RUNS]] == [run.number]

def test_a_run_stored_from_the_terminal_appears_without_a_reload(app, tiny_checkpoint,
                                                                 project_folder):
    from engine.cli import main  # noqa: PLC0415

    assert app.session_state[state.RUNS] == []
    assert main(["sample", "--checkpoint", str(tiny_checkpoint), "--n", "3", "--device",
                 "cpu", "--out", str(project_folder.parent / "t.csv"), "--project",
                 str(project_folder), "--name", "from the terminal"]) == 0
    app.run()
    assert [r.name for r in app.session_state[state.RUNS]] == ["from the terminal"]


def test_exports_carry_provenance_best_first(app, tiny_checkpoint, project_folder):
    """IDs, InChIKeys, the reward a molecule was made for and the one it is scored with;
    best first; file names give project, reward and run."""
    from app.components.export import file_stem, sorted_by_reward  # noqa: PLC0415

    run = inject_run(app, tiny_checkpoint)
    open_project.save_run(run)                      # as a Generate does: into $RCFG_PROJECT
    qed = load_reward("qed_high")
    out = sorted_by_reward(export_table(run.molecules, run, qed))
    assert out["id"].str.fullmatch(rf"{run.project_id}:\d+").all()
    assert out["inchikey"].str.len().eq(27).all()
    assert (out["generated_for"] == run.reward.name).all()
    assert (out["scored_with"] == qed.name).all()
    assert out["reward"].is_monotonic_decreasing
    stem = file_stem(qed, [run])
    assert stem == f"{project_folder.name}_qed_high_run{run.number}"


def generated(at: AppTest) -> state.Run:
    at.button(key="s::generate").click().run(timeout=120)
    assert not at.exception, at.exception
    return at.session_state[state.RUNS][-1]


def test_a_new_generate_draws_a_new_seed_unless_one_is_fixed(app):
    app.number_input(key="s::n").set_value(6)
    first, second = generated(app), generated(app)
    seeds = first.settings["seed"], second.settings["seed"]
    assert seeds[0] != seeds[1]
    assert first.molecules["smiles"].tolist() != second.molecules["smiles"].tolist()
    # the drawn seed is shown (the Seed field, the run's name, the status line) ...
    assert app.number_input(key="s::seed").value == seeds[1]
    assert f"seed={seeds[1]}" in second.label
    assert any(f"(seed {seeds[1]})" in e.label for e in app.get("status"))
    # ... and reusable: fixed, it makes the same molecules again
    app.checkbox(key="s::fix_seed").check().run()
    again = generated(app)
    assert again.settings["seed"] == seeds[1]
    assert again.molecules["smiles"].tolist() == second.molecules["smiles"].tolist()


def test_a_restarted_server_reuses_the_stored_base_set(app, project_folder):
    from app import resources  # noqa: PLC0415
    from engine.project import Project  # noqa: PLC0415

    app.number_input(key="s::n").set_value(5)
    app.checkbox(key="s::fix_seed").check().run()
    first = generated(app)
    resources._base_sets.clear()     # what a restart forgets: the process's base sets
    again = AppTest.from_file(APP, default_timeout=90)
    again.run()
    again.number_input(key="s::n").set_value(5)
    again.checkbox(key="s::fix_seed").check().run()
    estimate = next(c.value for c in again.sidebar.caption if "forward rows" in c.value)
    assert "comparison set" not in estimate
    second = generated(again)
    assert not again.session_state[sampling.TIMING]["needs_base"]
    assert second.base["smiles"].tolist() == first.base["smiles"].tolist()
    assert [r.kind for r in Project.open(project_folder).runs()].count("base") == 1


def test_the_estimate_after_a_generate_uses_its_rates_and_the_status_splits_the_time(app):
    app.number_input(key="s::n").set_value(6)
    before = next(c.value for c in app.sidebar.caption if "forward rows" in c.value)
    assert "typical for a 2-core CPU" in before
    generated(app)
    after = next(c.value for c in app.sidebar.caption if "forward rows" in c.value)
    assert "measured on this session's runs" in after
    (status,) = [e.label for e in app.get("status") if e.label.startswith("Generated")]
    assert "this run" in status and "the base model's comparison set" in status


def test_a_refused_edit_leaves_the_fields_showing_the_reward_in_use(app):
    in_use = app.session_state[REWARD]
    props = [t.property for t in in_use.terms]
    for prop in props[:-1]:
        app.number_input(key=f"rw::{prop}::weight").set_value(0.0).run()
    edited = app.session_state[REWARD]
    last = props[-1]
    weight = app.number_input(key=f"rw::{last}::weight").value
    app.number_input(key=f"rw::{last}::weight").set_value(0.0).run()
    assert not app.exception, app.exception
    assert any("all term weights are zero" in e.value for e in app.error)
    assert app.session_state[REWARD] == edited                # still in use ...
    assert app.number_input(key=f"rw::{last}::weight").value == weight   # ... and shown
    assert app.text_input(key="rw::name").value == edited.name


def test_a_refused_first_edit_keeps_the_preset_and_names_the_term_as_the_editor_does(app):
    preset = app.session_state[REWARD]
    term = next(t for t in preset.terms if t.property == "logp")
    app.number_input(key="rw::logp::low").set_value(term.high + 1).run()
    (error,) = [e.value for e in app.error]
    assert error.startswith("cLogP (Crippen)") and "term 1" not in error
    assert app.session_state[REWARD] == preset
    assert app.number_input(key="rw::logp::low").value == term.low
    assert app.selectbox(key="rw::preset").value == preset.key


def test_pareto_axes_survive_a_visit_to_another_tab(app, tiny_checkpoint):
    inject_run(app, tiny_checkpoint)
    show(app, "Pareto")
    app.selectbox(key="pareto::x").set_value("qed").run()
    app.radio(key="pareto::xdir").set_value("lower is better").run()
    show(app, "Table")
    show(app, "Pareto")
    assert app.selectbox(key="pareto::x").value == "qed"
    assert app.radio(key="pareto::xdir").value == "lower is better"


def test_molecules_meeting_both_goals_do_not_all_tie_on_the_front(app, tiny_checkpoint):
    from engine.chem.pareto import goal_distance  # noqa: PLC0415

    run = inject_run(app, tiny_checkpoint)
    show(app, "Pareto")
    x, y = (app.selectbox(key=f"pareto::{a}").value for a in "xy")
    assert app.radio(key="pareto::xdir").value == "closer to the term's goal"
    terms = {t.property: t for t in run.reward.terms}
    mols = run.molecules[run.molecules["valid"]].drop_duplicates("smiles")
    met = ((goal_distance(terms[x], mols[x].to_numpy(float)) == 0)
           & (goal_distance(terms[y], mols[y].to_numpy(float)) == 0))
    caption = next(c.value for c in app.caption if "on the front" in c.value)
    on_front = int(caption.split()[0])
    assert met.sum() >= 4 and on_front < met.sum() / 2, (on_front, met.sum())
    assert "widest margin" in caption


def test_the_reward_histogram_draws_the_molecules_at_reward_one():
    # a guided run's tallest bar is often reward 1 exactly: its bin lies inside the axis
    from app.components.results import reward_histograms
    frame = pd.DataFrame({"reward": [1.0] * 9 + [0.5]})
    fig = reward_histograms([("run", frame, "#1f77b4")], load_reward("drug_like"), 300)
    bins, (low, high) = fig.data[0].xbins, fig.layout.xaxis.range
    edges = [bins.start + k * bins.size for k in range(round((bins.end - bins.start)
                                                             / bins.size) + 1)]
    assert low <= edges[0] + 1e-9 and edges[-1] <= high + 1e-9   # every bin is drawn
    for value in (0.0, 1.0):   # invalid (0) and perfect (1): well inside a bin each
        assert min(abs(value - e) for e in edges) >= bins.size / 4


def test_a_new_preset_opens_the_groups_that_hold_its_terms(app):
    # an expander keeps the open state a chemist gave it under its key: each loaded reward
    # draws the groups under new keys, opened where its terms are
    def groups():
        return {e.label.split(" · ")[0]: (e.proto.expanded, e.key) for e in app.expander
                if e.label.split(" · ")[0] in labels.GROUPS}

    app.selectbox(key="rw::preset").set_value("3d_complex").run()
    first = groups()
    app.selectbox(key="rw::preset").set_value("kinase_inhibitor_like").run()
    second = groups()
    kinase = load_reward("kinase_inhibitor_like").properties
    for group, props in labels.GROUPS.items():
        assert second[group][0] == any(p in kinase for p in props), group
        assert second[group][1] != first[group][1]   # a new key: the browser opens it anew
    assert first != second
