"""How much ink, and how wide, are a generator's digits against real ones? The numbers behind
began's drift toward narrow digits (docs/results.md, "Not met"): an L1 autoencoder reconstructs a
thin stroke with less error, so a BEGAN generator can lower its loss by drawing narrower digits.

    python benchmarks/stroke_width.py RUN_OR_CHECKPOINT_OR_NPZ ... [--n 2000] [--dataset mnist]

For each source (a run folder, a checkpoint or export, or a .npz / folder of images such as
benchmarks/pytorch_gan.py writes) it prints, over n images in [0, 1]:
- ink: the mean pixel;
- width: the number of columns that hold a pixel above one half, averaged over images;
each also as a multiple of the same number for the first n images of the dataset's test split.
Single-channel images only (the digits); a colour source is refused.
"""
from __future__ import annotations

import argparse
import sys

import torch

from ganthology.api import holds_images, load
from ganthology.errors import GanthologyError
from ganthology.metrics.evaluate import generate, load_images, reference_images


def ink_and_width(images: torch.Tensor) -> tuple[float, float]:
    """images: (N, 1, H, W) in [-1, 1] -> (mean pixel in [0, 1], mean count of columns lit above 1/2)."""
    if images.dim() != 4 or images.shape[1] != 1:
        raise GanthologyError(f"stroke width needs single-channel images, not shape {tuple(images.shape)}.")
    x = (images[:, 0].float().clamp(-1, 1) + 1) / 2
    return x.mean().item(), (x > 0.5).any(dim=1).float().sum(dim=1).mean().item()


def source_images(path: str, n: int, seed: int) -> torch.Tensor:
    """n images in [-1, 1]: read from a .npz or folder of images, else drawn from a trained model."""
    return load_images(path)[:n] if holds_images(path) else generate(load(path), n, seed)[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sources", nargs="+")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        real_ink, real_width = ink_and_width(reference_images(None, args.dataset, args.data_root)[: args.n])
        print(f"{args.dataset} test ({args.n}): ink {real_ink:.4f}, width {real_width:.2f} px")
        for src in args.sources:
            ink, width = ink_and_width(source_images(src, args.n, args.seed))
            print(f"{src}: ink {ink:.4f} ({ink / real_ink:.2f}x), width {width:.2f} px ({width / real_width:.2f}x)")
    except GanthologyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
