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


def held_out_accuracy(classify, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    """Share of images x whose argmax of `classify(x)` (class logits) is their label y, classified
    in batches: the held-out accuracy that sgan, ccgan, pixelda, dann and cogan report."""
    pred = torch.cat([classify(xb).argmax(dim=1) for xb in x.split(batch)])
    return float((pred == y.to(pred.device)).float().mean())


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


def luma(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [-1, 1] -> (N, 1, H, W) luma Y of ITU-R BT.601 (MATLAB's rgb2ycbcr, which
    super-resolution papers score on: Y in [16, 235] / 255), mapped back to [-1, 1]'s scale; a grey
    image is returned as it is."""
    if x.shape[1] == 1:
        return x
    rgb = (x.float() + 1) / 2
    w = torch.tensor([65.481, 128.553, 24.966], device=x.device).view(1, 3, 1, 1) / 255
    y = (rgb * w).sum(1, keepdim=True) + 16 / 255
    return y * 2 - 1


def super_resolution_scores(pred: torch.Tensor, target: torch.Tensor, scale: int,
                            image: torch.Tensor | None = None) -> dict[str, float]:
    """PSNR and SSIM the way the SR papers report them (SRGAN, Ledig et al. 2017, section 3.3: "on the
    y-channel of center-cropped, removal of a 4-pixel wide strip from each border"): on luma, with
    `scale` pixels shaved from each border; L1 on the whole RGB images. `image` (N,) says which test
    image each item (a tile) is cut from: PSNR is then that of each image's pooled squared error,
    averaged over the images, as the papers average over test images (`psnr_tiles` keeps the mean
    over tiles, where a nearly flat tile counts as much as one full of detail)."""
    s = scale
    y_pred, y_true = luma(pred)[..., s:-s, s:-s].float().cpu(), luma(target)[..., s:-s, s:-s].float().cpu()
    psnr, ssim = psnr_ssim(y_pred, y_true)
    out = {"psnr": psnr, "ssim": ssim, "l1": float((pred.float().cpu() - target.float().cpu()).abs().mean())}
    if image is not None:
        mse = (((y_pred - y_true) / 2) ** 2).flatten(1).mean(1)  # per tile, on [0, 1]'s scale
        image = image.cpu()
        per_image = [mse[image == i].mean() for i in image.unique()]
        out = {"psnr": float(torch.stack([-10 * torch.log10(m) for m in per_image]).mean()),
               "psnr_tiles": psnr} | {k: v for k, v in out.items() if k != "psnr"}
    return out


__all__ = ["class_coverage", "conditional_accuracy", "inception_score", "luma", "paired_scores", "psnr_ssim",
           "super_resolution_scores"]
