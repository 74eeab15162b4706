"""Run a block on a fixed random stream without disturbing the caller's (training) stream."""
from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | str = "cpu"):
    """The block draws from the stream of `seed` (CPU, and the CUDA device when `device` is one);
    afterwards every generator is back where it was."""
    device = torch.device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
