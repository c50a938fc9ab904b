"""Training loop: parameters move, history is kept, resume continues, 2-process DDP works."""
import json
import os
import subprocess
import sys

import torch

from engine.model.checkpoint import load_checkpoint
from engine.model.gpt import GPT, GPTConfig
from engine.train.pretrain import TrainConfig, condition_mask, lr_at, train
from tests.conftest import TINY


def test_every_parameter_changes(data_dir, tmp_path):
    torch.manual_seed(0)
    cfg = TrainConfig(data=str(data_dir), out=str(tmp_path / "m"), **(TINY | dict(max_steps=8)))
    train(cfg, progress=False)
    trained = load_checkpoint(tmp_path / "m").model
    torch.manual_seed(cfg.seed)
    fresh = GPT(GPTConfig(**trained.cfg.to_dict()))
    for (name, a), (_, b) in zip(trained.named_parameters(), fresh.named_parameters()):
        assert not torch.equal(a, b), f"{name} did not change"


def test_loss_goes_down(tiny_checkpoint):
    history = [json.loads(line) for line in open(tiny_checkpoint / "history.jsonl")]
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["val_loss"] < 3.0


def test_resume_continues_from_the_saved_step(data_dir, tmp_path):
    out = tmp_path / "r"
    cfg = TrainConfig(data=str(data_dir), out=str(out), **(TINY | dict(max_steps=20,
                                                                        eval_every=10)))
    short = TrainConfig(**(cfg.__dict__ | dict(max_minutes=0.0)))  # stops after one step
    train(short, progress=False)
    state = json.loads((out / "train_state.json").read_text())
    assert state["step"] == 1
    history = train(cfg, resume=True, progress=False)
    assert [h["step"] for h in history] == [1, 10, 20]
    meta = load_checkpoint(out).meta
    assert meta["training"]["finished"] is True and meta["training"]["steps_done"] == 20


def test_lr_schedule():
    cfg = TrainConfig(data="d", out="o", lr=1e-3, min_lr=1e-4, warmup_steps=10, max_steps=110)
    assert lr_at(0, cfg) == 1e-4
    assert lr_at(9, cfg) == 1e-3
    assert abs(lr_at(60, cfg) - 5.5e-4) < 1e-9
    assert abs(lr_at(110, cfg) - 1e-4) < 1e-12


def test_condition_mask_mixes_null_subset_and_full():
    cfg = TrainConfig(data="d", out="o", cond_dropout=0.15, subset_dropout=0.35)
    mask = condition_mask(20000, 25, cfg, torch.Generator().manual_seed(0))
    null = (~mask.any(1)).float().mean()
    full = mask.all(1).float().mean()
    assert abs(null - 0.15) < 0.02 and abs(full - 0.5) < 0.03


def test_two_process_gloo_ddp(data_dir, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node=2", "-m", "engine", "train", "--data", str(data_dir), "--out",
           str(out), "--steps", "6", "--eval-every", "3", "--batch-size", "16",
           "--n-layer", "1", "--n-head", "2", "--d-model", "16", "--bank-size", "50",
           "--device", "cpu"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    meta = load_checkpoint(out).meta
    assert meta["training"]["world_size"] == 2 and meta["training"]["steps_done"] == 6
