"""The step loop that pre-training, distillation and RL share.

A step function computes a loss and says what to record; the loop does the rest of a
step: zero the gradients, `backward()`, clip, the optimizer step, the progress bar. What
happens between steps (evaluate, record, save, stop early) is the caller's `after_step`.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from contextlib import contextmanager

import torch

StepFn = Callable[[int], tuple[torch.Tensor | None, dict]]


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
    """
    params = list(params)
    bar = None
    if progress:
        from tqdm import tqdm  # noqa: PLC0415

        bar = tqdm(total=total, initial=start, desc=label, unit="step")
    step = start
    try:
        while step < total:
            optimizer.zero_grad(set_to_none=True)
            loss, record = step_fn(step)
            if loss is not None:
                loss.backward()
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            step += 1
            value = 0.0 if loss is None else loss.item()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.3f}")
            if after_step(step, {"loss": value, **record}) or _TERM.is_set():
                break
    finally:
        if bar is not None:
            bar.close()
    return step


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
