"""Libraries (engine/sampling/library.py): sharded sampling that resumes after a SIGKILL
without losing or repeating a molecule, gives the same shards on one rank or two (torchrun,
gloo), refuses to resume other settings, and drops repeated InChIKeys on request."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main
from engine.sampling.library import LibraryError, LibraryPlan, dedupe, shard_name
from engine.sampling.library_reader import open_library

ROOT = Path(__file__).resolve().parents[1]


def read_library(folder: Path) -> pd.DataFrame:
    """Every shard of a library folder (or its unique/), in order."""
    return pd.concat([pd.read_parquet(f) for f in open_library(folder).files],
                     ignore_index=True)


def _args(ckpt, out, *extra) -> list[str]:
    return ["sample", "--checkpoint", str(ckpt), "--n", "60", "--shard-size", "20",
            "--device", "cpu", "--out", f"{out}/", *extra]


def _shards(folder: Path) -> list[list[str]]:
    return [pd.read_parquet(folder / shard_name(k))["smiles"].tolist() for k in range(3)]


@pytest.fixture(scope="module")
def whole(tiny_checkpoint, tmp_path_factory) -> Path:
    """A library written in one go, to compare the others with."""
    out = tmp_path_factory.mktemp("lib") / "whole"
    assert main(_args(tiny_checkpoint, out)) == 0
    return out


def test_library_shards_manifest_and_summary(whole, capsys):
    manifest = json.loads((whole / "manifest.json").read_text())
    assert [s["rows"] for s in manifest["shards"]] == [20, 20, 20]
    frame = read_library(whole)
    assert frame["library_index"].tolist() == list(range(60))
    assert manifest["n"] == 60 and manifest["validity"] == pytest.approx(frame["valid"].mean())
    assert manifest["alert_rates"]["sample"] == int(frame["valid"].sum())


def test_killed_library_resumes_without_losing_or_repeating(tiny_checkpoint, whole, tmp_path):
    out = tmp_path / "killed"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "engine", *_args(tiny_checkpoint, out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (out / shard_name(0)).is_file():   # wait for the first shard's commit
        assert proc.poll() is None and time.monotonic() < deadline, "no shard was written"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").is_file()
    assert main(_args(tiny_checkpoint, out)) == 2          # refuses without --resume
    assert main(_args(tiny_checkpoint, out, "--resume")) == 0
    assert _shards(out) == _shards(whole)
    assert not list(out.glob(".*.tmp"))


def test_resume_with_other_settings_is_refused(tiny_checkpoint, whole, capsys):
    assert main(_args(tiny_checkpoint, whole, "--resume", "--temperature", "0.8")) == 2
    err = capsys.readouterr().err
    assert "started with other settings" in err and "temperature" in err


def test_two_ranks_write_the_same_shards_as_one(tiny_checkpoint, whole, tmp_path):
    out = tmp_path / "ranks"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "engine", "--", *_args(tiny_checkpoint, out)]   # `--`: torchrun reads no --n
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _shards(out) == _shards(whole)
    assert json.loads((out / "manifest.json").read_text())["n"] == 60
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["shards_written_now"] == 3          # both ranks' shards, not rank 0's


def test_dedupe_drops_repeated_inchikeys_across_shards(tmp_path):
    plan = LibraryPlan(n=5, shard_size=3, settings={}, reward_toml="", checkpoint="")
    # ethanol twice (two spellings, two shards), one invalid, benzene and acetic acid once
    shards = [["CCO", "c1ccccc1", "C1CC"], ["OCC", "CC(=O)O"]]
    for k, smiles in enumerate(shards):
        valid = [s != "C1CC" for s in smiles]
        pd.DataFrame({"smiles": smiles, "valid": valid}).to_parquet(tmp_path / shard_name(k))
    counts = dedupe(tmp_path, plan)
    assert counts == {"unique": 3, "duplicates_dropped": 1, "invalid_dropped": 1}
    unique = read_library(tmp_path / "unique")
    assert unique["smiles"].tolist() == ["CCO", "c1ccccc1", "CC(=O)O"]
    assert unique["inchikey"].str.len().eq(27).all()
    assert json.loads((tmp_path / "manifest.json").read_text())["dedupe"] == counts


def test_a_bad_plan_is_refused():
    with pytest.raises(LibraryError, match="shard_size must be a positive integer"):
        LibraryPlan(n=10, shard_size=0, settings={}, reward_toml="", checkpoint="")


def test_a_resumed_rank_counts_its_own_share_from_its_written_shards(tiny_checkpoint, whole,
                                                                      tmp_path):
    """Rank 0 of 2 owns shards 0 and 2: with shard 0 written, its progress starts at 20 of
    40 (so the rate is this run's), ends at 40, and the shard it writes is the same."""
    import shutil

    from engine.model.checkpoint import load_checkpoint
    from engine.sampling.library import PLAN_FILE, write_shards

    out = tmp_path / "part"
    shutil.copytree(whole, out)
    for name in (shard_name(1), shard_name(2), "shard-000001.json", "shard-000002.json",
                 "manifest.json"):
        (out / name).unlink()
    plan = LibraryPlan(**json.loads((out / PLAN_FILE).read_text()))
    calls = []
    written = write_shards(load_checkpoint(tiny_checkpoint), None, plan, out, rank=0, world=2,
                           progress=lambda done, total: calls.append((done, total)))
    assert written["written"] == [2]
    assert calls[0] == (20, 40) and calls[-1] == (40, 40)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    assert not (out / shard_name(1)).exists()       # rank 1's shard is left to rank 1
    assert (pd.read_parquet(out / shard_name(2))["smiles"].tolist()
            == pd.read_parquet(whole / shard_name(2))["smiles"].tolist())
