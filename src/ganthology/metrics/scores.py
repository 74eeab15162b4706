"""Scores computed from an evaluator's class probabilities, and paired-image scores."""
from __future__ import annotations

import torch


def inception_score(probs: torch.Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) (Salimans et al., 2016, section 4), from an evaluator's (N, K)
    probabilities, as mean and std over `splits` shuffled parts (10 in the paper): K for confident
    samples spread evenly over K classes, 1 for a single class. torch-fidelity's arithmetic."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    log_p = probs.detach().cpu().double().clamp_min(1e-30).log()  # softmax(log p) = p
    out = isc_features_to_metric(log_p, splits=splits, shuffle=splits > 1, rng_seed=seed)
    return float(out["inception_score_mean"]), float(out["inception_score_std"])


def class_coverage(probs: torch.Tensor) -> tuple[int, float]:
    """(number of classes that are the evaluator's top label for at least one sample,
    KL(histogram of top labels || uniform) in nats; 0 for perfectly even coverage)."""
    k = probs.shape[1]
    hist = torch.bincount(probs.argmax(dim=1), minlength=k).double()
    q = hist / hist.sum()
    kl = float((q[q > 0] * (q[q > 0] * k).log()).sum())
    return int((hist > 0).sum()), kl


def conditional_accuracy(probs: torch.Tensor, requested: torch.Tensor) -> float:
    """Share of samples whose evaluator label equals the label they were generated for."""
    return float((probs.argmax(dim=1).cpu() == requested.cpu()).double().mean())


def psnr_ssim(pred: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """Mean per-image PSNR (dB) and SSIM (Wang et al., 2004; 11x11 Gaussian window, sigma 1.5) of
    images in [-1, 1], computed by torchmetrics on [0, 1] (data range 1)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    p = ((pred.detach().float().cpu() + 1) / 2).clamp(0, 1)
    t = ((target.detach().float().cpu() + 1) / 2).clamp(0, 1)
    psnr = peak_signal_noise_ratio(p, t, data_range=1.0, dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(p, t, data_range=1.0)
    return float(psnr), float(ssim)


def paired_scores(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """PSNR, SSIM and L1 (in [-1, 1]) of outputs against the images they should equal: how every
    model with an exact ground truth (pix2pix's pairs, StarGAN's known attributes, super-resolution)
    is scored."""
    psnr, ssim = psnr_ssim(pred, target)
    return {"psnr": psnr, "ssim": ssim, "l1": float((pred.float().cpu() - target.float().cpu()).abs().mean())}


__all__ = ["class_coverage", "conditional_accuracy", "inception_score", "paired_scores", "psnr_ssim"]
