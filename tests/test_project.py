"""Projects on disk: the SQLite catalogue, molecule files, selections, and what survives
a process killed mid-write."""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from engine.chem.rewards import load_reward
from engine.project import (CATALOGUE, MOLECULES, SHIPPED_MODEL, Project, ProjectError,
                            run_name, split_id)
from engine.sampling.sampler import SampleSettings

ROOT = Path(__file__).resolve().parents[1]
SMILES = ["CCO", "c1ccccc1O", "not a smiles", "CC(=O)Nc1ccc(O)cc1"]


def _frame(smiles=SMILES):
    return pd.DataFrame({"smiles": smiles, "valid": [s != "not a smiles" for s in smiles],
                         "reward": [0.1 * i for i in range(len(smiles))]})


def test_a_run_round_trips_with_ids_inchikeys_and_provenance(tmp_path):
    reward = load_reward("drug_like")
    project = Project.open(tmp_path / "p")
    rec = project.add_run(_frame(), name="first", settings={"method": "rcfg", "gamma": 1.0},
                          reward_toml=reward.to_toml(), reward_name=reward.name,
                          checkpoint=str(ROOT / "assets" / "model"),
                          summary={"validity": 0.75})
    again = Project.open(tmp_path / "p")               # a restart sees the same project
    (stored,) = again.runs()
    assert stored == rec and stored.name == "first" and stored.n == 4
    assert stored.settings == {"method": "rcfg", "gamma": 1.0}
    assert len(stored.checkpoint_id) == 16 and stored.summary == {"validity": 0.75}
    frame = again.molecules(rec.id)
    assert frame["id"].tolist() == [f"{rec.id}:{i}" for i in range(4)]
    assert frame.loc[0, "inchikey"] == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"        # ethanol
    assert frame.loc[2, "inchikey"] == ""                                  # invalid row
    assert frame["smiles"].tolist() == SMILES


def test_rename_delete_and_ids_are_never_reused(tmp_path):
    project = Project.open(tmp_path)
    a = project.add_run(_frame(), name="a")
    b = project.add_run(_frame(), name="b")
    assert project.rename_run(a.id, "renamed").name == "renamed"
    files = set((tmp_path / MOLECULES).iterdir())
    project.delete_run(b.id)
    assert len(set((tmp_path / MOLECULES).iterdir())) == len(files) - 1
    c = project.add_run(_frame(), name="c")
    assert c.id == b.id + 1                       # b's molecule IDs stay dead
    base = project.add_run(_frame(), name="base of d and e", kind="base")
    d = project.add_run(_frame(), name="d", settings={"base_run": base.id})
    e = project.add_run(_frame(), name="e", settings={"base_run": base.id})
    project.delete_run(d.id)                      # e is compared with the base set too
    assert [r.name for r in project.runs()] == ["renamed", "c", "base of d and e", "e"]
    project.delete_run(e.id)                      # the last one takes the base set with it
    assert [r.name for r in project.runs()] == ["renamed", "c"]
    with pytest.raises(ProjectError, match=f"no run {b.id}"):
        project.molecules(b.id)


def test_a_stored_base_set_is_found_by_its_weights_settings_and_molecules(tmp_path):
    """One comparison set is stored once: the newest base set of the same weights, the same
    BASE_KEYS settings and (when asked) the same molecules is found again."""
    from engine.sampling.compare import BASE_KEYS  # noqa: PLC0415

    model = str(ROOT / "assets" / "model")
    project = Project.open(tmp_path)
    settings = {"method": "rcfg", "n": 4, "seed": 1, "temperature": 1.0, "top_p": 0.95,
                "grammar": True, "ring_check": True}
    older = project.add_run(_frame(), name="older", kind="base", settings=settings,
                            checkpoint=model)
    newer = project.add_run(_frame(), name="newer", kind="base", settings=settings,
                            checkpoint=model)
    project.add_run(_frame(), name="generated", settings=settings, checkpoint=model)
    ident = newer.checkpoint_id
    other_method = {**settings, "method": "tilted", "gamma": 16.0}  # not what a set depends on
    assert project.find_base(ident, other_method, BASE_KEYS) == newer.id
    assert project.find_base(ident, {**settings, "seed": 2}, BASE_KEYS) is None
    assert project.find_base("0" * 16, settings, BASE_KEYS) is None      # other weights
    assert project.find_base("", settings, BASE_KEYS) is None            # no weights at all
    assert project.find_base(ident, settings, BASE_KEYS, smiles=SMILES) == newer.id
    assert project.find_base(ident, settings, BASE_KEYS, smiles=SMILES[::-1]) is None
    assert project.find_base(ident, settings, BASE_KEYS,
                             same_folder=lambda folder: folder != model) is None
    project.delete_run(newer.id)
    assert project.find_base(ident, settings, BASE_KEYS) == older.id


def test_selections_keep_order_and_provenance(tmp_path):
    project = Project.open(tmp_path)
    a = project.add_run(_frame(), name="run a", reward_name="CNS")
    b = project.add_run(_frame(["CCN", "CCC"]), name="run b", reward_name="QED")
    ids = [f"{b.id}:1", f"{a.id}:0", f"{a.id}:3", f"{a.id}:0"]
    sel = project.save_selection("picks", ids, reward_toml="x")
    assert sel.members == (f"{b.id}:1", f"{a.id}:0", f"{a.id}:3")     # duplicates dropped
    rows = Project.open(tmp_path).gather(sel.members)
    assert rows["smiles"].tolist() == ["CCC", "CCO", "CC(=O)Nc1ccc(O)cc1"]
    assert rows["run_name"].tolist() == ["run b", "run a", "run a"]
    assert rows["generated_for"].tolist() == ["QED", "CNS", "CNS"]
    project.save_selection("picks", [f"{a.id}:1"])                  # same name: replaced
    assert project.selection("picks").members == (f"{a.id}:1",)
    project.delete_run(a.id)
    assert project.gather(sel.members)["smiles"].tolist() == ["CCC"]  # gone run left out


def test_notes(tmp_path):
    project = Project.open(tmp_path)
    run = project.add_run(_frame(), name="a")
    project.add_note("looks greasy", run_id=run.id)
    project.add_note("project-wide")
    assert [n["text"] for n in project.notes()] == ["looks greasy", "project-wide"]
    assert [n["text"] for n in project.notes(run.id)] == ["looks greasy"]
    with pytest.raises(ProjectError, match="needs some text"):
        project.add_note("  ")


@pytest.mark.parametrize("call, message", [
    (lambda p: p.add_run(_frame(), name=""), "run name must be 1 to 200 characters"),
    (lambda p: p.add_run(_frame(), name="x", kind="mystery"),
     "run kind must be one of generated, base, imported"),
    (lambda p: p.add_run(pd.DataFrame({"x": [1]}), name="x"), "need a 'smiles' column"),
    (lambda p: p.save_selection("s", ["12"]), "is not of the form '<run id>:<row>'"),
    (lambda p: p.selection("nope"), "no selection named 'nope'"),
    (lambda p: p.rename_run(99, "x"), "no run 99"),
])
def test_bad_requests_name_the_problem(tmp_path, call, message):
    with pytest.raises(ProjectError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(Project.open(tmp_path))


def test_a_file_or_a_corrupt_catalogue_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ProjectError, match="a project is a folder"):
        Project.open(tmp_path / "file")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / CATALOGUE).write_bytes(b"this is not a database" * 100)
    with pytest.raises(ProjectError, match="not a readable project catalogue"):
        Project.open(tmp_path / "p")
    assert split_id("3:14") == (3, 14)


def test_a_project_of_another_format_is_refused_with_both_versions(tmp_path):
    Project.open(tmp_path)
    with sqlite3.connect(tmp_path / CATALOGUE) as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema'")
    with pytest.raises(ProjectError, match="project format 999 is not the supported"):
        Project.open(tmp_path)


WRITER = """
import sys, pandas as pd
from engine.project import Project
p = Project.open(sys.argv[1])
frame = pd.DataFrame({"smiles": ["c1ccccc1CCN"] * 3000, "valid": True, "reward": 0.5})
i = 0
while True:
    rec = p.add_run(frame, name=f"{sys.argv[2]}-{i}")
    print(rec.id, flush=True)
    i += 1
"""


def _writer(project: Path, tag: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(project), tag], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _check_consistent(project_dir: Path) -> list:
    """Every catalogue row's molecules are whole, and the catalogue is intact."""
    project = Project.open(project_dir)
    runs = project.runs()
    for r in runs:
        frame = project.molecules(r.id)
        assert len(frame) == r.n == 3000
        assert frame["id"].iloc[-1] == f"{r.id}:2999"
    with sqlite3.connect(project_dir / CATALOGUE) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return runs


def test_killed_writers_never_corrupt_the_project(tmp_path):
    """SIGKILL a writer at random moments, many times: the project stays readable, every
    stored run is whole, and the committed runs are exactly the ones reported."""
    rng = random.Random(0)
    reported: list[int] = []
    for _ in range(6):
        proc = _writer(tmp_path, "k")
        reported.append(int(proc.stdout.readline()))     # started and stored one run
        time.sleep(rng.uniform(0.0, 1.5))                # then a kill at any moment
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        reported += [int(x) for x in out.split()]
        runs = _check_consistent(tmp_path)
        ids = [r.id for r in runs]
        # a run reported as stored is stored; at most one more (committed, not yet printed)
        assert set(reported) <= set(ids) and len(ids) - len(reported) <= 6
    # files of saves cut short are left alone while young, removed once old
    with sqlite3.connect(tmp_path / CATALOGUE) as db:
        named = {r[0] for r in db.execute("SELECT file FROM runs")}
    orphans = [f for f in (tmp_path / MOLECULES).iterdir() if f.name not in named]
    for f in orphans:
        os.utime(f, (time.time() - 3600,) * 2)
    Project.open(tmp_path)
    assert sorted(f.name for f in (tmp_path / MOLECULES).iterdir()) == sorted(named)


def test_a_base_set_whose_run_was_never_stored_is_removed_once_old(tmp_path):
    """A server killed between storing a base set and its run leaves a base set no run is
    compared with: kept while young (its run may be on the way), removed once old."""
    project = Project.open(tmp_path)
    used = project.add_run(_frame(), name="base of a", kind="base")
    project.add_run(_frame(), name="a", settings={"base_run": used.id})
    lost = project.add_run(_frame(), name="base of a run killed", kind="base")
    Project.open(tmp_path)
    assert [r.id for r in project.runs()] == [used.id, used.id + 1, lost.id]
    with sqlite3.connect(tmp_path / CATALOGUE) as db:
        db.execute("UPDATE runs SET created = '2026-01-01T00:00:00+00:00'")
    Project.open(tmp_path)
    assert [r.name for r in project.runs()] == ["base of a", "a"]
    assert len(list((tmp_path / MOLECULES).iterdir())) == 3     # its file goes once old too

def test_processes_creating_one_new_project_at_once_all_succeed(tmp_path):
    """Switching a new catalogue to WAL answers "locked" without waiting while another
    process creates it: every opener must wait its turn, never fail."""
    code = ("import sys, pandas as pd\nfrom engine.project import Project\n"
            "Project.open(sys.argv[1]).add_run(pd.DataFrame({'smiles': ['CCO']}), name='x')\n")
    for round_ in range(4):
        folder = tmp_path / f"new{round_}"
        procs = [subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        errors = [p.communicate()[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, errors
        assert len(Project.open(folder).runs()) == 4

def test_two_writers_at_once_get_distinct_runs(tmp_path):
    procs = [_writer(tmp_path, tag) for tag in ("a", "b")]
    firsts = [p.stdout.readline().split() for p in procs]   # both have stored a run
    time.sleep(2)                                            # and write side by side
    for p in procs:
        p.send_signal(signal.SIGTERM)
    outs = [f + p.communicate()[0].split() for f, p in zip(firsts, procs)]
    runs = _check_consistent(tmp_path)
    assert {r.name[0] for r in runs} == {"a", "b"}
    assert len({r.id for r in runs}) == len(runs) >= sum(len(o) for o in outs)


# one sampling setting changed from the defaults at a time, with what the name then says
ONE_CHANGE = [
    ({"method": "qtilt"}, None, "qtilt, Veber rules (graded), n=100"),
    ({"gamma": 0.1 * 6}, None, "γ=0.6"),                  # no float noise in the name
    ({"ys": 32}, None, "|Y_S|=32"),
    ({"candidates": 2}, None, "candidates=2"),
    ({"method": "base", "candidates": 5}, None, "best-of-5, Veber rules (graded), n=100"),
    ({"method": "rcfg", "gamma": 16.0}, None, "rcfg, Veber rules (graded), n=100 (γ=16)"),
    ({"advantage": "relative"}, None, "advantage=relative"),
    ({"plausibility": 0.0}, None, "α=0"),
    ({"q_weights": "prior"}, None, "Q weights=prior"),
    ({"grammar": False}, None, "grammar=off"),
    ({"temperature": 0.7}, None, "T=0.7"),
    ({"top_p": 0.9}, None, "top-p=0.9"),
    ({"seed": 1}, None, "seed=1"),
    ({"n": 50}, None, "n=50"),
    ({"precision": "bf16"}, None, "precision=bf16"),
    ({"method": "conditional", "target": {"tpsa": 60.0}}, None, "tpsa=60"),
    ({}, "/tmp/runs/distilled", "model=runs/distilled"),
]


@pytest.mark.parametrize("change, checkpoint, shown", ONE_CHANGE,
                         ids=[next(iter(c), "checkpoint") for c, _, _ in ONE_CHANGE])
def test_a_run_name_names_the_setting_that_differs(change, checkpoint, shown):
    reward = load_reward("veber")
    default = run_name(SampleSettings(), reward, SHIPPED_MODEL)
    assert default == "tilted, Veber rules (graded), n=100"   # the defaults: short
    name = run_name(SampleSettings(**change), reward, checkpoint)
    assert name != default and shown in name


def test_runs_that_differ_in_one_setting_never_share_a_name():
    reward = load_reward("veber")
    names = [run_name(SampleSettings(**c), reward, ckpt) for c, ckpt, _ in ONE_CHANGE]
    assert len(set(names)) == len(names)


def test_cli_sample_stores_the_run_in_a_project(tiny_checkpoint, tmp_path, capsys):
    from engine.cli import main  # noqa: PLC0415

    argv = ["sample", "--checkpoint", str(tiny_checkpoint), "--n", "5", "--method", "rcfg",
            "--ys", "3", "--reward", "veber", "--no-reference", "--device", "cpu",
            "--out", str(tmp_path / "s.csv"), "--project", str(tmp_path / "proj")]
    assert main(argv) == 0
    assert main(argv[:-4] + ["--gamma", "2", "--out", str(tmp_path / "t.csv"), "--project",
                             str(tmp_path / "proj"), "--name", "strong push"]) == 0
    assert "stored as run #1" in capsys.readouterr().out
    project = Project.open(tmp_path / "proj")
    first, second = project.runs()
    assert first.name == ("rcfg, Veber rules (graded), n=5 (|Y_S|=3, "
                          f"model={tiny_checkpoint.parent.name}/{tiny_checkpoint.name})")
    assert second.name == "strong push" and second.settings["gamma"] == 2.0
    assert first.settings["method"] == "rcfg" and "Veber" in first.reward_toml
    assert len(project.molecules(first.id)) == 5
    assert len(first.checkpoint_id) == 16 and 0 <= first.summary["validity"] <= 1


def test_cli_refuses_an_unusable_project_before_sampling(tiny_checkpoint, tmp_path, capsys):
    from engine.cli import main  # noqa: PLC0415

    (tmp_path / "file").write_text("x")
    assert main(["sample", "--checkpoint", str(tiny_checkpoint), "--n", "2", "--device",
                 "cpu", "--out", str(tmp_path / "s.csv"), "--project",
                 str(tmp_path / "file")]) == 2
    assert "a project is a folder" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_only_generated_runs_take_run_numbers_and_numbers_are_never_reused(tmp_path):
    project = Project.open(tmp_path / "p")
    project.add_run(_frame(), name="base set", kind="base")
    project.add_run(_frame(), name="leads.smi", kind="imported")
    first = project.add_run(_frame(), name="first")
    assert first.id == 3 and first.number == 1             # the chemist's first run is #1
    project.add_run(_frame(), name="another base", kind="base")
    second = project.add_run(_frame(), name="second")
    assert second.number == 2
    project.delete_run(second.id)
    assert project.add_run(_frame(), name="third").number == 3
    assert [r.number for r in project.runs() if r.kind != "generated"] == [None, None, None]


def test_a_catalogue_from_before_run_numbers_gets_them_in_order(tmp_path):
    project = Project.open(tmp_path / "p")
    for name, kind in (("b", "base"), ("g1", "generated"), ("i", "imported"),
                       ("g2", "generated")):
        project.add_run(_frame(), name=name, kind=kind)
    with sqlite3.connect(project.db_path) as db:          # as an older version wrote it
        db.execute("ALTER TABLE runs DROP COLUMN number")
        db.execute("DELETE FROM meta WHERE key = 'last_number'")
    again = Project.open(tmp_path / "p")
    assert [(r.name, r.number) for r in again.runs()] == [("b", None), ("g1", 1), ("i", None),
                                                         ("g2", 2)]
    assert again.add_run(_frame(), name="g3").number == 3


def test_cli_sample_csv_carries_the_project_ids_and_inchikeys(tiny_checkpoint, tmp_path,
                                                              capsys):
    from engine.cli import main  # noqa: PLC0415

    out = tmp_path / "s.csv"
    assert main(["sample", "--checkpoint", str(tiny_checkpoint), "--n", "4", "--device", "cpu",
                 "--out", str(out), "--project", str(tmp_path / "proj")]) == 0
    assert "stored as run #1" in capsys.readouterr().out
    project = Project.open(tmp_path / "proj")
    (record,) = project.runs()
    written, stored = pd.read_csv(out, keep_default_na=False), project.molecules(record.id)
    assert written["id"].tolist() == stored["id"].tolist() == [f"{record.id}:{i}"
                                                               for i in range(4)]
    assert written["inchikey"].tolist() == stored["inchikey"].tolist()


def test_a_run_name_with_a_whole_profile_as_target_fits_and_stays_distinct():
    from engine.chem.rewards import load_reward
    from engine.project import MAX_NAME

    reward = load_reward("cns_penetrant").analogues_of("CC(=O)Nc1ccc(O)cc1")
    profile = reward.lead_profile("CC(=O)Nc1ccc(O)cc1")
    names = {run_name(SampleSettings(method="conditional", target={**profile, "mw": mw},
                                     candidates=16), reward)
             for mw in (250.0, 251.0)}
    assert len(names) == 2 and all(len(n) <= MAX_NAME for n in names)
    assert all("target of 25 properties #" in n for n in names)
