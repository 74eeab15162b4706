"""Scores of translations into a domain that has an evaluator (a LeNet trained on that domain's
dataset, `metrics.evaluators.evaluator_for`): what each translation model reports, so that all of
them are measured alike.

- content kept: the share of translations the evaluator labels as the digit of their input;
- realism: the Fréchet distance, in the evaluator's features, from the translations to the target
  domain's held-out images;
- diversity: how far apart several translations of one input are, in the same features (one-to-many
  models, MUNIT and BicycleGAN; a deterministic model scores 0, pix2pix's dropout close to it).
"""
from __future__ import annotations

import torch

from .distances import frechet_distance


def content_and_realism(fake: torch.Tensor, labels: torch.Tensor | None, real: torch.Tensor, ev) -> dict[str, float]:
    """{"digit_kept": share of `fake` labelled as `labels` (when labels are given), "fd": Fréchet
    distance from `fake` to `real`}, both in the evaluator `ev` (images in [-1, 1])."""
    feats, probs = ev.run(fake.float().cpu())
    out = {"fd": frechet_distance(feats, ev.run(real.float().cpu())[0])}
    if labels is not None:
        out = {"digit_kept": float((probs.argmax(1) == labels.cpu()).float().mean())} | out
    return out


def diversity(outputs: list[torch.Tensor], ev) -> float:
    """The mean distance between translations of the same input: `outputs` holds K >= 2 tensors
    (N, C, H, W), the k-th translation of each of N inputs; each pair (j, k) of an input's
    translations is compared by the Euclidean distance of its evaluator features, averaged over
    the pairs and the inputs. In the spirit of the LPIPS distance that MUNIT and BicycleGAN report
    (Huang et al. 2018 section 5.2, Zhu et al. 2017 section 5), with a LeNet's features."""
    if len(outputs) < 2:
        raise ValueError("diversity needs at least two translations per input")
    feats = [ev.run(o.float().cpu())[0] for o in outputs]
    dists = [(feats[j] - feats[k]).norm(dim=1) for j in range(len(feats)) for k in range(j + 1, len(feats))]
    return float(torch.stack(dists).mean())
