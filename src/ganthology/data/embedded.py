"""Datasets that need no download: they ship with scikit-learn or are derived from one that does.

- `digits`: the 1,797 real handwritten digits (8x8, 16 grey levels, labels 0-9) of the UCI "Optical
  Recognition of Handwritten Digits" set, bundled with scikit-learn as `load_digits`. Upsampled to
  16x16 by default. The quick-start dataset.
- `edges2digits`: pairs for paired translation (pix2pix), derived from `digits`: A is a binary edge
  map of the digit (Sobel gradient magnitude, thresholded), B is the digit itself, 32x32. The first
  1,497 pairs are the training split, the last 300 the held-out test split.
- `digit_attrs`: colour digits with three attributes, each a known transformation of a real digit
  (thick: the stroke dilated by one pixel; red: the stroke drawn red instead of white; inverted:
  255 minus the image), applied in that order, for attribute translation (StarGAN). Every
  combination has an exact ground truth: `apply_digit_attributes(base, target)`. Train: the first
  1,497 digits, each twice with attribute vectors drawn from a fixed seed; test: the last 300, each
  once, with the untransformed digit under `base`. 32x32.
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


DIGIT_ATTRIBUTES = ["thick", "red", "inverted"]
RED = torch.tensor([1.0, 0.15, 0.15])  # the stroke colour of `red`: its green and blue are 15%


def apply_digit_attributes(base: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
    """Grey uint8 digits (N, 1, H, W) -> colour uint8 (N, 3, H, W) with the attributes `attr`
    (N, 3) of DIGIT_ATTRIBUTES: dilate (thick), colour the stroke (red), then invert (inverted)."""
    on = attr.bool().view(-1, 3, 1, 1, 1).unbind(1)  # three (N, 1, 1, 1) masks
    x = base.float()
    x = torch.where(on[0], F.max_pool2d(x, 3, stride=1, padding=1), x)  # 3x3 dilation of the stroke
    colour = torch.where(on[1].view(-1, 1, 1, 1), RED.view(1, 3, 1, 1), torch.ones(1, 3, 1, 1))
    x = x * colour
    x = torch.where(on[2], 255.0 - x, x)
    return x.round().clamp(0, 255).to(torch.uint8)


@register_dataset("digit_attrs")
def digit_attrs(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Colour digits with known attributes (thick, red, inverted) for StarGAN, 32x32; offline."""
    x, y = _digits_uint8()
    base = resize_uint8(x[:EDGES_TRAIN] if train else x[EDGES_TRAIN:], image_size or 32)
    y = y[:EDGES_TRAIN] if train else y[EDGES_TRAIN:]
    if train:  # every training digit twice, with independent attribute vectors
        base, y = base.repeat(2, 1, 1, 1), y.repeat(2)
    g = torch.Generator().manual_seed(0 if train else 1)
    attr = torch.randint(0, 2, (len(base), len(DIGIT_ATTRIBUTES)), generator=g).float()
    tensors = {"x": apply_digit_attributes(base, attr), "attr": attr, "y": y}
    if not train:
        tensors["base"] = base
    return InMemoryDataset("digit_attrs", tensors, num_classes=10, classes=[str(i) for i in range(10)],
                           attributes=list(DIGIT_ATTRIBUTES))
