"""An attribute classifier of real images: the judge of attribute translation (StarGAN's section 5 scores
its translations with a classifier trained on the real images of the dataset).

Like the evaluators (metrics/evaluators.py) it is a small LeNet trained by the project on the
dataset's real training images and cached as safetensors with a JSON of how it was made and the
accuracy it reached on the real test images; unlike them it is multi-label (one sigmoid per
attribute, trained with binary cross-entropy) and exists for any dataset with attributes, so it is
keyed by the dataset's name and image size instead of being listed by hand. Training it on
`digit_attrs` takes a few seconds on one CPU core.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.core import cache_dir
from .evaluators import LeNet

EPOCHS = 30  # passes over the training images (digit_attrs: 2,994 images, 690 steps)
MAX_STEPS = 3000  # at most this many batches of 128 on a large dataset (CelebA)


def classifier_path(dataset: str, image_size: int) -> Path:
    """cache_dir()/evaluators/attributes-<name>-<size>-<hash>.safetensors (the hash tells apart
    folder datasets whose names are long paths)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", dataset).strip("-")[-40:]
    digest = hashlib.sha1(f"{dataset}|{image_size}".encode()).hexdigest()[:8]
    return cache_dir() / "evaluators" / f"attributes-{slug}-{image_size}-{digest}.safetensors"


def _exact_match(logits: torch.Tensor, attr: torch.Tensor) -> float:
    """Share of items whose every attribute is read right (logit > 0 means present)."""
    return float(((logits > 0).float() == attr.float()).all(dim=1).float().mean())


def attribute_classifier(dataset: str, image_size: int, data_root: str | None = None,
                         log=None) -> tuple[LeNet, dict]:
    """(classifier in eval mode, meta) for dataset `dataset` at `image_size`: loaded from the cache,
    or trained on the real training images (seed 0, without touching the global RNG) and checked on
    the real test images, then cached. The classifier returns one logit per attribute."""
    from safetensors.torch import load_file, save_file

    from ..data import InMemoryLoader, build_dataset
    from ..train.checkpoint import atomic_write

    path = classifier_path(dataset, image_size)
    if path.is_file() and path.with_suffix(".json").is_file():
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            net = LeNet(meta["channels"], len(meta["attributes"]), image_size)
            net.load_state_dict(load_file(str(path)))
            return net.eval(), meta
        except Exception:  # a corrupt cache entry: train it again below
            pass
    train = build_dataset(dataset, data_root, image_size, train=True)
    test = build_dataset(dataset, data_root, image_size, train=False)
    channels, k = train.tensors["x"].shape[1], train.tensors["attr"].shape[1]
    t0 = time.time()
    # the caller's RNG stream (a training run's) is untouched; gradients on even under no_grad (evaluation)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(0)
        net = LeNet(channels, k, image_size)
        loader = InMemoryLoader(train, min(128, len(train)), seed=0)
        steps = min(EPOCHS * loader.steps_per_epoch, MAX_STEPS)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        net.train()
        for _ in range(steps):
            batch = loader.next()
            loss = F.binary_cross_entropy_with_logits(net(batch["x"]), batch["attr"].float())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    real = InMemoryLoader(test, 1).fixed_batch(len(test))
    with torch.no_grad():
        logits = torch.cat([net(xb) for xb in real["x"].split(500)])
    meta = {"dataset": dataset, "image_size": image_size, "channels": channels, "attributes": train.attributes,
            "steps": steps, "seed": 0, "test_accuracy": _exact_match(logits, real["attr"]),
            "test_accuracy_per_attribute": ((logits > 0).float() == real["attr"]).float().mean(0).tolist(),
            "train_seconds": round(time.time() - t0, 1)}
    if log:
        log(f"attribute classifier for {dataset}: test accuracy {meta['test_accuracy']:.4f}")
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp)))
    atomic_write(path.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))
    return net, meta


__all__ = ["attribute_classifier", "classifier_path"]
