"""A small pre-LN GPT over SMILES tokens, conditioned on a masked property vector.

The condition becomes `n_prefix` embedding vectors placed before `<bos>`. A condition whose
mask is all False is the learned null condition, so one network gives pi(x), pi(x | y) and
pi(x | some properties).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class GPTConfig:
    vocab_size: int
    n_props: int = 25
    block_size: int = 100      # longest token sequence incl. <bos> and <eos>
    n_layer: int = 4
    n_head: int = 6
    d_model: int = 192
    n_prefix: int = 2
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "n_props", "block_size", "n_layer", "n_head", "d_model",
                     "n_prefix"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_head:
            raise ValueError(f"GPTConfig.d_model ({self.d_model}) must be a multiple of "
                             f"n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict:
        return asdict(self)


class KVCache:
    """Keys and values per layer, (B, H, capacity, head_dim) each.

    Capacity starts small and doubles up to `max_len` as tokens arrive, so short molecules
    never pay for the longest possible sequence (memory and `select` copies).
    """

    def __init__(self, n_layer: int, batch: int, n_head: int, max_len: int, head_dim: int,
                 device, dtype, initial: int = 48):
        self.max_len = max_len
        shape = (batch, n_head, min(initial, max_len), head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layer)]
        self.length = 0

    def reserve(self, extra: int) -> None:
        """Make room for `extra` more positions (raises past `max_len`)."""
        need = self.length + extra
        capacity = self.k[0].shape[2]
        if need <= capacity:
            return
        if need > self.max_len:
            raise ValueError(f"sequence of {need} positions exceeds the model's {self.max_len}")
        grown = min(self.max_len, max(2 * capacity, need))
        self._replace(lambda t: torch.cat(
            [t, t.new_zeros(*t.shape[:2], grown - capacity, t.shape[3])], dim=2))

    def select(self, rows: torch.Tensor) -> None:
        """Keep only `rows` (a LongTensor of batch indices), e.g. to drop finished rows."""
        self._replace(lambda t: t[rows])

    def _replace(self, change) -> None:
        """Each tensor by `change(tensor)`, one at a time, so a copy of the whole cache
        never exists at once (the old and new caches together were the decoder's peak
        memory)."""
        for cache in (self.k, self.v):
            for i in range(len(cache)):
                cache[i] = change(cache[i])


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(self, x, cache: KVCache | None = None, layer: int = 0):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in (q, k, v))  # (B, H, T, hd)
        if cache is None:
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        else:
            start = cache.length
            cache.k[layer][:, :, start:start + T] = k
            cache.v[layer][:, :, start:start + T] = v
            k_all = cache.k[layer][:, :, :start + T]
            v_all = cache.v[layer][:, :, :start + T]
            # a new token sees every cached position; a multi-token prefill is causal
            y = F.scaled_dot_product_attention(q, k_all, v_all, is_causal=(T > 1 and start == 0))
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model), nn.Dropout(cfg.dropout))

    def forward(self, x, cache=None, layer=0):
        x = x + self.attn(self.ln1(x), cache, layer)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        self.pos_emb = nn.Embedding(cfg.n_prefix + cfg.block_size, d)
        self.cond_mlp = nn.Sequential(nn.Linear(2 * cfg.n_props, d), nn.GELU(),
                                      nn.Linear(d, cfg.n_prefix * d))
        self.null_cond = nn.Parameter(torch.zeros(cfg.n_prefix, d))
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))
        nn.init.normal_(self.null_cond, std=0.02)

    @staticmethod
    def _init(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def condition(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Prefix embeddings (B, n_prefix, d) from normalized `values` (B, P) and `mask` (B, P).

        Rows whose mask is all False get the learned null condition.
        """
        m = mask.to(values.dtype)
        v = torch.nan_to_num(values) * m
        emb = self.cond_mlp(torch.cat([v, m], dim=-1)).view(-1, self.cfg.n_prefix,
                                                            self.cfg.d_model)
        is_null = ~mask.any(dim=-1)  # (B,)
        return torch.where(is_null[:, None, None], self.null_cond.to(emb.dtype), emb)

    def _embed(self, idx, start: int):
        pos = torch.arange(start, start + idx.shape[1], device=idx.device)
        return self.tok_emb(idx) + self.pos_emb(pos)

    def forward(self, idx, cond_values, cond_mask, targets=None):
        """Teacher-forced pass. idx (B, T) starts with <bos>; returns (logits (B, T, V), loss).

        The loss is the mean cross-entropy over target positions that are not padding (0).
        """
        P = self.cfg.n_prefix
        prefix = self.condition(cond_values, cond_mask) + self.pos_emb.weight[:P]
        x = self.drop(torch.cat([prefix, self._embed(idx, P)], dim=1))  # (B, P+T, d)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x[:, P:]))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                   targets.reshape(-1), ignore_index=0)
        return logits, loss

    def new_cache(self, batch: int, device, dtype=torch.float32) -> KVCache:
        cfg = self.cfg
        return KVCache(cfg.n_layer, batch, cfg.n_head, cfg.n_prefix + cfg.block_size,
                       cfg.d_model // cfg.n_head, device, dtype)

    @torch.no_grad()
    def prefill(self, cond_values, cond_mask, bos_id: int, cache: KVCache) -> torch.Tensor:
        """Run prefix + <bos> into `cache`; returns next-token logits (B, V)."""
        P = self.cfg.n_prefix
        B = cond_values.shape[0]
        prefix = self.condition(cond_values, cond_mask) + self.pos_emb.weight[:P]
        bos = torch.full((B, 1), bos_id, dtype=torch.long, device=cond_values.device)
        x = torch.cat([prefix, self._embed(bos, P)], dim=1)  # (B, P+1, d)
        return self._run_cached(x, cache)

    @torch.no_grad()
    def decode_step(self, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Append one token per row (B,) and return next-token logits (B, V)."""
        x = self._embed(tokens[:, None], cache.length)  # (B, 1, d)
        return self._run_cached(x, cache)

    def _run_cached(self, x, cache: KVCache) -> torch.Tensor:
        cache.reserve(x.shape[1])
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        cache.length += x.shape[1]
        return self.head(self.ln_f(x[:, -1]))  # (B, V)
