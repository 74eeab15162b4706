"""Holes for inpainting: the masks Context Encoders and CC-GAN train with, and a user's own mask.

A mask is a float tensor (N, 1, H, W) that is 1 where an image is missing (inside the hole) and 0
where it is known. Masks are drawn from torch's random number generator (a seeded
`torch.Generator` makes them reproducible; the PyTorch-GAN scripts drew them with np.random, which
`torch.manual_seed` does not fix).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import GanthologyError

#: the mask kinds a model can train with and `ganthology inpaint --mask` offers besides a file
KINDS = ("center", "random")


def square_masks(kind: str, n: int, size: int, hole: int, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """n masks (n, 1, size, size) with one `hole` x `hole` square of ones each: in the middle of the
    image ("center", Pathak et al. 2016 section 3.3's central region) or at a position drawn
    uniformly inside the image, one per item ("random", their random-block masks)."""
    if kind not in KINDS:
        raise GanthologyError(f"mask must be one of {', '.join(KINDS)} or an image file, not {kind!r}.")
    if not 0 < hole <= size:
        raise GanthologyError(f"the hole ({hole} pixels) must be between 1 and the image side ({size}).")
    m = torch.zeros(n, 1, size, size, device=device)
    if kind == "center":
        t = (size - hole) // 2
        m[:, :, t:t + hole, t:t + hole] = 1
        return m
    top = torch.randint(size - hole + 1, (n,), generator=generator)
    left = torch.randint(size - hole + 1, (n,), generator=generator)
    for i, (t, s) in enumerate(zip(top.tolist(), left.tolist())):
        m[i, :, t:t + hole, s:s + hole] = 1
    return m


def read_mask(path: str | Path, size: int) -> torch.Tensor:
    """A user's mask image as (1, 1, size, size): white (grey value >= 128) marks the hole; resized
    to `size` with nearest-neighbour sampling, so it stays 0/1."""
    from .folders import read_image

    p = Path(path)
    if not p.is_file():
        raise GanthologyError(f"mask {p} is not a file; give center, random or a black-and-white image "
                              "that is white where the image should be filled.")
    m = (read_image(p, "L") >= 128).float().unsqueeze(0)  # (1, 1, h, w)
    if m.shape[-2:] != (size, size):
        m = F.interpolate(m, size=(size, size), mode="nearest")
    if m.sum() == 0:
        raise GanthologyError(f"mask {p} has no white pixels, so there is nothing to fill; paint the hole white.")
    return m


def fill_hole(x: torch.Tensor, mask: torch.Tensor, value: float | torch.Tensor = 0.0) -> torch.Tensor:
    """x with its hole replaced by `value` (a number, or one value per channel (C,)): the input a
    model sees, so whatever was inside the hole cannot leak into its output."""
    if isinstance(value, torch.Tensor):
        value = value.to(x).view(1, -1, 1, 1)
    return x * (1 - mask) + value * mask


def composite(filled: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The model's pixels inside the hole, the known pixels of x outside it."""
    return x * (1 - mask) + filled * mask
