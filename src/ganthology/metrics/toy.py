"""Mode coverage on the 2-D Gaussian mixtures `ring8` and `grid25`.

The protocol of the mode-collapse literature, whose modes are known exactly:

- A sample is *high quality* when it lies within 3 standard deviations of its nearest mode
  (Srivastava et al., "VEEGAN", 2017, arXiv:1705.07761, section 5.1, following Metz et al.,
  "Unrolled Generative Adversarial Networks", 2017, arXiv:1611.02163). Real data of a 2-D
  isotropic Gaussian mixture scores 1 - exp(-9/2) = 98.9% by this rule.
- A mode is *covered* when it receives at least a fifth of the high-quality samples a perfect
  generator would put there (n / K of n samples for K equal modes). This is the rule of Lin et al.,
  "PacGAN", 2018, arXiv:1712.04086, section 5 ("a mode is lost if there are less than 20 generated
  samples registered into this mode, which is 1/5 of the expected number" for 2,500 samples on 25
  modes), written relative to n / K so that it holds for any n and any mixture: 62.5 of 2,500
  samples for ring8. A stray sample or two near a mode does not count as covering it.
- `kl_modes` is KL(generated || real) between the histograms of samples over modes, each sample
  assigned to its nearest mode (PacGAN's reverse KL); 0 for a generator that spreads its samples
  evenly, log K for one that puts them all on one mode.

The papers draw 2,500 samples; so does `score_toy_model`.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..seeding import seeded

MIN_SHARE_OF_EXPECTED = 0.2  # PacGAN: a mode needs >= 1/5 of its expected count of samples
QUALITY_STDS = 3.0  # VEEGAN: high quality = within 3 standard deviations of the nearest mode


def mode_coverage(samples, centers, std: float, min_share: float = MIN_SHARE_OF_EXPECTED) -> dict:
    """Mode coverage of `samples` (N, D) on a mixture of equal-weight Gaussians `centers` (K, D)
    with standard deviation `std`.

    Returns {"modes": covered modes (int), "num_modes": K, "high_quality": share of samples within
    3 std of their nearest mode, "kl_modes": KL of the mode histogram to uniform, "counts":
    high-quality samples per mode}."""
    x = torch.as_tensor(np.asarray(samples), dtype=torch.float64)
    c = torch.as_tensor(np.asarray(centers), dtype=torch.float64)
    if x.dim() != 2 or c.dim() != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples (N, D) and centers (K, D) must share D; got {tuple(x.shape)} and {tuple(c.shape)}")
    if len(x) == 0:
        raise ValueError("mode_coverage needs at least one sample")
    n, k = len(x), len(c)
    finite = torch.isfinite(x).all(dim=1)
    dist, nearest = torch.cdist(torch.where(finite[:, None], x, 0.0), c).min(dim=1)  # (N,), (N,)
    hq = finite & (dist <= QUALITY_STDS * std)
    counts = torch.bincount(nearest[hq], minlength=k)
    covered = counts >= max(1.0, min_share * n / k)
    # every (finite) sample's nearest mode, for the histogram over modes
    p = torch.bincount(nearest[finite], minlength=k).double()
    p = p / p.sum().clamp_min(1)
    kl = float(sum(pi * math.log(pi * k) for pi in p.tolist() if pi > 0)) if finite.any() else math.inf
    return {
        "modes": int(covered.sum()),
        "num_modes": k,
        "high_quality": float(hq.double().mean()),
        "kl_modes": kl,
        "counts": counts.tolist(),
    }


@torch.no_grad()
def score_toy_model(model, n: int = 2500, seed: int = 0) -> dict:
    """Mode coverage of `n` samples of a model trained on a 2-D toy dataset (ring8, grid25), drawn
    from a fixed seed without touching the caller's random state. A model trained on other data
    gets a GanthologyError."""
    from ..data.toys import toy_mixture

    mix = toy_mixture(model.data.name)
    was_training = model.training
    model.eval()
    with seeded(seed, model.device):
        x = model.sample(n).float().cpu()
    model.train(was_training)
    return {"dataset": mix.name, "n": n, **mode_coverage(x, mix.centers, mix.std)}
