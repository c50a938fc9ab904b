"""The device choice shared by training, sampling, benchmarks and the dashboard, the CPU
time a run costs, and handing freed memory back to the system."""
from __future__ import annotations

import ctypes
from functools import lru_cache

import torch

from engine.errors import UserError


class DeviceError(UserError):
    """A device that this machine does not have."""


def pick_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; otherwise the named device. Raises
    DeviceError for a name torch does not know, and for a CUDA device this machine lacks."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(f"device {name!r} asked for, but CUDA is not available; use cpu")
        if device.index is not None and device.index >= count:
            raise DeviceError(f"device {name!r} asked for, but this machine has {count} CUDA "
                              f"device(s): cuda:0 to cuda:{count - 1}")
    elif device.type not in ("cpu", "mps"):
        raise DeviceError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    return device


def cpu_seconds() -> float:
    """CPU time (user + system) of this process, all its threads, plus that of its waited-for
    child processes (the scoring pool's workers once it has shut down): what a run costs on
    a CPU, however many cores it spreads over."""
    import resource  # noqa: PLC0415  (POSIX only; every machine this runs on has it)

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library is not glibc."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Hand the pages the C heap holds free back to the system (glibc's malloc_trim; nothing
    on other C libraries). The decoder frees tensors of ever-changing sizes as it drops
    finished rows; glibc keeps those blocks, fragmented, and a long run's peak memory grew
    shard after shard (827 MB after one 2,000-molecule shard, 1,566 MB after four; 2.84 GB
    over a 10^6 library). Trimming after each of those drops keeps it flat (1.13 GB after
    ten) for about 5 % more CPU (BENCHMARKS.md, "Libraries")."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
