"""Sampler throughput: molecules/s and row-tokens/s against K and batch size, and the one
batched decoder against a reference that runs each branch as its own sequential call (as
`generate(guidance_scale=...)` does for CFG).

`python -m engine.bench.speed` prints markdown tables; `--device cuda` on a GPU.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from engine.bench.validity import DECODING
from engine.chem.rewards import load_reward
from engine.device import pick_device
from engine.model.checkpoint import load_checkpoint
from engine.sampling import guidance
from engine.sampling import methods as M
from engine.sampling.decoder import DecodePlan, decode, guided_logprobs
from engine.sampling.sampler import (SampleSettings, bank_rewards, build_plan, sample,
                                     target_vector)


class RowCounter(torch.nn.Module):
    """The real model, counting the rows of every decoding forward pass."""

    def __init__(self, model):
        super().__init__()
        self.model, self.cfg, self.rows = model, model.cfg, 0

    def new_cache(self, *args, **kwargs):
        return self.model.new_cache(*args, **kwargs)

    def prefill(self, values, mask, bos_id, cache):
        self.rows += values.shape[0]
        return self.model.prefill(values, mask, bos_id, cache)

    def decode_step(self, tokens, cache):
        self.rows += tokens.shape[0]
        return self.model.decode_step(tokens, cache)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def batched(ckpt, plan: DecodePlan, device, seed: int = 0) -> tuple[float, int, int]:
    """(seconds, row-tokens, tokens generated) for the one batched decoder."""
    counter = RowCounter(ckpt.model)
    gen = torch.Generator(device=device).manual_seed(seed)
    _sync(device)
    t0 = time.perf_counter()
    seqs = decode(counter, plan, ckpt.tokenizer.bos_id, ckpt.tokenizer.eos_id,
                  ckpt.model.cfg.block_size - 2, gen).sequences
    _sync(device)
    return time.perf_counter() - t0, counter.rows, sum(len(s) + 1 for s in seqs)


@torch.no_grad()
def sequential_reference(ckpt, plan: DecodePlan, device, seed: int = 0) -> tuple[float, int]:
    """RCFG with one model call per branch per step, each branch with its own KV cache.

    Same rule and sampling; finished molecules stay in the batch (masked), as in
    `generate`. Returns (seconds, row-tokens).
    """
    model, tok = ckpt.model, ckpt.tokenizer
    M, R, _ = plan.values.shape
    gen = torch.Generator(device=device).manual_seed(seed)
    _sync(device)
    t0 = time.perf_counter()
    caches = [model.new_cache(M, device) for _ in range(R)]
    logits = [model.prefill(plan.values[:, r], plan.mask[:, r], tok.bos_id, caches[r])
              for r in range(R)]
    state = ({"adv": guidance.advantages(plan.rewards, plan.decoding.advantage)}
             if plan.rule == "rcfg" else {})
    alive = torch.ones(M, dtype=torch.bool, device=device)
    rows = M * R
    for _ in range(model.cfg.block_size - 2):
        logp = torch.stack([torch.log_softmax(x.float(), -1) for x in logits], 1)  # (M, R, V)
        guided = guided_logprobs(plan, logp, state)
        tokens = guidance.sample_tokens(guided, plan.decoding.temperature,
                                        plan.decoding.top_p, gen)
        tokens = torch.where(alive, tokens, torch.full_like(tokens, tok.eos_id))
        alive &= tokens != tok.eos_id
        if not bool(alive.any()):
            break
        logits = [model.decode_step(tokens, caches[r]) for r in range(R)]
        rows += M * R
    _sync(device)
    return time.perf_counter() - t0, rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n", type=int, default=128, help="molecules per K setting")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 8, 16, 64])
    parser.add_argument("--batch-rows", type=int, nargs="+", default=[512, 2048, 8192])
    parser.add_argument("--reward", default="drug_like")
    parser.add_argument("--checkpoint", help="checkpoint folder (default: the shipped one)")
    parser.add_argument("--app-n", type=int, default=M.DASHBOARD_N,
                        help="molecules of the dashboard's default request (RCFG, defaults)")
    parser.add_argument("--grammar-n", type=int, default=1024,
                        help="molecules per decoding-mask timing (no mask, grammar, grammar "
                             "+ ring checks; base and RCFG K=16)")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, device=device)
    reward = load_reward(args.reward)
    r_bank = bank_rewards(ckpt, reward)
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
    print(f"# {name}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("| K | rows/molecule | molecules | s | molecules/s | row-tokens/s | "
          "sequential reference s | speed-up |\n|---|---|---|---|---|---|---|---|")
    target = target_vector(ckpt, r_bank, None)
    for k in args.ks:
        # K = 1: the null row plus one conditional row, i.e. the CFG layout
        # both without masks: this table compares batching, not the masks
        s = SampleSettings(method="cfg" if k == 1 else "rcfg", ys=max(k, 2), n=args.n,
                           device=str(device), grammar=False, plausibility=0.0)
        plan = build_plan(ckpt, s, args.n, np.random.default_rng(0), device, r_bank, target)
        wall, row_tokens, _ = batched(ckpt, plan, device)
        ref_wall, _ = sequential_reference(ckpt, plan, device)
        print(f"| {k} | {plan.values.shape[1]} | {args.n} | {wall:.2f} | {args.n / wall:.1f} | "
              f"{row_tokens / wall:,.0f} | {ref_wall:.2f} | {ref_wall / wall:.2f}x |", flush=True)
    print("\n| batch rows | K | molecules/s | row-tokens/s |\n|---|---|---|---|")
    for rows in args.batch_rows:
        k = 16
        n = max(1, rows // (1 + k))
        s = SampleSettings(method="rcfg", ys=k, n=n, device=str(device))
        plan = build_plan(ckpt, s, n, np.random.default_rng(0), device, r_bank, None)
        wall, row_tokens, _ = batched(ckpt, plan, device)
        print(f"| {rows} | {k} | {n / wall:.1f} | {row_tokens / wall:,.0f} |", flush=True)
    print("\n| method | decoding | molecules | s | molecules/s | overhead |\n"
          "|---|---|---|---|---|---|")
    for method, k in (("base", 2), ("rcfg", 16)):
        n = args.grammar_n
        walls = {}
        for label in [*DECODING] * 2:  # interleaved, best of two
            s = SampleSettings(method=method, ys=k, n=n, device=str(device), **DECODING[label])
            plan = build_plan(ckpt, s, n, np.random.default_rng(0), device, r_bank, None)
            wall = batched(ckpt, plan, device)[0]
            walls[label] = min(walls.get(label, wall), wall)
        plain = walls[next(iter(DECODING))]
        for label, wall in walls.items():
            print(f"| {method} | {label} | {n} | {wall:.2f} | {n / wall:.1f} | "
                  f"{wall / plain - 1:+.1%} |", flush=True)
    t0 = time.perf_counter()
    result = sample(ckpt, reward, SampleSettings(method="rcfg", n=args.app_n,
                                                 device=str(device)))
    print(f"\nDashboard default request ({args.app_n} molecules, RCFG K={M.DEFAULT_YS}, "
          f"gamma {M.DEFAULT_GAMMA:g}, scored): "
          f"{time.perf_counter() - t0:.1f} s end to end; validity "
          f"{result.summary['validity']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
