"""Score a generator against the test split of its evaluator's dataset."""
from __future__ import annotations

import torch

from ..errors import GanthologyError
from .evaluators import Evaluator
from .frechet import frechet_distance
from .scores import class_coverage, conditional_accuracy, inception_score


def reference_images(ev: Evaluator, data_root: str | None = None) -> torch.Tensor:
    """The evaluator dataset's test split, as images in [-1, 1] at the evaluator's size."""
    from ..data import InMemoryLoader, build_dataset

    test = build_dataset(ev.spec.dataset, data_root, ev.spec.image_size, train=False)
    return InMemoryLoader(test, 1).fixed_batch(len(test))["x"]


def score_images(ev: Evaluator, images: torch.Tensor, reference: torch.Tensor,
                 requested: torch.Tensor | None = None) -> dict[str, float]:
    """Every metric of images against reference images, keyed `<metric>_<evaluator>`."""
    feats, probs = ev.run(images)
    ref_feats, _ = ev.run(reference)
    classes, kl = class_coverage(probs)
    out = {
        f"fd_{ev.name}": frechet_distance(feats, ref_feats),
        f"is_{ev.name}": inception_score(probs),
        f"classes_{ev.name}": classes,
        f"class_kl_{ev.name}": kl,
    }
    if requested is not None:
        out[f"accuracy_{ev.name}"] = conditional_accuracy(probs, requested)
    return out


@torch.no_grad()
def evaluate_model(model, ev: Evaluator, n: int = 10_000, data_root: str | None = None, seed: int = 0,
                   batch_size: int = 500) -> dict[str, float]:
    if model.task == "translation":
        raise GanthologyError(f"{model.name} translates images; scoring translation models comes with PSNR/SSIM.")
    if model.data.channels != ev.spec.channels:
        raise GanthologyError(f"{model.name} makes {model.data.channels}-channel images; {ev.name} scores "
                              f"{ev.spec.channels}-channel ones.")
    torch.manual_seed(seed)
    requested = torch.arange(n) % model.data.num_classes if model.task == "conditional" else None
    chunks = []
    for i in range(0, n, batch_size):
        m = min(batch_size, n - i)
        cond = {"y": requested[i : i + m]} if requested is not None else {}
        chunks.append(model.sample(m, **cond).cpu())
    return score_images(ev, torch.cat(chunks), reference_images(ev, data_root), requested)
