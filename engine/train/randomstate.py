"""The random state a training run carries from step to step, as JSON for its run folder.

A run stopped at step k and resumed must draw what the uninterrupted run draws from step
k + 1 on: its own generators (the teacher's Y_S draws, the sampled tokens, condition
masks), torch's global generators (dropout) and numpy's. Nothing is pickled: torch states
are byte tensors written as base64, numpy's bit-generator state is plain JSON.
"""
from __future__ import annotations

import base64

import numpy as np
import torch


def _bytes(state: torch.Tensor) -> str:
    return base64.b64encode(state.cpu().numpy().tobytes()).decode("ascii")


def _tensor(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)


def capture(generators: dict[str, torch.Generator] | None = None,
            rngs: dict[str, np.random.Generator] | None = None) -> dict:
    """JSON-ready state of the named torch `generators`, numpy `rngs`, and torch's global
    CPU (and, when initialized, CUDA) generators."""
    state = {"torch_global": _bytes(torch.get_rng_state()),
             "generators": {k: _bytes(g.get_state()) for k, g in (generators or {}).items()},
             "numpy": {k: r.bit_generator.state for k, r in (rngs or {}).items()}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda_global"] = [_bytes(s) for s in torch.cuda.get_rng_state_all()]
    return state


def restore(state: dict, generators: dict[str, torch.Generator] | None = None,
            rngs: dict[str, np.random.Generator] | None = None) -> list[str]:
    """Put a `capture`d state back into the same named generators; returns the names it
    held no state for (those keep their fresh seeding: a run saved by older code)."""
    missing = []
    if "torch_global" in state:
        torch.set_rng_state(_tensor(state["torch_global"]))
    if state.get("cuda_global") and torch.cuda.is_available():
        for device, saved in enumerate(state["cuda_global"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(_tensor(saved), device)
    for name, gen in (generators or {}).items():
        saved = state.get("generators", {}).get(name)
        if saved is None:
            missing.append(name)
        else:
            gen.set_state(_tensor(saved))       # a CPU byte tensor for any device
    for name, rng in (rngs or {}).items():
        saved = state.get("numpy", {}).get(name)
        if saved is None:
            missing.append(name)
        else:
            rng.bit_generator.state = saved
    return missing
