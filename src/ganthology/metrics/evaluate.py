"""Score a generator, or a folder / .npz of images, against real images of a dataset.

Every number is keyed `<metric>_<evaluator>` (e.g. `fd_mnist-lenet`), so that a distance in a
project-trained evaluator's space is never mistaken for a published FID; only pixel metrics of
paired tasks (psnr, ssim, l1) carry no evaluator.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..errors import GanthologyError
from ..seeding import seeded
from .distances import frechet_distance, gaussian_stats, kernel_distance, precision_recall
from .evaluators import EVALUATORS, Evaluator, cache_dir, evaluator_path
from .scores import class_coverage, conditional_accuracy, inception_score

#: metric families `--metrics` chooses from; which apply depends on the evaluator and the model
METRICS = ("fd", "kid", "is", "pr", "classes", "accuracy", "psnr", "ssim", "l1", "heldout")
#: direction of each reported number, for keeping the best checkpoint
HIGHER_IS_BETTER = ("is", "precision", "recall", "accuracy", "classes", "psnr", "ssim", "modes", "high",
                    "test", "cluster", "code", "nmi", "ari")


def higher_is_better(key: str, model=None) -> bool:
    """Whether a larger `key` is better: as the model's `scores` declare it, else by the metric's family."""
    if model is not None and key in model.scores:
        return model.scores[key] == "max"
    return key.split("_")[0] in HIGHER_IS_BETTER


def default_evaluator(dataset: str | None) -> str:
    """The evaluator trained on a dataset, else the standard Inception-v3."""
    for name, spec in EVALUATORS.items():
        if spec.dataset == dataset:
            return name
    return "inception-v3"


def parse_metrics(text: str | None) -> tuple[str, ...]:
    if not text:
        return METRICS
    chosen = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in chosen if m not in METRICS]
    if bad or not chosen:
        raise GanthologyError(f"unknown metric {', '.join(bad) or repr(text)}; choose from {', '.join(METRICS)}.")
    return chosen


# --- real images ---------------------------------------------------------------------------------
def reference_images(ev: Evaluator | None, dataset: str | None = None, data_root: str | None = None) -> torch.Tensor:
    """The test split of `dataset` (default: the evaluator's), as images in [-1, 1]."""
    from ..data import InMemoryLoader, build_dataset

    dataset = dataset or ev.spec.dataset
    if dataset is None:
        raise GanthologyError(f"{ev.name} has no dataset of its own; name the real images with --reference DATASET.")
    test = build_dataset(dataset, data_root, train=False)
    if test.paired:
        raise GanthologyError(f"{dataset} is a paired dataset; score translations with psnr/ssim instead.")
    return InMemoryLoader(test, 1).fixed_batch(len(test))["x"]


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def reference_features(ev: Evaluator, dataset: str | None = None, data_root: str | None = None):
    """(features, probabilities) of the reference set, computed once per evaluator version and
    reference content and cached under the user cache folder. The key hashes the images
    themselves, so two copies of a dataset under different roots (or a changed folder) never share
    an entry; hashing 10,000 MNIST images costs milliseconds, their features seconds."""
    dataset = dataset or ev.spec.dataset
    weights = Path(ev.meta.get("weights") or evaluator_path(ev.name))
    images = reference_images(ev, dataset, data_root)
    content = hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in dataset)[:40]
    path = cache_dir() / "references" / f"{ev.name}-{_file_digest(weights)}-{safe}-{content}.pt"
    if path.is_file():
        try:
            cached = torch.load(path, map_location="cpu", weights_only=True)
            return cached["features"], cached["probs"]
        except Exception:
            pass  # unreadable cache: compute again
    feats, probs = ev.run(images)
    from ..train.checkpoint import atomic_write

    atomic_write(path, lambda tmp: torch.save({"features": feats, "probs": probs}, tmp))
    return feats, probs


# --- scoring -------------------------------------------------------------------------------------
def score_features(ev: Evaluator, feats, probs, ref_feats, requested=None,
                   metrics=METRICS, seed: int = 0) -> dict[str, float]:
    """The chosen metrics of generated features/probabilities against reference features."""
    n, out = ev.name, {}
    if "fd" in metrics:
        out[f"fd_{n}"] = frechet_distance(feats, gaussian_stats(ref_feats))
    if "kid" in metrics:
        out[f"kid_{n}"], out[f"kid_std_{n}"] = kernel_distance(feats, ref_feats, seed=seed)
    if "pr" in metrics:
        out[f"precision_{n}"], out[f"recall_{n}"] = precision_recall(feats, ref_feats)
    if "is" in metrics:
        out[f"is_{n}"], out[f"is_std_{n}"] = inception_score(probs, seed=seed)
    own_classes = ev.spec.kind != "inception"  # ImageNet labels say nothing about digit classes
    if "classes" in metrics and own_classes:
        out[f"classes_{n}"], out[f"class_kl_{n}"] = class_coverage(probs)
    if "accuracy" in metrics and own_classes and requested is not None:
        out[f"accuracy_{n}"] = conditional_accuracy(probs, requested)
    return out


def score_images(ev: Evaluator, images: torch.Tensor, reference: torch.Tensor | None = None,
                 requested: torch.Tensor | None = None, metrics=METRICS, dataset: str | None = None,
                 data_root: str | None = None, seed: int = 0) -> dict[str, float]:
    """Metrics of images in [-1, 1] against `reference` images, or the cached features of the
    test split of `dataset` (default: the evaluator's)."""
    feats, probs = ev.run(images)
    ref = ev.run(reference)[0] if reference is not None else reference_features(ev, dataset, data_root)[0]
    return score_features(ev, feats, probs, ref, requested, metrics, seed)


@torch.no_grad()
def generate(model, n: int, seed: int = 0, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n samples of a model (CPU, [-1, 1]) and, for a conditional model, the labels asked for
    (each class in turn)."""
    with seeded(seed, model.device):
        requested = torch.arange(n) % model.data.num_classes if "y" in model.conditions else None
        chunks = []
        for i in range(0, n, batch_size):
            m = min(batch_size, n - i)
            cond = {"y": requested[i : i + m].to(model.device)} if requested is not None else {}
            chunks.append(model.sample(m, **cond).float().cpu())
    return torch.cat(chunks), requested


def evaluate_model(model, ev: Evaluator | None, n: int = 10_000, data_root: str | None = None, seed: int = 0,
                   metrics=METRICS, reference: str | None = None) -> dict[str, float]:
    """Every chosen metric of `n` samples of `model` against the reference dataset's test split
    (default: the evaluator's dataset, else the one the model was trained on)."""
    if model.data.is_vector:  # the 2-D toys: mode coverage instead of an evaluator's features
        from .toy import score_toy_model

        out = score_toy_model(model, n=n, seed=seed)
        return {k: out[k] for k in ("modes", "num_modes", "high_quality", "kl_modes")}
    if model.scored_by_claim:  # scored by its own claim on the first n items of the held-out split
        out = held_out_metrics(model, data_root, n)
        return out | {"n": out.pop("n")}
    if model.data.channels != ev.spec.channels and ev.spec.kind != "inception":
        raise GanthologyError(f"{model.name} makes {model.data.channels}-channel images; {ev.name} scores "
                              f"{ev.spec.channels}-channel ones.")
    images, requested = generate(model, n, seed)
    out = score_images(ev, images, None, requested, metrics, reference or ev.spec.dataset or model.data.name,
                       data_root, seed)
    return out | (held_out_metrics(model, data_root) if "heldout" in metrics else {})


@torch.no_grad()
def held_out_metrics(model, data_root: str | None = None, n: int | None = None) -> dict[str, float]:
    """The model's own claim (`GANModel.held_out_metrics`: translation quality, classifier accuracy,
    clustering scores, reconstruction error) on the test split of the dataset it was trained on,
    read the way it was trained (same --direction), the first `n` items of each part (default all);
    `n` in the result says how many items the largest part gave. digits has no split, so there
    they are measured on its training images."""
    from ..data import InMemoryLoader, build_dataset
    from ..models.base import GANModel

    if model.encode is None and not model.maps_images() and type(model).held_out_metrics is GANModel.held_out_metrics:
        return {}  # nothing to claim beyond the samples: don't load the test split
    train = (getattr(model, "run_config", None) or {}).get("train", {})
    test = build_dataset(model.data.name, data_root, model.data.image_size, train=False,
                         direction=train.get("direction", "AtoB"))
    size = len(test) if n is None else min(n, len(test))
    batch = InMemoryLoader(test, 1, device=model.device).fixed_batch(size)
    out = model.held_out_metrics(batch)
    return out | ({"n": size} if model.scored_by_claim else {})


class EvalCriterion:
    """What `--eval-every` measures: one metric (e.g. `fd_mnist-lenet`, or `psnr` for a translation
    model) of `cfg.eval_n` samples. Resolved, and its evaluator loaded, before training starts so a
    missing evaluator stops the run at once."""

    def __init__(self, key: str | None, model, cfg):
        self.n, self.data_root, self.seed = cfg.eval_n, cfg.data_root, cfg.seed
        if model.data.is_vector:
            key = key or "modes"
            if key not in ("modes", "high_quality", "kl_modes"):
                raise GanthologyError(f"--eval-metric {key} does not apply to 2-D toys; use modes, high_quality or kl_modes.")
            self.family, self.ev = key, None
        elif model.scored_by_claim:
            if not model.scores:
                raise GanthologyError(f"{model.name} declares no held-out scores to watch; drop --eval-every.")
            key = key or next(iter(model.scores))
            if key not in model.scores:
                raise GanthologyError(f"--eval-metric {key} does not apply to {model.name}; use "
                                      f"{' or '.join(model.scores)}.")
            self.family, self.ev = key, None
        else:
            key = key or f"fd_{default_evaluator(model.data.name)}"
            family, _, ev_name = key.partition("_")
            if family not in ("fd", "kid", "is", "precision", "recall", "classes", "accuracy") or not ev_name:
                raise GanthologyError(f"--eval-metric {key!r} is not a metric name like fd_mnist-lenet or kid_digits-lenet.")
            from .evaluators import load_evaluator

            self.family, self.ev = family, load_evaluator(ev_name)
        self.key = key
        self.higher = higher_is_better(key, model)

    def better(self, new: float, old: float) -> bool:
        return new > old if self.higher else new < old

    def __call__(self, model) -> float:
        if model.data.is_vector:
            return float(evaluate_model(model, None, n=self.n, seed=self.seed)[self.key])
        if self.ev is None:
            out = held_out_metrics(model, self.data_root, n=self.n)
            if self.key not in out:  # a score the model reports only on some data (psnr needs a ground truth)
                raise GanthologyError(f"{model.name} reports no {self.key} on {model.data.name}; choose "
                                      f"--eval-metric from {', '.join(k for k in out if k != 'n')}.")
            return float(out[self.key])
        family = {"precision": "pr", "recall": "pr", "classes": "classes"}.get(self.family, self.family)
        out = evaluate_model(model, self.ev, n=self.n, data_root=self.data_root, seed=self.seed,
                             metrics=(family,), reference=self.ev.spec.dataset or model.data.name)
        return float(out[self.key])


# --- images from elsewhere -----------------------------------------------------------------------
def load_images(path: str | Path) -> torch.Tensor:
    """Images in [-1, 1] from a folder of image files (all one size) or a .npz holding uint8
    (N, H, W, C) / (N, C, H, W) / (N, H, W) arrays (key `images`, else its only array)."""
    import numpy as np

    from ..data.core import to_model_range

    p = Path(path)
    if p.is_dir():
        from ..data.folders import IMAGE_SUFFIXES, _mode_for, list_images, read_image

        files = list_images(p)
        if not files:
            raise GanthologyError(f"{path} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        mode = _mode_for(files)
        imgs = [read_image(f, mode) for f in files]
        if len({tuple(i.shape) for i in imgs}) > 1:
            raise GanthologyError(f"the images in {path} differ in size or channels; give images of one size.")
        return to_model_range(torch.stack(imgs))
    if p.suffix != ".npz" or not p.is_file():
        raise GanthologyError(f"{path} is neither a folder of images nor a .npz file.")
    try:
        with np.load(p) as z:
            keys = list(z.keys())
            arr = z["images"] if "images" in keys else (z[keys[0]] if len(keys) == 1 else None)
    except Exception as e:
        raise GanthologyError(f"{path} is not a readable .npz file ({type(e).__name__}).") from None
    if arr is None:
        raise GanthologyError(f"{path} holds several arrays ({', '.join(keys)}); name the images 'images'.")
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4):
        raise GanthologyError(f"{path}: expected uint8 images (N, H, W[, C]), got {arr.dtype} {arr.shape}.")
    x = torch.from_numpy(arr)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    return to_model_range(x.contiguous())
