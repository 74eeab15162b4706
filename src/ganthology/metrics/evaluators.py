"""Feature networks the project trains and checks itself, cached under a user cache folder.

The standard Inception weights cannot be downloaded on every machine, so a distance in Inception
features ("FID") is not always available. These evaluators are small classifiers trained on the
real training set of one dataset; their penultimate layer is the feature space for Fréchet
distances and their class probabilities give scores and conditional accuracies. Trained on demand
(`ganthology evaluator train mnist-lenet`), stored as safetensors with a JSON of how they were
made and the test accuracy they reached.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError


class LeNet(nn.Module):
    """A LeNet-style CNN for 1x32x32 images in [-1, 1]: two 5x5 conv + max-pool stages, a
    128-unit feature layer, 10 logits."""

    feature_dim = 128

    def __init__(self, channels: int = 1, n_classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(2),  # (B, 16, 16, 16)
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(2),  # (B, 32, 8, 8)
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 8 * 8, 128), nn.ReLU(True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass(frozen=True)
class EvaluatorSpec:
    dataset: str  # the dataset whose training split it learns, and whose test split checks it
    image_size: int
    channels: int
    epochs: int
    min_accuracy: float  # a trained evaluator below this on the test split is refused


EVALUATORS = {
    "mnist-lenet": EvaluatorSpec("mnist", 32, 1, epochs=3, min_accuracy=0.99),
    "fashion-lenet": EvaluatorSpec("fashion_mnist", 32, 1, epochs=5, min_accuracy=0.90),
}


def cache_dir() -> Path:
    """$GANTHOLOGY_CACHE, else ~/.cache/ganthology."""
    return Path(os.environ.get("GANTHOLOGY_CACHE") or Path.home() / ".cache" / "ganthology")


def evaluator_path(name: str) -> Path:
    return cache_dir() / "evaluators" / f"{name}.safetensors"


def _spec(name: str) -> EvaluatorSpec:
    if name not in EVALUATORS:
        raise GanthologyError(f"unknown evaluator {name!r}; choose one of {', '.join(EVALUATORS)}.")
    return EVALUATORS[name]


class Evaluator:
    """A trained evaluator: `features(x)` and `probs(x)` for images in [-1, 1], in batches."""

    def __init__(self, name: str, net: LeNet, meta: dict):
        self.name, self.net, self.meta = name, net.eval(), meta
        self.spec = _spec(name)

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        s = self.spec.image_size
        if x.shape[1] != self.spec.channels:
            raise GanthologyError(
                f"{self.name} scores {self.spec.channels}-channel images, these have {x.shape[1]}."
            )
        if x.shape[-1] != s or x.shape[-2] != s:
            x = F.interpolate(x.float(), size=(s, s), mode="bilinear", antialias=True, align_corners=False)
        return x.float()

    @torch.no_grad()
    def run(self, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, 128), class probabilities (N, K)) of images in [-1, 1]."""
        feats, probs = [], []
        for i in range(0, len(images), batch_size):
            f = self.net.features(self._prep(images[i : i + batch_size]))
            feats.append(f)
            probs.append(self.net.head(f).softmax(dim=1))
        return torch.cat(feats), torch.cat(probs)


def train_evaluator(name: str, data_root: str | None = None, seed: int = 0, log=print) -> Evaluator:
    """Train an evaluator on its dataset's training split, check it on the test split, cache it."""
    from safetensors.torch import save_file

    from ..data import InMemoryLoader, build_dataset
    from ..train.checkpoint import atomic_write

    spec = _spec(name)
    train = build_dataset(spec.dataset, data_root, spec.image_size, train=True)
    test = build_dataset(spec.dataset, data_root, spec.image_size, train=False)
    torch.manual_seed(seed)
    net = LeNet(spec.channels, train.num_classes)
    loader = InMemoryLoader(train, 128, seed=seed)
    steps = spec.epochs * loader.steps_per_epoch
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    t0 = time.time()
    net.train()
    for step in range(steps):
        batch = loader.next()
        loss = F.cross_entropy(net(batch["x"]), batch["y"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % loader.steps_per_epoch == 0:
            log(f"{name}: epoch {(step + 1) // loader.steps_per_epoch}/{spec.epochs}, loss {loss.item():.4f}")
    ev = Evaluator(name, net, {})
    x_test = InMemoryLoader(test, 1).fixed_batch(len(test))
    _, probs = ev.run(x_test["x"])
    acc = float((probs.argmax(1) == x_test["y"]).float().mean())
    log(f"{name}: test accuracy {acc:.4f} after {time.time() - t0:.0f} s")
    if acc < spec.min_accuracy:
        raise GanthologyError(f"{name} reached only {acc:.2%} test accuracy (needs {spec.min_accuracy:.0%}); not cached.")
    meta = {"name": name, "dataset": spec.dataset, "image_size": spec.image_size, "epochs": spec.epochs,
            "seed": seed, "test_accuracy": acc, "train_seconds": round(time.time() - t0, 1)}
    path = evaluator_path(name)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp)))
    atomic_write(path.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))
    ev.meta = meta
    return ev


def load_evaluator(name: str) -> Evaluator:
    """The cached evaluator, or one sentence saying how to train it."""
    from safetensors.torch import load_file

    spec = _spec(name)
    path = evaluator_path(name)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise GanthologyError(
            f"evaluator {name} is not trained yet; run 'ganthology evaluator train {name}' "
            f"(it needs {spec.dataset} under --data-root; cached in {path.parent})."
        )
    net = LeNet(spec.channels, 10)
    try:
        net.load_state_dict(load_file(str(path)))
        meta = json.loads(path.with_suffix(".json").read_text())
    except Exception as e:  # corrupt file of any kind
        raise GanthologyError(f"{path} is unreadable ({type(e).__name__}); retrain with 'ganthology evaluator train {name}'.") from None
    return Evaluator(name, net, meta)
