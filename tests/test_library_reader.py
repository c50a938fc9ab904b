"""Reading a library a page at a time (engine/sampling/library_reader.py), on a small library
written by hand as `sample --out DIR/` writes one: real molecules from the fixture, one
invalid SMILES and one repeat, in shards of 20, with its plan, manifest and unique/."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.chem.rewards import load_reward
from engine.chem.scoring import score_molecules
from engine.chem.structures import SmartsError, has_substructure
from engine.sampling.library import LibraryError, LibraryPlan, dedupe, manifest, shard_name
from engine.sampling.library_reader import (ROW, RowFilter, column_range, iter_rows,
                                            open_library, page_rows, ranked_rows,
                                            read_in_order, read_rows, rows_at, sample_rows,
                                            shard_mask)

FIXTURE_SMILES = Path(__file__).parent / "data" / "smiles.csv"
INVALID = "C1CC"   # an unclosed ring: valid = False, no properties


def library_smiles(n: int = 60) -> list[str]:
    """`n` fixture molecules, row 7 an invalid SMILES and row 30 a repeat of row 3."""
    smiles = pd.read_csv(FIXTURE_SMILES)["smiles"].head(n).tolist()
    smiles[7], smiles[30] = INVALID, smiles[3]
    return smiles


def write_library(out: Path, smiles: list[str], shard_size: int = 20,
                  reward_key: str | None = None) -> Path:
    """A library folder as `sample --out DIR/ --dedupe` leaves it: shards with their
    summaries, library.json, manifest.json (engine.sampling.library.manifest) and unique/."""
    out.mkdir(parents=True)
    reward = load_reward(reward_key) if reward_key else None
    plan = LibraryPlan(n=len(smiles), shard_size=shard_size, settings={"method": "base"},
                       reward_toml=reward.to_toml() if reward else "", checkpoint="tiny")
    (out / "library.json").write_text(json.dumps(asdict(plan)))
    for k in range(plan.shards):
        part = smiles[k * shard_size:(k + 1) * shard_size]
        frame = score_molecules(part, reward)
        frame.insert(0, "library_index", np.arange(k * shard_size, k * shard_size + len(part)))
        frame["nll"] = 30.0 + np.arange(len(part))
        frame.to_parquet(out / shard_name(k), index=False)
        (out / f"shard-{k:06d}.json").write_text(json.dumps({"n": len(part), "cpu_s": 1.0}))
    manifest(out, plan)
    dedupe(out, plan)
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_library(tmp_path_factory.mktemp("lib") / "lib", library_smiles())


def test_open_reads_footers_manifest_and_plan(folder):
    lib = open_library(folder)
    assert lib.rows == (20, 20, 20) and lib.n == 60 and lib.smiles == "smiles"
    assert lib.offsets.tolist() == [0, 20, 40]
    assert {"mw", "qed", "nll", "library_index"} <= set(lib.numeric)
    assert "valid" in lib.columns and "valid" not in lib.numeric
    assert lib.manifest["n"] == 60 and lib.manifest["dedupe"]["unique"] == 58
    assert lib.plan["shard_size"] == 20 and lib.unique_folder == folder / "unique"
    unique = open_library(lib.unique_folder)
    assert unique.is_unique and unique.n == 58 and unique.manifest == lib.manifest
    assert unique.unique_folder is None


def test_a_folder_that_is_not_a_library_is_named(folder, tmp_path, monkeypatch):
    with pytest.raises(LibraryError, match="no such folder"):
        open_library(tmp_path / "nowhere")
    with pytest.raises(LibraryError, match="is a file; give the library's folder"):
        open_library(folder / "manifest.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LibraryError, match="is not a library folder: it holds no "
                                           "shard-NNNNNN.parquet or part-NNNNNN.parquet"):
        open_library(tmp_path / "empty")
    # a relative folder ("." typed into the dashboard) is named as the folder it is
    monkeypatch.chdir(tmp_path / "empty")
    with pytest.raises(LibraryError) as refused:
        open_library(".")
    assert str(refused.value).startswith(f"{tmp_path / 'empty'} is not a library folder")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / shard_name(0)).write_text("not parquet")
    with pytest.raises(LibraryError, match="shard-000000.parquet in .* is not a readable "
                                           "parquet file"):
        open_library(broken)
    nosmiles = tmp_path / "nosmiles"
    nosmiles.mkdir()
    pd.DataFrame({"x": [1.0]}).to_parquet(nosmiles / shard_name(0))
    with pytest.raises(LibraryError, match="has no smiles column \\(its columns: x\\)"):
        open_library(nosmiles)


def test_a_broken_manifest_is_a_note_not_a_failure(folder, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / shard_name(0)).write_bytes((folder / shard_name(0)).read_bytes())
    (copy / "manifest.json").write_text("{cut")
    lib = open_library(copy)
    assert lib.manifest == {} and "manifest.json could not be read" in lib.notes[0]


def test_masks_apply_ranges_validity_and_smarts(folder):
    lib = open_library(folder)
    whole = pd.read_parquet(folder / shard_name(0))
    assert shard_mask(lib, 0, RowFilter()).tolist() == whole["valid"].tolist()
    assert shard_mask(lib, 0, RowFilter(valid_only=False)).all()
    mask = shard_mask(lib, 0, RowFilter(ranges=(("mw", 300.0, 350.0),), valid_only=False))
    assert mask.tolist() == whole["mw"].between(300, 350).tolist()   # NaN (row 7) is out
    assert not mask[7]
    benzene = shard_mask(lib, 0, RowFilter(smarts="c1ccccc1"))
    assert benzene.tolist() == has_substructure(whole["smiles"].tolist(), "c1ccccc1")
    with pytest.raises(SmartsError, match="not a valid SMARTS"):
        RowFilter(smarts="c1ccc(")
    with pytest.raises(LibraryError, match="cannot filter on colour: not a numeric column"):
        shard_mask(lib, 0, RowFilter(ranges=(("colour", 0, 1),)))
    with pytest.raises(LibraryError, match="low 2 is above high 1"):
        RowFilter(ranges=(("mw", 2, 1),))


def test_pages_cross_shards_in_library_order_and_stop_early(folder):
    lib = open_library(folder)
    asked = []

    def mask_of(k):
        asked.append(k)
        return shard_mask(lib, k, RowFilter())

    picks, seen, scanned = page_rows(lib, mask_of, start=15, size=10)
    assert asked == [0, 1] and scanned == 2 and seen == 39   # row 7 invalid
    page = read_rows(lib, picks)
    assert page[ROW].tolist() == list(range(16, 26)) and page.columns[0] == ROW
    assert page["library_index"].tolist() == page[ROW].tolist()
    last, seen, scanned = page_rows(lib, mask_of, start=50, size=10)
    assert scanned == 3 and seen == 59 and sum(len(p) for _, p in last) == 9
    assert page_rows(lib, mask_of, start=70, size=10)[0] == []


def test_rows_at_and_read_rows_round_trip(folder):
    lib = open_library(folder)
    picks = rows_at(lib, [41, 3, 19, 20, 99, -1])
    assert [(k, p.tolist()) for k, p in picks] == [(0, [3, 19]), (1, [0]), (2, [1])]
    frame = read_rows(lib, picks, columns=["mw"])
    assert list(frame.columns) == [ROW, "smiles", "mw"]
    assert frame[ROW].tolist() == [3, 19, 20, 41]
    assert read_rows(lib, []).empty


def test_a_sample_is_bounded_seeded_and_filtered(folder):
    lib = open_library(folder)

    def heavy(k):
        return shard_mask(lib, k, RowFilter(ranges=(("mw", 300.0, 1000.0),)))

    sample, total = sample_rows(lib, heavy, 12, seed=3, columns=["mw"])
    assert total == sum(int(heavy(k).sum()) for k in range(3)) and len(sample) == 12
    assert (sample["mw"] >= 300).all() and sample[ROW].is_monotonic_increasing
    again, _ = sample_rows(lib, heavy, 12, seed=3, columns=["mw"])
    other, _ = sample_rows(lib, heavy, 12, seed=4, columns=["mw"])
    assert again[ROW].tolist() == sample[ROW].tolist() != other[ROW].tolist()
    everything, _ = sample_rows(lib, heavy, 10_000, seed=3)
    assert len(everything) == total


def test_streaming_stops_at_the_cap(folder):
    lib = open_library(folder)

    def valid(k):
        return shard_mask(lib, k, RowFilter())

    parts = list(iter_rows(lib, valid, cap=25))
    assert [len(p) for p in parts] == [19, 6]
    assert pd.concat(parts)[ROW].tolist() == [r for r in range(26) if r != 7]
    assert sum(len(p) for p in iter_rows(lib, valid, cap=1000)) == 59


def test_column_range_leaves_missing_values_out(folder):
    lib = open_library(folder)
    frame = pd.concat(pd.read_parquet(f) for f in lib.files)
    assert column_range(lib, "mw") == (frame["mw"].min(), frame["mw"].max())
    assert column_range(lib, "nll") == (30.0, 49.0)


def test_the_best_rows_by_a_column_over_every_shard(folder):
    lib = open_library(folder)
    every = read_rows(lib, [(k, np.arange(n)) for k, n in enumerate(lib.rows)])
    rows = RowFilter(ranges=(("mw", 150.0, 400.0),))
    passing = every[every["valid"].astype(bool) & every["mw"].between(150, 400)]
    for descending in (True, False):
        # the whole order, as pandas sorts the whole table (equal values: library order)
        want = passing.sort_values(["qed", ROW], ascending=[not descending, True])[ROW]
        for count in (1, 7, len(passing), len(passing) + 10):
            got, total = ranked_rows(lib, lambda k: shard_mask(lib, k, rows), "qed", count,
                                     descending)
            assert total == len(passing)
            assert got.tolist() == want.tolist()[:count]
    top = ranked_rows(lib, lambda k: shard_mask(lib, k, rows), "qed", 5)[0]
    frame = read_in_order(lib, top, ["qed"])
    assert frame[ROW].tolist() == top.tolist()
    assert frame["qed"].is_monotonic_decreasing


def test_ties_are_in_library_order_and_missing_values_never_ranked(folder):
    lib = open_library(folder)
    everything = RowFilter(valid_only=False)
    mask = lambda k: shard_mask(lib, k, everything)   # noqa: E731
    # nll is stored for every row, hba ties a lot, mw is missing for the invalid row 7
    hba = read_rows(lib, [(k, np.arange(n)) for k, n in enumerate(lib.rows)])["hba"]
    got, total = ranked_rows(lib, mask, "hba", lib.n)
    assert total == lib.n - 1 and 7 not in got
    for value in hba.dropna().unique():
        tied = [r for r in got if hba[r] == value]
        assert tied == sorted(tied)
    assert ranked_rows(lib, mask, "nll", 3, descending=False)[0].tolist() == [0, 20, 40]
    with pytest.raises(LibraryError, match="cannot order by smiles: not a numeric column"):
        ranked_rows(lib, mask, "smiles", 3)
