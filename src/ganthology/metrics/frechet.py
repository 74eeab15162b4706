"""Fréchet distance between Gaussians fitted to two feature sets (Heusel et al., 2017, eq. 6):
||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)), in float64."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import torch


def gaussian_stats(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of (N, D) features, in float64."""
    f = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else np.asarray(features, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(a, b, eps: float = 1e-6) -> float:
    """FD between feature sets `a` and `b` ((N, D) arrays or tensors), or between two
    (mu, sigma) pairs. When S_1 S_2 is singular, eps I is added to both covariances (as pytorch-fid
    does) so that the square root stays finite."""
    mu1, s1 = a if isinstance(a, tuple) else gaussian_stats(a)
    mu2, s2 = b if isinstance(b, tuple) else gaussian_stats(b)
    with warnings.catch_warnings():  # a singular product is expected (dead units) and handled below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
