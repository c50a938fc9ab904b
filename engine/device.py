"""The device choice shared by training, sampling, benchmarks and the dashboard."""
from __future__ import annotations

import torch

from engine.errors import UserError


class DeviceError(UserError):
    """A device that this machine does not have."""


def pick_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; otherwise the named device. Raises
    DeviceError for a CUDA device on a machine without CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} asked for, but CUDA is not available; use cpu")
    return torch.device(name)
