"""The step loop that pre-training, distillation and RL share.

A step function computes a loss and says what to record; the loop does the rest of a
step: zero the gradients, `backward()`, clip, the optimizer step, the progress bar. What
happens between steps (evaluate, record, save, stop early) is the caller's `after_step`.
A step whose loss or gradients are not finite updates nothing (the parameters stay
finite) and says so; too many in a row end the run with `NonFiniteLossError`.
"""
from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterable
from contextlib import contextmanager

import torch
import torch.distributed as dist

from engine.errors import UserError

MAX_SKIPPED = 5   # non-finite steps in a row that end a run: it is not a one-off batch

StepFn = Callable[[int], tuple[torch.Tensor | None, dict]]


class NonFiniteLossError(UserError):
    """Training steps kept giving a non-finite loss or gradients."""


def run_steps(step_fn: StepFn, optimizer: torch.optim.Optimizer,
              params: Iterable[torch.nn.Parameter], start: int, total: int,
              after_step: Callable[[int, dict], bool], label: str, progress: bool = True,
              max_grad_norm: float = 1.0) -> int:
    """Run steps `start` .. `total` - 1; returns the number of steps done when it ends.

    `step_fn(step)` returns (loss, record): a scalar loss tensor whose gradients train
    `params` (None: nothing to learn from this batch, no update), and the step's figures.
    `after_step(steps_done, record)`, with "loss" added first to the record, is called
    after every optimizer step; returning True stops the loop early (a time budget).
    SIGTERM (the dashboard's Stop, `kill`) ends the loop after the step in progress, so
    the caller saves exactly the steps done: `stopped_by_signal()` then says True.
    A loss or gradient norm that is NaN or infinite skips the update: a warning goes to
    stderr, the record gets `skipped` (why) and loss None. Raises NonFiniteLossError
    after MAX_SKIPPED such steps in a row.
    """
    params = list(params)
    bar = None
    if progress:
        from tqdm import tqdm  # noqa: PLC0415

        bar = tqdm(total=total, initial=start, desc=label, unit="step")
    step, skipped_in_a_row = start, 0
    try:
        while step < total:
            optimizer.zero_grad(set_to_none=True)
            loss, record = step_fn(step)
            skipped = _update(loss, optimizer, params, max_grad_norm)
            step += 1
            value = 0.0 if loss is None else loss.item()
            if skipped:
                skipped_in_a_row += 1
                print(f"warning: {label} step {step}: {skipped}; the step is skipped, the "
                      "parameters are unchanged", file=sys.stderr)
                if skipped_in_a_row >= MAX_SKIPPED:
                    raise NonFiniteLossError(
                        f"{label}: {MAX_SKIPPED} steps in a row (to step {step}) gave a "
                        f"non-finite loss or gradients ({skipped}); the parameters are those "
                        f"of step {step - MAX_SKIPPED}. Start a new run with a lower learning "
                        "rate (a resumed run repeats the same steps), or check the reward and "
                        "the start checkpoint")
                record = {**record, "skipped": skipped}
            else:
                skipped_in_a_row = 0
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.3f}")
            if after_step(step, {"loss": None if skipped else value, **record}) \
                    or _TERM.is_set():
                break
    finally:
        if bar is not None:
            bar.close()
    return step


def _update(loss: torch.Tensor | None, optimizer: torch.optim.Optimizer,
            params: list[torch.nn.Parameter], max_grad_norm: float) -> str | None:
    """backward(), clip and step; returns why the update was skipped (None: it was made)."""
    if loss is None:
        return None                      # nothing to learn from: no gradients, no update
    loss.backward()                      # always: under DDP every rank joins the all-reduce
    norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    bad = torch.stack([~torch.isfinite(loss.detach().float()),
                       ~torch.isfinite(norm.float())]).float()
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(bad)             # one rank's bad step is every rank's: skip together
    if not bad.any():
        optimizer.step()
        return None
    reasons = [f"the loss is {loss.item()}" if bad[0] else "",
               f"the gradient norm is {float(norm)}" if bad[1] else ""]
    return "; ".join(r for r in reasons if r) or "non-finite on another process"


_TERM = threading.Event()


def stopped_by_signal() -> bool:
    """Whether the last loop ended because the process was asked to stop (SIGTERM)."""
    return _TERM.is_set()


@contextmanager
def stop_on_sigterm():
    """While inside, SIGTERM asks the step loop to end after the current step instead of
    killing the process mid-step (main thread only; elsewhere the default stays)."""
    _TERM.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: _TERM.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
