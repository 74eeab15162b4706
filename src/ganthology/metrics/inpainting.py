"""How well a hole is filled: L1 and PSNR inside the hole on held-out images, for a model and for two
baselines that need no training, measured the same way.

Context Encoders (Pathak et al. 2016, table 2) score inpainting by the mean L1 and L2 error and the
PSNR of the filled region against the original, on images in [0, 1]; so do we, per image inside
its hole, averaged over the held-out images. The baselines:

- mean colour: the hole filled with the mean colour of the image's known pixels (the flat fill a
  model must at least beat);
- border blur: the hole filled inward from its border by repeated masked Gaussian blur (each pass
  gives the ring of hole pixels next to known ones the Gaussian-weighted mean of their known
  neighbours; normalised convolution), then smoothed by masked diffusion (blur, then put the known
  pixels back), so the colours of the border flow smoothly into the hole: what classical
  diffusion-based inpainting does, and strong on smooth regions.

`inpainting_scores` is what `GANModel.held_out_metrics` reports for every model with `inpaint`
(context_encoder, ccgan).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..data.masks import square_masks


def hole_errors(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: (mean absolute error, mean squared error) over the pixels and channels inside the
    hole, on the [0, 1] scale of images (inputs in [-1, 1])."""
    d = (pred.float() - target.float()) / 2  # [0, 1] scale
    m = mask.float().expand_as(d)
    n = m.flatten(1).sum(1).clamp_min(1)
    return (d.abs() * m).flatten(1).sum(1) / n, (d ** 2 * m).flatten(1).sum(1) / n


def hole_scores(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """{"l1": mean over images of the mean absolute error inside the hole ([0, 1] scale: the paper's
    "mean L1 loss", 0.0937 is its 9.37%), "psnr": mean over images of the PSNR inside the hole (dB,
    data range 1)}."""
    l1, mse = hole_errors(pred, target, mask)
    psnr = -10 * torch.log10(mse.clamp_min(1e-10))
    return {"l1": float(l1.mean()), "psnr": float(psnr.mean())}


def mean_colour_fill(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x with its hole filled with the mean colour of its own known pixels (per image, per channel)."""
    known = 1 - mask
    mean = (x * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1)
    return x * known + mean * mask


def _gaussian(sigma: float, device) -> torch.Tensor:
    r = max(1, int(round(2 * sigma)))
    t = torch.arange(-r, r + 1, dtype=torch.float32, device=device)
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = g[:, None] * g[None, :]
    return (k / k.sum()).view(1, 1, 2 * r + 1, 2 * r + 1)


def border_blur_fill(x: torch.Tensor, mask: torch.Tensor, sigma: float = 1.0, smooth: int = 100) -> torch.Tensor:
    """x with its hole filled from its border inward: repeated masked Gaussian blur (normalised
    convolution, one ring of hole pixels per pass) until the hole is full, then `smooth` passes of
    masked diffusion (Gaussian blur of the whole image, known pixels put back)."""
    x = x.float()
    b, c, h, w = x.shape
    k = _gaussian(sigma, x.device)
    r = k.shape[-1] // 2
    kc = k.expand(c, 1, -1, -1)
    known = (mask < 0.5).float()
    out = x * known
    for _ in range(h + w):  # each pass fills at least one ring, so this always ends
        if bool(known.min() > 0):
            break
        num = F.conv2d(out * known, kc, padding=r, groups=c)
        den = F.conv2d(known, k, padding=r)
        new = (den > 1e-8) & (known < 0.5)
        out = torch.where(new, num / den.clamp_min(1e-8), out)
        known = torch.maximum(known, new.float())
    hole = mask > 0.5
    for _ in range(smooth):
        blurred = F.conv2d(F.pad(out, (r, r, r, r), mode="replicate"), kc, groups=c)
        out = torch.where(hole, blurred, x)
    return out


@torch.no_grad()
def inpainting_scores(inpaint: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor, hole: int,
                      kinds: tuple[str, ...] = ("center",), seed: int = 0, batch_size: int = 100) -> dict[str, float]:
    """L1 and PSNR inside the hole (`hole_scores`) of `inpaint(x, mask)` on images x (N, C, H, W) in
    [-1, 1], with `hole` x `hole` square masks of each kind in `kinds` ("center"; "random": one hole
    per image at a position drawn from `seed`), and of the two baselines: `l1`, `psnr` (the model),
    `l1_mean_fill`, `psnr_mean_fill` (the mean colour of the known pixels), `l1_blur_fill`,
    `psnr_blur_fill` (the border blur). Keys of a kind other than the first end in `_<kind>`
    (`psnr_random`). The model sees the images with their holes: what it puts outside the hole is
    not scored."""
    out: dict[str, float] = {}
    x = x.float()
    for i, kind in enumerate(kinds):
        g = torch.Generator().manual_seed(seed)
        m = square_masks(kind, len(x), x.shape[-1], hole, g, x.device)
        pred = torch.cat([inpaint(xb, mb).float() for xb, mb in zip(x.split(batch_size), m.split(batch_size))])
        suffix = "" if i == 0 else f"_{kind}"
        for name, filled in (("", pred), ("_mean_fill", mean_colour_fill(x, m)), ("_blur_fill", border_blur_fill(x, m))):
            for k, v in hole_scores(filled, x, m).items():
                out[f"{k}{name}{suffix}"] = v
    return out


__all__ = ["border_blur_fill", "hole_errors", "hole_scores", "inpainting_scores", "mean_colour_fill"]
