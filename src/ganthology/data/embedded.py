"""Datasets that need no download: they ship with scikit-learn or are derived from one that does.

- `digits`: the 1,797 real handwritten digits (8x8, 16 grey levels, labels 0-9) of the UCI "Optical
  Recognition of Handwritten Digits" set, bundled with scikit-learn as `load_digits`. Upsampled to
  16x16 by default. The quick-start dataset.
- `edges2digits`: pairs for paired translation (pix2pix), derived from `digits`: A is a binary edge
  map of the digit (Sobel gradient magnitude, thresholded), B is the digit itself, 32x32. The first
  1,497 pairs are the training split, the last 300 the held-out test split.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import register_dataset
from .core import InMemoryDataset, resize_uint8


def _digits_uint8() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images).float()  # (1797, 8, 8), values 0..16
    x = (x * (255.0 / 16.0)).round().to(torch.uint8).unsqueeze(1)  # (N, 1, 8, 8)
    return x, torch.from_numpy(d.target).long()


@register_dataset("digits")
def digits(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """All 1,797 digits for training; `train=False` gives the same images (there is no split)."""
    x, y = _digits_uint8()
    x = resize_uint8(x, image_size or 16)
    return InMemoryDataset("digits", {"x": x, "y": y}, num_classes=10, classes=[str(i) for i in range(10)])


def sobel_edges(images: torch.Tensor, threshold: float = 0.25) -> torch.Tensor:
    """Binary edge maps of uint8 (N, 1, H, W) images: Sobel gradient magnitude > threshold x max."""
    x = images.float() / 255.0
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]).view(1, 1, 3, 3)
    gx = F.conv2d(x, kx, padding=1)
    gy = F.conv2d(x, kx.transpose(2, 3), padding=1)
    mag = (gx**2 + gy**2).sqrt()
    peak = mag.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    return ((mag / peak) > threshold).to(torch.uint8) * 255


EDGES_TRAIN = 1497  # pairs in the training split; the remaining 300 are held out


@register_dataset("edges2digits")
def edges2digits(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Paired (edge map -> digit) images derived from `digits`, 32x32 by default."""
    x, _ = _digits_uint8()
    x = x[:EDGES_TRAIN] if train else x[EDGES_TRAIN:]
    B = resize_uint8(x, image_size or 32)
    A = sobel_edges(B)
    return InMemoryDataset("edges2digits", {"A": A, "B": B})
