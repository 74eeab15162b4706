"""Scores computed from an evaluator's class probabilities."""
from __future__ import annotations


import torch


def inception_score(probs: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) (Salimans et al., 2016), from an evaluator's (N, K)
    probabilities: K for confident samples spread evenly over K classes, 1 for a single class."""
    p = probs.double().clamp_min(1e-12)
    marginal = p.mean(dim=0, keepdim=True)
    return float(torch.exp((p * (p.log() - marginal.log())).sum(dim=1).mean()))


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


__all__ = ["class_coverage", "conditional_accuracy", "inception_score"]
