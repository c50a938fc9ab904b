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
                        device, batch_size: int = 1024) -> np.ndarray:
    """log pi(x | null) of each sequence (tokens + <eos>) under the unconditional model."""
    out = np.zeros(len(sequences))
    for start in range(0, len(sequences), batch_size):
        ids = pad_sequences(sequences[start:start + batch_size], bos_id, eos_id, device)
        with torch.no_grad():
            out[start:start + ids.shape[0]] = token_logprobs(model, ids).sum(1).cpu().numpy()
    return out
