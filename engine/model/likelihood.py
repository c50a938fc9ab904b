"""Teacher-forced likelihood under the model's null condition (the unconditional branch):
padding a batch of token sequences, its next-token logits, each token's log-probability,
and log pi(x | null) of whole molecules. The decoder samples; this scores given sequences
(the `nll` column, RL's policy and KL terms, distillation's student)."""
from __future__ import annotations

import numpy as np
import torch


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
                        device, tokens_per_batch: int = 8192) -> np.ndarray:
    """log pi(x | null) of each sequence (tokens + <eos>) under the unconditional model.

    Sequences are taken shortest first in batches of about `tokens_per_batch` padded
    positions, so a batch pads to a length near its own (padding a library chunk to its
    longest molecule doubled the work); a sequence's value does not depend on the others."""
    out = np.zeros(len(sequences))
    order = np.argsort([len(s) for s in sequences], kind="stable")
    batch: list[int] = []
    for i in [*order, None]:
        # ascending lengths: the sequence joining a batch is its widest
        if batch and (i is None or (len(batch) + 1) * (len(sequences[i]) + 2)
                      > tokens_per_batch):
            ids = pad_sequences([sequences[j] for j in batch], bos_id, eos_id, device)
            with torch.no_grad():
                out[batch] = token_logprobs(model, ids).sum(1).cpu().numpy()
            batch = []
        if i is not None:
            batch.append(int(i))
    return out
