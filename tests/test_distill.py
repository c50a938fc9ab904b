"""Distillation: the KL loss on hand-checkable cases, the decoder's recorded teacher
distributions, and the student moving towards the RCFG teacher."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.chem.rewards import Reward, Term
from engine.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from engine.model.likelihood import pad_sequences
from engine.sampling.decoder import DecodePlan, decode
from engine.sampling.methods import MODEL_DISTRIBUTION
from engine.train.distill import distill_loss, distill_step, teacher_batch
from engine.sampling.sampler import bank_rewards
from engine.train.finetune import FinetuneConfig, FinetuneError, StepContext, finetune

REWARD = Reward(name="small polar", terms=(Term("mw", "minimize", 250.0, 400.0),
                                           Term("tpsa", "range", 60.0, 90.0, ramp=30.0)))


def test_kl_of_equal_distributions_is_zero():
    logits = torch.randn(3, 5, 7)
    mask = torch.ones(3, 5, dtype=torch.bool)
    assert float(distill_loss(torch.log_softmax(logits, -1), logits, mask)) == pytest.approx(
        0.0, abs=1e-6)


def test_kl_hand_computed_and_masked():
    teacher = torch.log(torch.tensor([[[0.5, 0.5], [0.9, 0.1]]]))          # (1, 2, 2)
    student = torch.tensor([[[0.0, math.log(3.0)], [5.0, -5.0]]])         # q = [.25, .75]
    mask = torch.tensor([[True, False]])                                  # 2nd position off
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert float(distill_loss(teacher, student, mask)) == pytest.approx(expected, rel=1e-5)


def test_kl_ignores_tokens_the_teacher_rules_out():
    teacher = torch.tensor([[[0.0, -math.inf]]])                          # p = [1, 0]
    student = torch.tensor([[[0.0, 0.0]]])                                # q = [.5, .5]
    loss = distill_loss(teacher, student, torch.ones(1, 1, dtype=torch.bool))
    assert float(loss) == pytest.approx(math.log(2.0), rel=1e-6)


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def test_recorded_distributions_match_a_teacher_forced_pass(ckpt):
    model, tok = ckpt.model, ckpt.tokenizer
    P = model.cfg.n_props
    plan = DecodePlan("none", torch.zeros(5, 1, P), torch.zeros(5, 1, P, dtype=torch.bool),
                      replace(MODEL_DISTRIBUTION, temperature=0.7))
    decoded = decode(model, plan, tok.bos_id, tok.eos_id, 40, torch.Generator().manual_seed(3),
                     record=True)
    seqs, dists = decoded.sequences, decoded.dists
    ids = pad_sequences(seqs, tok.bos_id, tok.eos_id, "cpu")
    with torch.no_grad():
        logits, _ = model(ids[:, :-1], torch.zeros(5, P), torch.zeros(5, P, dtype=torch.bool))
    for i, (seq, d) in enumerate(zip(seqs, dists)):
        ended = len(seq) < 40
        assert d.shape == (len(seq) + ended, len(tok))
        expected = torch.log_softmax(logits[i, :len(d)] / 0.7, dim=-1)
        torch.testing.assert_close(d, expected, atol=1e-4, rtol=1e-4)


def _cfg(tiny_checkpoint, out, **kw):
    base = dict(kind="distill", reward=REWARD.to_dict(), out=str(out),
                checkpoint=str(tiny_checkpoint), steps=3, batch_size=16, ys=4, lr=1e-3,
                eval_every=100, eval_n=8, device="cpu")
    return FinetuneConfig(**{**base, **kw})


def test_gamma_zero_teacher_is_the_student(tiny_checkpoint, tmp_path):
    """With gamma = 0 and no masks, RCFG is the unconditional model itself: nothing to
    distil."""
    history = finetune(_cfg(tiny_checkpoint, tmp_path / "g0", gamma=0.0, steps=1, lr=1e-9,
                            grammar=False, plausibility=0.0), progress=False)
    assert history[1]["loss"] == pytest.approx(0.0, abs=1e-4)


def test_student_moves_towards_the_teacher(tmp_path):
    """On the shipped model: the tiny test model's teacher and student are both noise."""
    # the paper's teacher (z-scored, no masks); with the default masked teacher the held-out
    # KL barely moves in this many steps (measured 12.02 -> 12.14 after 20), see BENCHMARKS.md
    cfg = _cfg(DEFAULT_CHECKPOINT, tmp_path / "run", gamma=2.0, steps=10, lr=3e-4,
               advantage="z", grammar=False, plausibility=0.0)
    start = load_checkpoint(DEFAULT_CHECKPOINT)

    # a fixed teacher batch, other seeds than the run's, to measure the student on
    probe = StepContext(cfg, start, start.model, start.model, torch.device("cpu"), REWARD,
                        bank_rewards(start, REWARD), np.random.default_rng(123),
                        torch.Generator().manual_seed(123))
    seqs, teacher, mask = teacher_batch(probe, 32)
    ids = pad_sequences(seqs, start.tokenizer.bos_id, start.tokenizer.eos_id, "cpu")
    P = start.model.cfg.n_props

    def kl(model):
        with torch.no_grad():
            logits, _ = model(ids[:, :-1], torch.zeros(len(seqs), P),
                              torch.zeros(len(seqs), P, dtype=torch.bool))
        return float(distill_loss(teacher, logits, mask))

    before = kl(start.model)
    finetune(cfg, progress=False)
    student = load_checkpoint(cfg.out)
    after = kl(student.model)
    assert before > 0.05
    assert after < 0.92 * before, (before, after)   # measured 16.70 -> 14.98
    changed = {name for (name, p), q in zip(start.model.named_parameters(),
                                             student.model.parameters())
               if not torch.equal(p, q)}
    untouched = {name for name, _ in start.model.named_parameters()} - changed
    # the null-condition path trains every weight except the property encoder
    assert untouched == {n for n, _ in start.model.named_parameters()
                         if n.startswith("cond_mlp")}


def _run(cfg, ckpt, seed):
    policy = load_checkpoint(cfg.checkpoint).model
    return StepContext(cfg, ckpt, ckpt.model, policy, torch.device("cpu"), REWARD,
                       bank_rewards(ckpt, REWARD), np.random.default_rng(seed),
                       torch.Generator().manual_seed(seed))


def test_valid_only_teacher_leaves_invalid_molecules_out(tmp_path):
    """Two runs with the same seeds draw the same teacher batch: the step's loss is the KL
    over the RDKit-valid molecules only. On the shipped model (the tiny test model writes
    no valid molecule); RCFG there writes some invalid ones in 48 without ring checks."""
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    cfg = _cfg(DEFAULT_CHECKPOINT, tmp_path / "v", teacher_keep="valid", batch_size=48,
               ring_check=False)
    seqs, teacher, mask = teacher_batch(_run(cfg, ckpt, 5), 48)
    valid = _run(cfg, ckpt, 5).score(seqs)["valid"].to_numpy(dtype=bool)
    assert 0 < valid.sum() < 48
    loss, rec = distill_step(_run(cfg, ckpt, 5))
    assert rec["teacher_kept"] == valid.sum()
    assert rec["teacher_validity"] == pytest.approx(valid.mean())
    kept = [s for s, v in zip(seqs, valid) if v]
    width = max(len(s) for s in kept) + 1
    logits = _null(ckpt, kept)
    rows = torch.as_tensor(np.flatnonzero(valid))
    expected = distill_loss(teacher[rows, :width], logits, mask[rows, :width])
    assert loss.item() == pytest.approx(float(expected), rel=1e-4)
    everything = distill_loss(teacher, _null(ckpt, seqs), mask)
    assert float(everything) != pytest.approx(float(expected), rel=1e-3)


def _null(ckpt, seqs):
    ids = pad_sequences(seqs, ckpt.tokenizer.bos_id, ckpt.tokenizer.eos_id, "cpu")
    P = ckpt.model.cfg.n_props
    with torch.no_grad():
        logits, _ = ckpt.model(ids[:, :-1], torch.zeros(len(seqs), P),
                               torch.zeros(len(seqs), P, dtype=torch.bool))
    return logits


def test_unknown_teacher_filter_is_refused(tiny_checkpoint, tmp_path):
    with pytest.raises(FinetuneError, match="teacher_keep must be one of all, valid"):
        _cfg(tiny_checkpoint, tmp_path / "x", teacher_keep="reward")


def test_tilted_teacher_conditions_each_molecule_on_one_drawn_profile(tiny_checkpoint,
                                                                      tmp_path, monkeypatch):
    import engine.train.distill as distill_mod

    cfg = _cfg(tiny_checkpoint, tmp_path / "tilted", teacher="tilted", steps=2)
    assert cfg.gamma == 16.0 and _cfg(tiny_checkpoint, tmp_path / "r").gamma == 1.0
    plans, real = [], distill_mod.decode

    def spy(model, plan, *a, **k):
        plans.append(plan)
        return real(model, plan, *a, **k)

    monkeypatch.setattr(distill_mod, "decode", spy)
    history = finetune(cfg, progress=False)
    assert [h["step"] for h in history if "loss" in h][-1] == 2
    assert all(p.rule == "none" and p.values.shape[1] == 1 and p.mask.all() for p in plans)
    with pytest.raises(FinetuneError, match="unknown teacher 'magic'"):
        _cfg(tiny_checkpoint, tmp_path / "x", teacher="magic")
