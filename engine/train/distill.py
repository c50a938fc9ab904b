"""Distillation: the teacher's next-token distributions into the unconditional branch.

Teacher: the frozen model sampling with RCFG for a reward, or with reward-tilted
conditioning (`teacher="tilted"`: each molecule conditioned on a bank profile drawn with
P(y) proportional to r(y)^gamma, so the student learns p(x) r(x)^gamma). Student: a copy of the model
used with the null condition. Loss: full-vocabulary KL(p_teacher || p_student) summed over
the generated positions, mean over molecules (docs/METHOD.md, "Distillation"). With
`teacher_keep="valid"` the teacher molecules RDKit rejects are left out of the loss.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.model.likelihood import null_logits, pad_sequences
from engine.sampling.decoder import decode
from engine.sampling.sampler import build_plan


def distill_loss(teacher_logp: torch.Tensor, student_logits: torch.Tensor,
                 mask: torch.Tensor) -> torch.Tensor:
    """Sum over positions of KL(p_teacher || p_student), averaged over molecules.

    teacher_logp (B, T, V) log-probabilities (-inf where p = 0; a position with no finite
    entry, a distribution the teacher could not define, adds nothing), student_logits
    (B, T, V), mask (B, T) True at generated positions. Equal distributions give 0. The
    loss and its gradients stay finite whenever the student's logits are finite.
    """
    student_logp = torch.log_softmax(student_logits.float(), dim=-1)
    # -inf (and NaN) never enter the arithmetic: a torch.where only hides a NaN from the
    # forward pass, its gradient still multiplies 0 by it and poisons every parameter
    support = torch.isfinite(teacher_logp) & mask[..., None]
    t_logp = torch.where(support, teacher_logp, torch.zeros_like(teacher_logp))
    p = t_logp.exp() * support
    kl = (p * (t_logp - student_logp)).sum(-1)                           # (B, T)
    return kl.sum(1).mean()


def teacher_batch(ctx, n: int) -> tuple[list[list[int]], torch.Tensor, torch.Tensor]:
    """n molecules sampled by the teacher: token sequences, padded teacher
    log-probabilities (n, W - 1, V) aligned with `pad_sequences` ids, and their mask (False
    at padding and where the teacher recorded no distribution)."""
    cfg, ckpt, tok = ctx.cfg, ctx.start, ctx.start.tokenizer
    plan = build_plan(ckpt, cfg.sample_settings(cfg.teacher, n), n, ctx.rng, ctx.device,
                      ctx.r_bank, None)
    decoded = decode(ctx.frozen, plan, tok.bos_id, tok.eos_id, ckpt.model.cfg.block_size - 2,
                     ctx.gen, record=True)
    seqs, dists = decoded.sequences, decoded.dists
    width = max(len(s) for s in seqs) + 1                  # positions <bos> .. <eos>
    V = dists[0].shape[-1]
    teacher = torch.zeros((n, width, V), device=ctx.device)
    mask = torch.zeros((n, width), dtype=torch.bool, device=ctx.device)
    for i, d in enumerate(dists):
        teacher[i, :len(d)] = d
        # a step whose every token the ring checks refused records no distribution (NaN)
        mask[i, :len(d)] = torch.isfinite(d).any(-1)
    return seqs, teacher, mask


def distill_step(ctx) -> tuple[torch.Tensor | None, dict]:
    """One step: a teacher batch and the KL loss of the student `ctx.policy`; returns (loss,
    record), loss None when no teacher molecule is kept (no update this step)."""
    tok = ctx.start.tokenizer
    seqs, teacher, mask = teacher_batch(ctx, ctx.cfg.batch_size)
    scored = ctx.score(seqs)
    rec = {"teacher_reward": float(scored["reward"].mean()),
           "teacher_validity": float(scored["valid"].mean())}
    if ctx.cfg.teacher_keep == "valid":
        keep = scored["valid"].to_numpy(dtype=bool)
        rec["teacher_kept"] = int(keep.sum())
        if not keep.any():                    # nothing to learn from: no update this step
            return None, {"kl_per_molecule": 0.0, **rec}
        seqs = [s for s, k in zip(seqs, keep) if k]
        rows = torch.as_tensor(np.flatnonzero(keep), device=ctx.device)
        width = max(len(s) for s in seqs) + 1
        teacher, mask = teacher[rows, :width], mask[rows, :width]
    ids = pad_sequences(seqs, tok.bos_id, tok.eos_id, ctx.device)
    loss = distill_loss(teacher, null_logits(ctx.policy, ids), mask)
    return loss, {"kl_per_molecule": loss.item(), **rec}
