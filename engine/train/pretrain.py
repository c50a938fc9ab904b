"""Pre-training the conditional SMILES GPT: a plain step loop returning its history.

Condition dropout: a fraction of rows get the null condition (all properties masked),
another fraction a random subset of properties, the rest the full vector. Runs on one
device or under `torchrun` (DDP; gloo on CPU, NCCL on CUDA). Resumable from the folder.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist

from engine.chem.properties import PROPERTY_NAMES
from engine.device import pick_device
from engine.errors import UserError
from engine.model.checkpoint import save_checkpoint
from engine.model.gpt import GPT, GPTConfig
from engine.model.tokenizer import SmilesTokenizer, TokenizerError
from engine.train import randomstate, runfolder
from engine.train.data import load_dataset, read_provenance
from engine.train.loop import run_steps, stop_on_sigterm, stopped_by_signal


RESUME_MAY_CHANGE = ("max_steps", "max_minutes", "device", "out")   # on --resume


class TrainError(UserError):
    """Pre-training settings that cannot be used, with what is allowed."""


@dataclass
class TrainConfig:
    data: str
    out: str
    # the model's shape, with GPTConfig's defaults (its vocabulary comes from the data)
    n_layer: int = GPTConfig.n_layer
    n_head: int = GPTConfig.n_head
    d_model: int = GPTConfig.d_model
    n_prefix: int = GPTConfig.n_prefix
    dropout: float = GPTConfig.dropout
    block_size: int = GPTConfig.block_size
    batch_size: int = 256
    lr: float = 1e-3
    min_lr: float = 1e-4
    weight_decay: float = 0.1
    warmup_steps: int = 200
    max_steps: int = 5000
    eval_every: int = 250
    val_fraction: float = 0.02
    cond_dropout: float = 0.15
    subset_dropout: float = 0.35
    bank_size: int = 20000
    seed: int = 0
    device: str = "auto"
    max_minutes: float | None = None   # stop early (and save) after this wall time

    def __post_init__(self):
        for name in ("batch_size", "max_steps", "eval_every", "bank_size"):
            if getattr(self, name) < 1:
                raise TrainError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("val_fraction", "cond_dropout", "subset_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise TrainError(f"TrainConfig.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.cond_dropout + self.subset_dropout >= 1.0:
            raise TrainError("cond_dropout + subset_dropout must be < 1")
        if not 0 < self.min_lr <= self.lr:
            raise TrainError(f"need 0 < min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}")
        if self.warmup_steps < 0:
            raise TrainError(f"TrainConfig.warmup_steps must be >= 0, got {self.warmup_steps}")

    def model_config(self, vocab_size: int) -> GPTConfig:
        """The GPTConfig of this shape for a vocabulary of `vocab_size` tokens."""
        shape = {f.name: getattr(self, f.name) for f in fields(GPTConfig)
                 if hasattr(self, f.name)}
        return GPTConfig(vocab_size=vocab_size, n_props=len(PROPERTY_NAMES), **shape)


def lr_at(step: int, cfg: TrainConfig, elapsed_min: float = 0.0) -> float:
    """Linear warm-up, then cosine decay from lr to min_lr at max_steps.

    With a time budget (`max_minutes`) the decay follows whichever runs out first, steps
    or time, so a run cut by its budget still ends at min_lr.
    """
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    if cfg.max_minutes:
        progress = max(progress, min(1.0, elapsed_min / cfg.max_minutes))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def encode_table(table: pd.DataFrame, tokenizer: SmilesTokenizer, block_size: int
                 ) -> tuple[torch.Tensor, np.ndarray, int]:
    """Token matrix (N, block_size) padded with 0, kept row indices, and skipped count.

    Rows with a token outside the vocabulary or longer than `block_size` are skipped.
    """
    rows, kept = [], []
    for i, smi in enumerate(table["smiles"]):
        try:
            ids = tokenizer.encode(smi)
        except TokenizerError:
            continue
        if len(ids) <= block_size:
            rows.append(ids)
            kept.append(i)
    tokens = torch.zeros((len(rows), block_size), dtype=torch.long)
    for r, ids in enumerate(rows):
        tokens[r, :len(ids)] = torch.tensor(ids)
    return tokens, np.asarray(kept, dtype=np.int64), len(table) - len(rows)


def condition_mask(batch: int, n_props: int, cfg: TrainConfig, gen: torch.Generator
                   ) -> torch.Tensor:
    """(B, P) bool: null rows (all False), random-subset rows, and full rows."""
    u = torch.rand(batch, generator=gen)
    keep_p = torch.rand(batch, 1, generator=gen)
    subset = torch.rand(batch, n_props, generator=gen) < keep_p
    mask = torch.ones(batch, n_props, dtype=torch.bool)
    is_subset = (u >= cfg.cond_dropout) & (u < cfg.cond_dropout + cfg.subset_dropout)
    mask[is_subset] = subset[is_subset]
    mask[u < cfg.cond_dropout] = False
    return mask


class _Dist:
    """torchrun's environment, or a single process."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0


def _split(n: int, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(cfg.seed).permutation(n)
    n_val = max(1, int(n * cfg.val_fraction))
    return order[n_val:], order[:n_val]


@torch.no_grad()
def evaluate(model, tokens, values, idx, device, batch_size=512) -> float:
    """Mean token cross-entropy on rows `idx`, conditioned on the full property vector."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(idx), batch_size):
        rows = torch.as_tensor(idx[start:start + batch_size])
        x, y, v, m = _batch(tokens, values, rows, None, device)
        _, loss = model(x, v, m, y)
        n = int((y != 0).sum())
        total += float(loss) * n
        count += n
    model.train()
    return total / max(1, count)


def _batch(tokens, values, rows, mask, device):
    seq = tokens[rows]
    width = int((seq != 0).sum(1).max())
    seq = seq[:, :width]
    x, y = seq[:, :-1], seq[:, 1:]
    v = values[rows]
    m = torch.ones_like(v, dtype=torch.bool) if mask is None else mask
    return x.to(device), y.to(device), v.to(device), m.to(device)


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True,
          on_step=None) -> list[dict]:
    """Train and write the run folder `cfg.out`; returns the history.

    `on_step(record)` is called after every evaluation (for dashboards and tests). Raises
    RunFolderError when `out` already holds a run or a checkpoint and `resume` is False
    (nothing is overwritten), when another process is writing it, or when resuming with
    other settings than the step and time budget; DataError for a missing or wrong data
    folder.
    """
    # one writer: the main process of a distributed run holds the lock for all ranks
    main = int(os.environ.get("RANK", "0")) == 0
    with runfolder.hold(cfg.out) if main else nullcontext():
        return _train(cfg, resume, progress, on_step)


def _train(cfg: TrainConfig, resume: bool, progress: bool, on_step) -> list[dict]:
    out = Path(cfg.out)
    resuming = runfolder.claim(out, None, resume, asdict(cfg), RESUME_MAY_CHANGE)
    device = pick_device(cfg.device)
    ddp = _Dist(device)
    torch.manual_seed(cfg.seed)
    table = load_dataset(cfg.data)
    train_rows, val_rows = _split(len(table), cfg)
    tokenizer = SmilesTokenizer.build(table["smiles"].iloc[train_rows])
    tokens, kept, skipped = encode_table(table, tokenizer, cfg.block_size)
    keep_set = set(kept.tolist())
    remap = {old: new for new, old in enumerate(kept)}
    train_idx = np.array([remap[i] for i in train_rows if i in keep_set])
    val_idx = np.array([remap[i] for i in val_rows if i in keep_set])
    raw = table[list(PROPERTY_NAMES)].to_numpy(np.float64)[kept]
    mean = raw[train_idx].mean(0)
    std = np.maximum(raw[train_idx].std(0), 1e-6)
    values = torch.as_tensor((raw - mean) / std, dtype=torch.float32)

    model = GPT(cfg.model_config(len(tokenizer))).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=cfg.lr, betas=(0.9, 0.95))
    step, history = 0, []
    if resuming:
        from engine.model.checkpoint import load_checkpoint  # noqa: PLC0415

        ckpt = load_checkpoint(out, device=device, require_bank=False)
        if ckpt.tokenizer.to_list() != tokenizer.to_list():
            raise runfolder.RunFolderError(f"{out}: cannot resume, the data gives another "
                                           "vocabulary")
        model.load_state_dict(ckpt.model.state_dict())
        step, history = runfolder.load_train_state(out, optimizer)
    net = model
    if ddp.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    bank_rows = np.random.default_rng(cfg.seed + 1).choice(
        train_idx, size=min(cfg.bank_size, len(train_idx)), replace=False)
    bank = table.iloc[kept[bank_rows]].reset_index(drop=True)
    extra = {"data": {**read_provenance(cfg.data), "path": str(cfg.data),
                      "train_rows": int(len(train_idx)), "val_rows": int(len(val_idx)),
                      "skipped_out_of_vocabulary_or_too_long": int(skipped)},
             "training": {**asdict(cfg), "world_size": ddp.world, "device": str(device)}}

    def save(steps_done: int, final: bool):
        if not ddp.main:
            return
        extra["training"]["steps_done"] = steps_done
        extra["training"]["finished"] = final
        runfolder.save_run(out, steps_done, lambda stage: save_checkpoint(
            out, model, tokenizer, mean, std, bank, extra, step=steps_done, stage=stage),
            optimizer, history, {"random": randomstate.capture({"condition_masks": gen}),
                                 "running_losses": running,
                                 "elapsed_s": time.time() - t0})

    amp = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
           else nullcontext())
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + ddp.rank + step)
    # a resumed run keeps its time budget (the minutes already spent) and continues the
    # loss average and the random draws of its last save: exactly the uninterrupted run
    # in one process; under DDP the other ranks' generators restart from their seeds
    saved = runfolder.read_resume(out) if resuming else {}
    if saved and ddp.main:
        randomstate.restore(saved.get("random", {}), {"condition_masks": gen})
    running: list[float] = list(saved.get("running_losses", []))
    elapsed = saved.get("elapsed_s", history[-1]["elapsed_s"] if history else 0.0)
    t0 = time.time() - elapsed
    per_rank = cfg.batch_size // ddp.world
    steps_per_epoch = max(1, len(train_idx) // cfg.batch_size)
    if ddp.main:
        runfolder.start_history(out, history)

    def step_fn(step: int):
        epoch, offset = divmod(step, steps_per_epoch)
        order = np.random.default_rng(cfg.seed + 7919 * epoch).permutation(train_idx)
        chunk = order[offset * cfg.batch_size:(offset + 1) * cfg.batch_size]
        rows = torch.as_tensor(chunk[ddp.rank * per_rank:(ddp.rank + 1) * per_rank])
        mask = condition_mask(len(rows), len(PROPERTY_NAMES), cfg, gen)
        x, y, v, m = _batch(tokens, values, rows, mask, device)
        lr = lr_at(step, cfg, (time.time() - t0) / 60)
        for group in optimizer.param_groups:
            group["lr"] = lr
        with amp:
            _, loss = net(x, v, m, y)
        return loss, {"lr": lr}

    def after_step(done: int, rec: dict) -> bool:
        nonlocal running
        if rec["loss"] is not None:                 # None: a skipped, non-finite step
            running.append(rec["loss"])
        out_of_time = cfg.max_minutes is not None and (time.time() - t0) / 60 > cfg.max_minutes
        if done % cfg.eval_every == 0 or done == cfg.max_steps or out_of_time:
            record = {"step": done, "loss": float(np.mean(running)) if running else None,
                      "lr": rec["lr"],
                      "val_loss": evaluate(model, tokens, values, val_idx, device)
                      if ddp.main else None, "elapsed_s": time.time() - t0}
            running = []
            history.append(record)
            if ddp.main:
                runfolder.append_history(out, record)
                if on_step is not None:
                    on_step(record)
            save(done, final=False)
        return out_of_time

    model.train()
    with stop_on_sigterm():
        step = run_steps(step_fn, optimizer, model.parameters(), step, cfg.max_steps,
                         after_step, "training", progress and ddp.main)
        # max_steps or the time budget end the run; SIGTERM pauses it (--resume goes on)
        stopped = ("signal" if stopped_by_signal() else
                   "steps" if step >= cfg.max_steps else "time budget")
        extra["training"]["stopped_by"] = stopped
        save(step, final=stopped != "signal")
    if ddp.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return history
