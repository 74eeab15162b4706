"""2-D Gaussian mixtures for measuring mode coverage: `ring8` and `grid25`.

The standard toy problems of the mode-collapse literature. Their modes are known exactly, so how
many of them a generator covers, and how many of its samples land on one, can be counted
(`ganthology.metrics.toy.mode_coverage`):

- `ring8`: 8 Gaussians evenly spaced on a circle of radius 2, standard deviation 0.02. The mixture
  of Metz et al., "Unrolled Generative Adversarial Networks", 2017 (arXiv:1611.02163, section 3.1)
  and Srivastava et al., "VEEGAN", 2017 (arXiv:1705.07761, section 5.1).
- `grid25`: 25 Gaussians on the 5x5 grid {-4, -2, 0, 2, 4}^2, standard deviation 0.05 (VEEGAN,
  section 5.1).

Every mode has the same weight. The points are drawn from a fixed seed (one for the training split,
another for the test split), so a dataset is the same on every machine and in every run. Points are
float32 vectors of shape (2,) in the data's own coordinates: they are not scaled to [-1, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import GanthologyError
from ..registry import register_dataset
from .core import InMemoryDataset

TRAIN_POINTS = 50_000  # size of the training split
TEST_POINTS = 10_000  # size of the held-out split
TRAIN_SEED, TEST_SEED = 0, 1  # the splits are drawn from different seeds


@dataclass(frozen=True)
class GaussianMixture:
    """Equal-weight isotropic Gaussians: `centers` (K, D), one standard deviation `std`."""

    name: str
    centers: torch.Tensor
    std: float

    def sample(self, n: int, seed: int) -> torch.Tensor:
        """n points (n, D) from a generator seeded by `seed`; every mode gets n // K or n // K + 1."""
        g = torch.Generator().manual_seed(seed)
        k = len(self.centers)
        mode = torch.randperm(n, generator=g) % k  # balanced, in random order
        noise = torch.randn(n, self.centers.shape[1], generator=g)
        return (self.centers[mode] + self.std * noise).float()


def ring_centers(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return torch.stack([radius * angles.cos(), radius * angles.sin()], 1).float()  # (k, 2)


def grid_centers(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing  # -4, -2, 0, 2, 4
    xs, ys = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], 1)  # (side^2, 2)


MIXTURES = {
    "ring8": GaussianMixture("ring8", ring_centers(8, 2.0), 0.02),
    "grid25": GaussianMixture("grid25", grid_centers(5, 2.0), 0.05),
}


def toy_mixture(name: str) -> GaussianMixture:
    """The mixture behind a toy dataset, for scoring; a clear error for any other dataset."""
    if name not in MIXTURES:
        raise GanthologyError(
            f"{name!r} is not a 2-D toy dataset with known modes; mode coverage is measured on "
            f"{' or '.join(sorted(MIXTURES))}."
        )
    return MIXTURES[name]


def _toy(name: str, image_size: int | None, train: bool) -> InMemoryDataset:
    if image_size is not None:
        raise GanthologyError(f"{name} holds 2-D points, not images; drop --image-size.")
    mix = MIXTURES[name]
    x = mix.sample(TRAIN_POINTS, TRAIN_SEED) if train else mix.sample(TEST_POINTS, TEST_SEED)
    return InMemoryDataset(name, {"x": x})


@register_dataset("ring8")
def ring8(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """8 Gaussians on a circle of radius 2, std 0.02 (2-D points; unrolled GAN / VEEGAN toy)."""
    return _toy("ring8", image_size, train)


@register_dataset("grid25")
def grid25(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """25 Gaussians on a 5x5 grid at -4..4 step 2, std 0.05 (2-D points; VEEGAN toy)."""
    return _toy("grid25", image_size, train)
