"""RL fine-tuning of the unconditional branch: group-normalized policy gradient with a KL
penalty to the starting policy (docs/METHOD.md, "RL fine-tuning")."""
from __future__ import annotations

import torch

from engine.model.likelihood import pad_sequences, token_logprobs
from engine.sampling.decoder import decode
from engine.sampling.sampler import build_plan


def group_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """A = (r - mean) / (std + eps) over the batch (B,); all-equal rewards give zeros."""
    return (rewards - rewards.mean()) / (rewards.std(unbiased=False) + eps)


def rl_loss(logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor,
            rewards: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """-mean(A * log pi(x)) + beta * KL; returns (loss, KL per molecule (B,)).

    logp, ref_logp (B, T) per-token log-probabilities of the sampled tokens under the policy
    and the frozen reference, mask (B, T), rewards (B,). The KL is the per-token estimate
    exp(d) - d - 1 with d = log ref - log pi (>= 0, exactly 0 where they agree), summed
    over each molecule's tokens.
    """
    adv = group_advantages(rewards).detach()
    seq_logp = (logp * mask).sum(1)                                            # (B,)
    d = (ref_logp - logp) * mask
    kl = ((torch.exp(d) - d - 1.0) * mask).sum(1)                              # (B,)
    return -(adv * seq_logp).mean() + beta * kl.mean(), kl.detach()


def rl_step(ctx) -> tuple[torch.Tensor, dict]:
    """One step: G molecules from the policy `ctx.policy`, their rewards and the loss;
    returns (loss, record)."""
    cfg, tok, device = ctx.cfg, ctx.start.tokenizer, ctx.device
    plan = build_plan(ctx.start, cfg.sample_settings("base", cfg.batch_size),
                      cfg.batch_size, ctx.rng, device, None, None)
    seqs = decode(ctx.policy, plan, tok.bos_id, tok.eos_id, ctx.policy.cfg.block_size - 2,
                  ctx.gen).sequences
    scored = ctx.score(seqs)
    rewards = torch.tensor(scored["reward"].to_numpy(), dtype=torch.float32, device=device)
    ids = pad_sequences(seqs, tok.bos_id, tok.eos_id, device)
    mask = (ids[:, 1:] != 0).float()
    logp = token_logprobs(ctx.policy, ids)
    with torch.no_grad():
        ref = token_logprobs(ctx.frozen, ids)
    loss, kl = rl_loss(logp, ref, mask, rewards, cfg.beta)
    return loss, {"reward": float(rewards.mean()), "validity": float(scored["valid"].mean()),
                  "kl_per_molecule": float(kl.mean())}
