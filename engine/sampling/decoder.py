"""One batched decoder for every method.

Molecules are laid out as rows = molecules x R branches in one tensor (R = 1 for `base`
and `conditional`, 2 for `cfg`, 1 + K for `rcfg` and `qtilt`); every step is one forward
pass over all rows with a KV cache. A guidance rule turns the (M, R, V) log-probs into one
next-token distribution per molecule; the sampled token is appended to all its rows.
Finished molecules are dropped from the batch; decoding stops when all have ended.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.sampling import guidance

ROW_METHODS = {"base": "null", "conditional": "target", "cfg": "null+target",
               "rcfg": "null+ys", "qtilt": "null+ys"}


@dataclass
class DecodePlan:
    """What one chunk of molecules decodes with.

    values (M, R, P) normalized condition vectors and mask (M, R, P); for `rcfg`/`qtilt`
    rewards (M, K) of the Y_S vectors (rows 1..K).
    """

    method: str
    values: torch.Tensor
    mask: torch.Tensor
    rewards: torch.Tensor | None = None
    gamma: float = 0.0


def guided_logprobs(plan: DecodePlan, logp: torch.Tensor, state: dict) -> torch.Tensor:
    """(M, R, V) fp32 log-probs -> (M, V) guided log-weights."""
    method = plan.method
    if method in ("base", "conditional"):
        return logp[:, 0]
    if method == "cfg":
        return guidance.cfg(logp[:, 0], logp[:, 1], plan.gamma)
    if method == "rcfg":
        return guidance.rcfg(logp[:, 0], logp[:, 1:], state["adv"], plan.gamma)
    if method == "qtilt":
        return guidance.qtilt(logp[:, 1:], state["c"], plan.rewards, plan.gamma)
    raise ValueError(f"unknown decoding method {method!r}; allowed: {', '.join(ROW_METHODS)}")


@torch.no_grad()
def decode(model, plan: DecodePlan, bos_id: int, eos_id: int, max_len: int,
           temperature: float, top_p: float, generator: torch.Generator,
           on_finished=None, compact_fraction: float = 0.125, record: bool = False):
    """Sample one token sequence per molecule (without <bos>/<eos>); M = plan.values.shape[0].

    A sequence that reaches `max_len` tokens without <eos> is returned as it stands (it
    usually decodes to an invalid SMILES). `on_finished(n)` is called with the number of
    molecules that ended at each step. With `record`, also returns the sampling
    distribution of every step, log softmax(guided / temperature) before top-p, as one
    (steps, V) tensor per molecule (steps = length + 1 when it ended with <eos>): the
    teacher signal for distillation.
    """
    device = plan.values.device
    M, R, P = plan.values.shape
    cache = model.new_cache(M * R, device)
    logits = model.prefill(plan.values.reshape(M * R, P), plan.mask.reshape(M * R, P),
                           bos_id, cache)                                   # (M*R, V)
    state: dict[str, torch.Tensor] = {}
    rewards = plan.rewards
    if plan.method == "rcfg":
        state["adv"] = guidance.advantages(rewards)
    if plan.method == "qtilt":
        state["c"] = torch.zeros_like(rewards)
    alive = torch.arange(M, device=device)           # molecule ids of the active rows
    row_alive = torch.ones(M, dtype=torch.bool, device=device)  # among the active ones
    out = torch.zeros((M, max_len), dtype=torch.long, device=device)
    lengths = torch.zeros(M, dtype=torch.long, device=device)
    dists = torch.zeros((M, max_len, logits.shape[-1]), device=device) if record else None
    for t in range(max_len):
        m = alive.shape[0]
        logp = torch.log_softmax(logits.float(), dim=-1).view(m, R, -1)  # (m, R, V)
        guided = guided_logprobs(plan, logp, state)                                  # (m, V)
        tokens = guidance.sample_tokens(guided, temperature, top_p, generator)  # (m,)
        tokens = torch.where(row_alive, tokens, torch.full_like(tokens, eos_id))
        if record:
            dists[alive[row_alive], t] = torch.log_softmax(guided[row_alive] / temperature,
                                                           dim=-1)
        if "c" in state:  # Q-tilt: running log likelihood ratio of each branch
            picked = logp.gather(2, tokens[:, None, None].expand(m, R, 1)).squeeze(2)  # (m, R)
            state["c"] = state["c"] + (picked[:, 1:] - picked[:, :1])
        ended = row_alive & (tokens == eos_id)
        going = row_alive & ~ended
        out[alive[going], t] = tokens[going]
        lengths[alive[going]] += 1
        if on_finished is not None and int(ended.sum()):
            on_finished(int(ended.sum()))
        row_alive = going
        if not bool(row_alive.any()):
            break
        if t == max_len - 1:
            if on_finished is not None:
                on_finished(int(row_alive.sum()))
            break
        if (~row_alive).float().mean() > compact_fraction:
            keep = row_alive.nonzero().squeeze(1)                     # (m',)
            rows = (keep[:, None] * R + torch.arange(R, device=device)).reshape(-1)
            cache.select(rows)
            alive, tokens, row_alive = alive[keep], tokens[keep], row_alive[keep]
            plan = _subset_plan(plan, keep)
            state = {k: v[keep] for k, v in state.items()}
        logits = model.decode_step(tokens.repeat_interleave(R), cache)   # (m*R, V)
    out, lengths = out.cpu().numpy(), lengths.cpu().numpy()
    sequences = [out[i, :lengths[i]].tolist() for i in range(M)]
    if not record:
        return sequences
    # a molecule drew one distribution per token plus one for <eos>, unless it hit max_len
    return sequences, [dists[i, :min(int(lengths[i]) + 1, max_len)] for i in range(M)]


def _subset_plan(plan: DecodePlan, keep: torch.Tensor) -> DecodePlan:
    return DecodePlan(plan.method, plan.values[keep], plan.mask[keep],
                      None if plan.rewards is None else plan.rewards[keep], plan.gamma)


def rows_per_molecule(method: str, ys: int) -> int:
    """Forward rows per output molecule (best_of_n decodes 1 + K base molecules)."""
    return {"base": 1, "conditional": 1, "cfg": 2, "rcfg": 1 + ys, "qtilt": 1 + ys,
            "best_of_n": 1 + ys}[method]


def pad_sequences(sequences: list[list[int]], bos_id: int, eos_id: int, device
                  ) -> torch.Tensor:
    """(B, W) ids `<bos> tokens <eos>` padded with 0 (W = longest + 2)."""
    width = max(len(s) for s in sequences) + 2
    ids = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, :len(s) + 2] = torch.tensor([bos_id, *s, eos_id])
    return ids.to(device)


def null_logits(model, ids: torch.Tensor) -> torch.Tensor:
    """(B, W) padded ids -> (B, W - 1, V) next-token logits under the null condition.

    Differentiable: callers choose `no_grad` (scoring) or not (training)."""
    zeros = torch.zeros((ids.shape[0], model.cfg.n_props), device=ids.device)
    logits, _ = model(ids[:, :-1], zeros, zeros.bool())
    return logits


def token_logprobs(model, ids: torch.Tensor) -> torch.Tensor:
    """(B, W) padded ids -> (B, W - 1) log pi(token | prefix, null), 0 at padding."""
    logp = torch.log_softmax(null_logits(model, ids).float(), dim=-1)      # (B, T, V)
    target = ids[:, 1:]
    return logp.gather(2, target[:, :, None]).squeeze(2) * (target != 0)     # (B, T)


def base_log_likelihood(model, sequences: list[list[int]], bos_id: int, eos_id: int,
                        device, batch_size: int = 1024) -> np.ndarray:
    """log pi(x | null) of each sequence (tokens + <eos>) under the unconditional model."""
    out = np.zeros(len(sequences))
    for start in range(0, len(sequences), batch_size):
        ids = pad_sequences(sequences[start:start + batch_size], bos_id, eos_id, device)
        with torch.no_grad():
            out[start:start + ids.shape[0]] = token_logprobs(model, ids).sum(1).cpu().numpy()
    return out
