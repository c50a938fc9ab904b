"""The shipped demo project (assets/demo/, rebuilt by scripts/build_demo.py): made by the
shipped model as it is now, small, opened read-only, and copied on the first change."""
import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import open_project, state
from engine.project import Project, ProjectError, checkpoint_id
from engine.sampling import methods as M

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "demo"
MODEL = ROOT / "assets" / "model"
APP = str(ROOT / "app" / "main.py")
MAX_BYTES = 5_000_000


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_demo_was_made_by_the_shipped_model():
    demo = Project.open(DEMO, read_only=True)
    recorded = json.loads(demo.value("demo:model"))
    assert recorded == {name: hashlib.sha256((MODEL / name).read_bytes()).hexdigest()
                        for name in ("model.safetensors", "config.json")}, (
        "assets/model changed since the demo was built: run "
        "`nice -n 5 python3 scripts/build_demo.py`")
    runs = demo.runs()
    assert {r.checkpoint_id for r in runs} == {checkpoint_id(MODEL)}
    generated = [r for r in runs if r.kind == "generated"]
    kinds = {(r.reward_name, r.settings["method"], r.settings["candidates"]) for r in generated}
    rewards = {r.reward_name for r in generated}
    assert len(rewards) == 3 and len(generated) == 12
    assert kinds == {(name, method, candidates) for name in rewards for method, candidates in
                     [("base", 1), ("rcfg", M.METHODS["rcfg"].default_candidates),
                      (M.DEFAULT_METHOD, M.METHODS[M.DEFAULT_METHOD].default_candidates),
                      ("base", 17)]}
    assert all(r.n == M.DASHBOARD_N and r.settings["seed"] == 0 for r in runs)
    assert sum(size for size, _ in _files(DEMO).values()) < MAX_BYTES
    assert not any(name.endswith(("-wal", "-shm", "-journal")) for name in _files(DEMO))


def _small_project(folder: Path) -> Project:
    p = Project.open(folder)
    run = p.add_run(pd.DataFrame({"smiles": ["CCO", "c1ccccc1O"]}), name="first")
    p.save_selection("current selection", [f"{run.id}:1"])
    p.add_note("keep", run_id=run.id)
    return p


def test_a_read_only_project_refuses_changes_and_its_copy_takes_them(tmp_path):
    _small_project(tmp_path / "shipped")
    before = _files(tmp_path / "shipped")
    shipped = Project.open(tmp_path / "shipped", read_only=True)
    (run,) = shipped.runs()
    for change in (lambda: shipped.add_run(pd.DataFrame({"smiles": ["C"]}), name="x"),
                   lambda: shipped.rename_run(run.id, "renamed"),
                   lambda: shipped.delete_run(run.id),
                   lambda: shipped.save_selection("other", []),
                   lambda: shipped.add_note("no", run_id=run.id)):
        with pytest.raises(ProjectError, match="read-only project"):
            change()
    shipped.set_value("rates", "{}")                    # kept for this process only
    assert shipped.value("rates") == "{}"
    assert _files(tmp_path / "shipped") == before       # not even a journal beside it
    with pytest.raises(ProjectError, match="no project catalogue"):
        Project.open(tmp_path / "none", read_only=True)

    copy = shipped.copy_to(tmp_path / "mine")
    assert copy.runs() == shipped.runs() and not copy.read_only
    assert copy.selection("current selection").members == (f"{run.id}:1",)
    assert copy.notes(run.id)[0]["text"] == "keep" and copy.value("rates") == "{}"
    assert copy.molecules(run.id)["smiles"].tolist() == ["CCO", "c1ccccc1O"]
    copy.rename_run(run.id, "mine now")
    assert shipped.run(run.id).name == "first"
    with pytest.raises(ProjectError, match="holds files"):
        shipped.copy_to(tmp_path / "mine")


def _banner(at: AppTest, text: str) -> str:
    return next(i.value for i in at.info if text in i.value)


@pytest.fixture
def demo_app(monkeypatch) -> AppTest:
    """The dashboard started as `streamlit run app/main.py -- --demo` (shipped model)."""
    monkeypatch.delenv("RCFG_CHECKPOINT", raising=False)
    monkeypatch.setattr(sys, "argv", ["app/main.py", "--demo"])
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_demo_opens_on_stored_results_and_a_change_goes_to_a_copy(demo_app,
                                                                       project_folder):
    at, before = demo_app, _files(DEMO)
    assert "--project projects/NAME" in _banner(at, "Demo project (read-only)")
    assert len(at.session_state[state.RUNS]) == 12
    shown = state.run_by_id(at.session_state["explore::run"])
    assert shown.settings["method"] == M.DEFAULT_METHOD        # the newest run, no sampling
    assert any(m.label == "Mean reward" for m in at.metric)
    assert any(p.proto.popover.label == "Project: demo" for p in at.get("popover"))

    at.text_area(key="notes::text").set_value("a series to follow")
    at.button(key="FormSubmitter:notes::form-Add note").click().run()
    assert not at.exception, at.exception
    copy = Path(at.session_state[open_project.COPIED])
    assert copy.parent == project_folder.resolve().parent and copy.name.startswith("demo-copy")
    assert str(copy.name) in _banner(at, "Your copy of the demo")
    assert any(p.proto.popover.label == f"Project: {copy.name}" for p in at.get("popover"))
    mine = Project.open(copy)
    assert len(mine.run_ids("generated")) == 12
    assert [n["text"] for n in mine.notes(shown.project_id)] == ["a series to follow"]
    assert _files(DEMO) == before                              # the shipped demo untouched
