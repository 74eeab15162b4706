"""Distances between two sets of features (N, D): generated vs real, in an evaluator's space.

The arithmetic is torch-fidelity's (the reference implementation behind published FID / KID /
precision-recall numbers), called on features we extract ourselves; inputs are taken to float64.
"""
from __future__ import annotations

import numpy as np
import torch


def _f64(x) -> torch.Tensor:
    return x.detach().cpu().double() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, np.float64))


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of (N, D) features, in float64."""
    from torch_fidelity.metric_fid import fid_features_to_statistics

    s = fid_features_to_statistics(_f64(features))
    return s["mu"], s["sigma"]


def frechet_distance(a, b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al., 2017, eq. 6):
    ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)). `a`, `b`: (N, D) arrays or tensors, or
    (mu, sigma) pairs from `gaussian_stats` (to reuse a reference set's statistics)."""
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    mu1, s1 = a if isinstance(a, tuple) else gaussian_stats(a)
    mu2, s2 = b if isinstance(b, tuple) else gaussian_stats(b)
    out = fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, verbose=False)
    return float(out["frechet_inception_distance"])


def kernel_distance(a, b, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID (Binkowski et al., 2018, section 3): the unbiased squared MMD with the cubic polynomial
    kernel k(x, y) = (x.y / D + 1)^3, averaged over `subsets` random subsets of `subset_size` per
    set (capped at the smaller set). Returns (mean, std over subsets)."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    a, b = _f64(a), _f64(b)
    size = min(subset_size, len(a), len(b))
    out = kid_features_to_metric(a, b, kid_subsets=subsets, kid_subset_size=size, kid_kernel="poly",
                                 kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1,
                                 rng_seed=seed, verbose=False)
    return float(out["kernel_inception_distance_mean"]), float(out["kernel_inception_distance_std"])


def precision_recall(generated, real, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019, eqs. 1-2): precision is the share of
    generated samples inside the k-NN ball of some real sample (quality), recall the share of real
    samples inside the k-NN ball of some generated sample (coverage). k = 3 as in the paper."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    out = prc_features_to_metric(_f64(generated).float(), _f64(real).float(), prc_neighborhood=k,
                                 prc_batch_size=5000, save_cpu_ram=True, verbose=False)
    return float(out["precision"]), float(out["recall"])
