"""Feature networks the project trains and checks itself, cached under a user cache folder.

The standard Inception weights cannot be downloaded on every machine, so a distance in Inception
features ("FID") is not always available. These evaluators are small classifiers trained on the
real training set of one dataset; their penultimate layer is the feature space for Fréchet
distances and their class probabilities give scores and conditional accuracies. Trained on demand
(`ganthology evaluator train mnist-lenet`), stored as safetensors with a JSON of how they were
made and the test accuracy they reached.

`inception-v3` is the standard one (the TensorFlow FID network as ported by torch-fidelity, whose
weights pytorch-fid also uses): numbers in its feature space are comparable with published FIDs. It
is used when its weights file is on disk; ganthology never trains or alters it.
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

from ..data.core import cache_dir
from ..errors import GanthologyError


class LeNet(nn.Module):
    """A LeNet-style CNN for square images in [-1, 1] whose side is a multiple of 4: two 5x5 conv +
    max-pool stages, a 128-unit feature layer, K logits."""

    feature_dim = 128

    def __init__(self, channels: int = 1, n_classes: int = 10, image_size: int = 32):
        super().__init__()
        s = image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(2),  # (B, 16, S/2, S/2)
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(2),  # (B, 32, S/4, S/4)
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * s * s, 128), nn.ReLU(True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass(frozen=True)
class EvaluatorSpec:
    dataset: str | None  # the dataset it learned (and the default reference set); None: any
    image_size: int
    channels: int
    num_classes: int = 10
    epochs: int = 0  # training epochs of a project-trained evaluator
    min_accuracy: float = 0.0  # a trained evaluator below this on the test split is refused
    holdout: int = 0  # dataset without a test split: its last `holdout` images check the evaluator
    kind: str = "lenet"  # lenet: trained by the project | inception: the standard weights, given


EVALUATORS = {
    "mnist-lenet": EvaluatorSpec("mnist", 32, 1, epochs=3, min_accuracy=0.99),
    "fashion-lenet": EvaluatorSpec("fashion_mnist", 32, 1, epochs=5, min_accuracy=0.90),
    "mnistm-lenet": EvaluatorSpec("mnistm", 32, 3, epochs=3, min_accuracy=0.95),
    "digits-lenet": EvaluatorSpec("digits", 16, 1, epochs=60, min_accuracy=0.93, holdout=300),
    "photodigits-lenet": EvaluatorSpec("photodigits", 32, 3, epochs=40, min_accuracy=0.85),
    # The network and weights of pytorch-fid / torch-fidelity ("FID"); scores RGB (grey is repeated).
    "inception-v3": EvaluatorSpec(None, 299, 3, num_classes=1008, kind="inception"),
}
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE


def evaluator_path(name: str) -> Path:
    if _spec(name).kind == "inception":
        return inception_weights_path()
    return cache_dir() / "evaluators" / f"{name}.safetensors"


def inception_weights_path(path: str | None = None) -> Path:
    """Where the Inception-v3 weights are looked for: the given path, $GANTHOLOGY_INCEPTION_WEIGHTS,
    then torch's hub cache (where torch-fidelity downloads them)."""
    if path or os.environ.get("GANTHOLOGY_INCEPTION_WEIGHTS"):
        return Path(path or os.environ["GANTHOLOGY_INCEPTION_WEIGHTS"]).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def _spec(name: str) -> EvaluatorSpec:
    if name not in EVALUATORS:
        raise GanthologyError(f"unknown evaluator {name!r}; choose one of {', '.join(EVALUATORS)}.")
    return EVALUATORS[name]


class InceptionV3(nn.Module):
    """torch-fidelity's port of the TensorFlow FID Inception-v3: pool features (2048) and the
    1008 unbiased logits that the Inception score uses, from images in [-1, 1]."""

    feature_dim = 2048

    def __init__(self, weights: Path):
        super().__init__()
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                               feature_extractor_weights_path=str(weights))

    def _uint8(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self._uint8(x))[0]

    def both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(self._uint8(x))


class Evaluator:
    """An evaluator ready to use: `run(images)` -> (features, class probabilities), in batches."""

    def __init__(self, name: str, net: nn.Module, meta: dict):
        self.name, self.net, self.meta = name, net.eval(), meta
        self.spec = _spec(name)

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        if x.shape[1] != spec.channels and not (spec.kind == "inception" and x.shape[1] == 1):
            raise GanthologyError(f"{self.name} scores {spec.channels}-channel images, these have {x.shape[1]}.")
        s = spec.image_size
        if spec.kind == "lenet" and (x.shape[-1] != s or x.shape[-2] != s):
            x = F.interpolate(x.float(), size=(s, s), mode="bilinear", antialias=True, align_corners=False)
        return x.float()

    @torch.no_grad()
    def run(self, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, D), class probabilities (N, K)) of images in [-1, 1]."""
        if images.dim() != 4:
            raise GanthologyError(f"{self.name} scores images (N, C, H, W); got shape {tuple(images.shape)}.")
        if self.spec.kind == "inception":
            batch_size = min(batch_size, 64)
        feats, probs = [], []
        for i in range(0, len(images), batch_size):
            x = self._prep(images[i : i + batch_size])
            if self.spec.kind == "inception":
                f, logits = self.net.both(x)
            else:
                f = self.net.features(x)
                logits = self.net.head(f)
            feats.append(f.float())
            probs.append(logits.double().softmax(dim=1).float())
        return torch.cat(feats), torch.cat(probs)


def _splits(name: str, spec: EvaluatorSpec, data_root: str | None):
    """(train, test) datasets of an evaluator: the dataset's own splits, or a held-out tail."""
    from ..data import build_dataset
    from ..data.core import InMemoryDataset

    train = build_dataset(spec.dataset, data_root, spec.image_size, train=True)
    if not spec.holdout:
        return train, build_dataset(spec.dataset, data_root, spec.image_size, train=False)
    cut = len(train) - spec.holdout

    def part(sl):
        return InMemoryDataset(train.name, {k: v[sl] for k, v in train.tensors.items()}, train.num_classes,
                               train.classes)

    return part(slice(0, cut)), part(slice(cut, None))


def train_evaluator(name: str, data_root: str | None = None, seed: int = 0, log=print) -> Evaluator:
    """Train an evaluator on its dataset's training split, check it on the test split, cache it."""
    from safetensors.torch import save_file

    from ..data import InMemoryLoader
    from ..train.checkpoint import atomic_write

    spec = _spec(name)
    if spec.kind == "inception":
        raise GanthologyError(f"{name} is not trained by ganthology; {_inception_hint()}")
    train, test = _splits(name, spec, data_root)
    torch.manual_seed(seed)
    net = LeNet(spec.channels, spec.num_classes, spec.image_size)
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


def _inception_hint() -> str:
    return (f"download {INCEPTION_URL} (the torch-fidelity / pytorch-fid Inception weights) and pass "
            f"--inception-weights PATH, set $GANTHOLOGY_INCEPTION_WEIGHTS, or put it at {inception_weights_path()}.")


def load_inception(weights: str | None = None) -> Evaluator:
    """The standard FID Inception-v3 from a weights file (never downloaded when offline)."""
    path = inception_weights_path(weights)
    if not path.is_file():
        if weights or os.environ.get("GANTHOLOGY_OFFLINE") == "1":
            raise GanthologyError(f"no Inception-v3 weights at {path}; {_inception_hint()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(INCEPTION_URL, str(path), progress=True)
        except Exception as e:
            raise GanthologyError(f"could not download the Inception-v3 weights ({e}); {_inception_hint()}") from None
    try:  # a plain tensor file: refuse pickled code before torch-fidelity loads it without that check
        torch.load(path, map_location="cpu", weights_only=True)
        net = InceptionV3(path)
    except Exception as e:
        raise GanthologyError(f"{path} is not the Inception-v3 weights file ({type(e).__name__}); {_inception_hint()}") from None
    return Evaluator("inception-v3", net, {"weights": str(path)})


def load_evaluator(name: str, inception_weights: str | None = None) -> Evaluator:
    """The cached evaluator, or one sentence saying how to train (or provide) it."""
    from safetensors.torch import load_file

    spec = _spec(name)
    if spec.kind == "inception":
        return load_inception(inception_weights)
    path = evaluator_path(name)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise GanthologyError(
            f"evaluator {name} is not trained yet; run 'ganthology evaluator train {name}' "
            f"(it needs {spec.dataset} under --data-root; cached in {path.parent})."
        )
    net = LeNet(spec.channels, spec.num_classes, spec.image_size)
    try:
        net.load_state_dict(load_file(str(path)))
        meta = json.loads(path.with_suffix(".json").read_text())
    except Exception as e:  # corrupt file of any kind
        raise GanthologyError(f"{path} is unreadable ({type(e).__name__}); retrain with 'ganthology evaluator train {name}'.") from None
    return Evaluator(name, net, meta)


def evaluator_for(dataset: str | None, data_root: str | None = None, log=print) -> Evaluator | None:
    """The project-trained evaluator of `dataset` (None if it has none), trained and cached on first
    use: what a translation model's held-out scores use for the domain it translates into."""
    name = next((n for n, spec in EVALUATORS.items() if spec.dataset == dataset and spec.kind == "lenet"), None)
    if name is None or not dataset:
        return None
    try:
        return load_evaluator(name)
    except GanthologyError:
        log(f"training the evaluator {name} once (cached in {evaluator_path(name).parent})")
        with torch.enable_grad():  # callers score under no_grad
            return train_evaluator(name, data_root, log=log)
