"""Inputs that could exhaust the machine are refused early and cheaply: a crafted checkpoint
config before the model is built, huge molecules before any descriptor, reward files by
size, term count and nesting, dashboard uploads by size."""
import json
import shutil
import time
import tomllib
from pathlib import Path

import pytest
import torch

from engine.chem import properties
from engine.chem.rewards import MAX_FILE_BYTES, MAX_TERMS, Reward, RewardError
from engine.model import checkpoint
from engine.model.gpt import GPT

ROOT = Path(__file__).resolve().parents[1]


def test_a_crafted_config_is_refused_before_the_model_is_built(tiny_checkpoint, tmp_path,
                                                                monkeypatch):
    for name, change in (("huge", {"d_model": 24000, "n_head": 2}),
                         ("wider", {"d_model": 64})):
        folder = tmp_path / name
        shutil.copytree(tiny_checkpoint, folder)
        meta = json.loads((folder / "config.json").read_text())
        meta["model"].update(change)
        (folder / "config.json").write_text(json.dumps(meta))

        def never(*_, **__):
            raise AssertionError("the model was built")

        monkeypatch.setattr(checkpoint, "GPT", lambda cfg: (
            never() if torch.get_default_device().type != "meta" else GPT(cfg)))
        with pytest.raises(checkpoint.CheckpointError,
                           match="parameters; at most" if name == "huge" else
                           "do not match config.json .*tensors differ"):
            checkpoint.load_checkpoint(folder)
        monkeypatch.undo()


def test_huge_molecules_are_invalid_without_computing_descriptors(monkeypatch):
    def never(_mol):
        raise AssertionError("descriptors computed")

    monkeypatch.setattr(properties, "properties", never)
    big = "C" * (properties.MAX_HEAVY_ATOMS + 1)
    t0 = time.time()
    frame = properties.batch_properties([big, "C" * 10_000], n_jobs=1)
    assert not frame["valid"].any() and time.time() - t0 < 10


def test_reward_files_are_bounded_and_checked_in_linear_time(tmp_path):
    term = {"property": "mw", "goal": "minimize", "low": 1.0, "high": 2.0}
    t0 = time.time()
    with pytest.raises(RewardError, match=f"200,000 terms|200000 terms; a reward has at most "
                                          f"{MAX_TERMS}"):
        Reward.from_dict({"name": "x", "terms": [term] * 200_000})
    assert time.time() - t0 < 5
    big = tmp_path / "big.toml"
    big.write_text("#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(RewardError, match="bytes; a reward file has at most"):
        Reward.from_file(big)
    with pytest.raises(RewardError, match="nested too deeply"):
        Reward.from_toml("x = " + "[" * 100_000)
    with pytest.raises(RewardError, match="sum to inf"):
        Reward.from_dict({"name": "x", "terms": [
            term | {"weight": 1e308}, term | {"property": "logp", "weight": 1e308}]})


def test_dashboard_uploads_are_limited():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert 0 < config["server"]["maxUploadSize"] <= 20
