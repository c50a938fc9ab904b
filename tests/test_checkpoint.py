"""Checkpoint round trip and the errors a person sees for broken folders."""
import json
import shutil

import pytest
import torch

from engine.model.checkpoint import CheckpointError, load_checkpoint


def test_round_trip(tiny_checkpoint):
    ckpt = load_checkpoint(tiny_checkpoint)
    assert len(ckpt.bank) == 200 and ckpt.bank_values().shape == (200, 25)
    assert ckpt.meta["data"]["train_rows"] > 0
    again = load_checkpoint(tiny_checkpoint)
    for (k, a), (_, b) in zip(ckpt.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), k


@pytest.fixture
def broken(tiny_checkpoint, tmp_path):
    target = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, target)
    return target


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nope")


def test_corrupt_weights(broken):
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt safetensors"):
        load_checkpoint(broken)


def test_truncated_weights(broken):
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt safetensors"):
        load_checkpoint(broken)


def test_corrupt_config(broken):
    (broken / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt JSON"):
        load_checkpoint(broken)


def test_mismatched_shape(broken):
    meta = json.loads((broken / "config.json").read_text())
    meta["model"]["d_model"] = 64
    (broken / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not match config.json"):
        load_checkpoint(broken)


def test_wrong_properties(broken):
    meta = json.loads((broken / "config.json").read_text())
    meta["properties"] = meta["properties"][::-1]
    (broken / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="trained on properties"):
        load_checkpoint(broken)


def test_missing_bank(broken):
    (broken / "prior_bank.parquet").unlink()
    with pytest.raises(CheckpointError, match="prior bank"):
        load_checkpoint(broken)


def test_corrupt_bank(broken):
    (broken / "prior_bank.parquet").write_bytes(b"PAR1 broken")
    with pytest.raises(CheckpointError, match="corrupt parquet"):
        load_checkpoint(broken)
