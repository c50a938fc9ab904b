"""A run stopped at step k (SIGTERM, as the dashboard's Stop sends) and resumed continues
exactly as the uninterrupted run: the same history, losses equal to 1e-5, for
distillation, RL and pre-training. And a small-batch distillation stays finite."""
import math
import signal

import pytest
import torch

from engine.chem.rewards import Reward, Term, load_reward
from engine.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from engine.train.finetune import FinetuneConfig, finetune
from engine.train.pretrain import TrainConfig, train
from tests.conftest import TINY

TOLERANCE = 1e-5   # on CPU the runs agree bit for bit; this is what the tests promise
REWARD = Reward(name="small polar", terms=(Term("mw", "minimize", 250.0, 400.0),
                                           Term("tpsa", "range", 60.0, 90.0, ramp=30.0)))


def _stop_at(k: int):
    """on_step: ask the run to stop (SIGTERM to this process) once step k is recorded."""
    def on_step(record):
        if record["step"] == k:
            signal.raise_signal(signal.SIGTERM)
    return on_step


def _same(resumed: list[dict], uninterrupted: list[dict]) -> None:
    assert [h["step"] for h in resumed] == [h["step"] for h in uninterrupted]
    for a, b in zip(resumed, uninterrupted):
        assert a.keys() == b.keys(), a["step"]
        for key in a.keys() - {"elapsed_s"}:
            if a[key] is None or b[key] is None:
                assert a[key] is b[key], (a["step"], key)
            else:
                assert a[key] == pytest.approx(b[key], abs=TOLERANCE), (a["step"], key)


def _stopped_then_resumed(cfg, run, stop: int) -> list[dict]:
    """The history of `cfg` (a run function's settings) stopped at step `stop`, then
    resumed to its end."""
    first = run(cfg, progress=False, on_step=_stop_at(stop))
    assert first[-1]["step"] == stop                     # the stop came where it was asked
    return run(cfg, resume=True, progress=False)


@pytest.mark.parametrize("kind, checkpoint", [
    ("distill", None),              # the tiny model: teacher and student differ, losses too
    ("rl", DEFAULT_CHECKPOINT),     # the shipped model: the tiny one's rewards are all 0
])
def test_a_stopped_finetune_run_resumes_exactly(kind, checkpoint, tiny_checkpoint, tmp_path):
    start = str(checkpoint or tiny_checkpoint)
    settings = dict(kind=kind, reward=REWARD.to_dict(), checkpoint=start, steps=6,
                    batch_size=6, ys=3, lr=3e-3, eval_every=2, eval_n=6, save_every=4,
                    seed=5, device="cpu")
    whole = finetune(FinetuneConfig(out=str(tmp_path / "whole"), **settings), progress=False)
    # stopped at 3: between saves, so the stop's own save is the one resumed from
    resumed = _stopped_then_resumed(FinetuneConfig(out=str(tmp_path / "cut"), **settings),
                                    finetune, 3)
    _same(resumed, whole)
    assert any(h.get("loss") for h in whole)                # the runs did learn something
    a, b = load_checkpoint(tmp_path / "whole").model, load_checkpoint(tmp_path / "cut").model
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p, q, atol=TOLERANCE, rtol=0, msg=name)


def test_a_stopped_pretraining_resumes_exactly(data_dir, tmp_path):
    settings = TINY | dict(data=str(data_dir), max_steps=12, eval_every=4, dropout=0.1)
    whole = train(TrainConfig(out=str(tmp_path / "whole"), **settings), progress=False)
    resumed = _stopped_then_resumed(TrainConfig(out=str(tmp_path / "cut"), **settings),
                                    train, 4)
    _same(resumed, whole)
    a, b = load_checkpoint(tmp_path / "whole").model, load_checkpoint(tmp_path / "cut").model
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p, q, atol=TOLERANCE, rtol=0, msg=name)


def test_small_batch_distillation_stays_finite(tmp_path):
    """The shipped model, 4 molecules a step: before the fix, a teacher step whose every
    token the ring checks refused turned all parameters NaN at step 5 (seed 3)."""
    cfg = FinetuneConfig(kind="distill", reward=load_reward("drug_like").to_dict(),
                         out=str(tmp_path / "small"), steps=5, batch_size=4, ys=2, seed=3,
                         eval_every=5, eval_n=16, device="cpu")
    history = finetune(cfg, progress=False)
    assert [h["step"] for h in history] == list(range(6))
    assert all(math.isfinite(h["loss"]) for h in history[1:])
    student = load_checkpoint(cfg.out).model
    assert all(torch.isfinite(p).all() for p in student.parameters())
    assert history[-1]["eval_validity"] > 0.5
