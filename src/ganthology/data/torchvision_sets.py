"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's own dataset classes.

torchvision reads an existing copy under `root` (its usual layout: root/MNIST/raw/...,
root/FashionMNIST/raw/..., root/cifar-10-batches-py/...) and downloads when it is absent and
downloads are allowed. We take its decoded uint8 arrays and resize them once.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import GanthologyError
from ..registry import register_dataset
from .core import InMemoryDataset, downloads_allowed, resize_uint8

_HOW = {
    "mnist": "MNIST/raw/ (train-images-idx3-ubyte etc.)",
    "fashion_mnist": "FashionMNIST/raw/",
    "cifar10": "cifar-10-batches-py/",
}


def _open(cls, key: str, root: str, train: bool):
    try:
        return cls(root=root, train=train, download=False)
    except RuntimeError:
        pass  # not there: torchvision says "Dataset not found"
    if not downloads_allowed():
        raise GanthologyError(
            f"{key} is not under {root} and downloads are off (GANTHOLOGY_OFFLINE=1); put a copy in "
            f"{root}/{_HOW[key]} or point --data-root (or $GANTHOLOGY_DATA) at a folder that has one."
        )
    try:
        return cls(root=root, train=train, download=True)
    except Exception as e:  # network errors come in many types (URLError, OSError, HTTPError, ...)
        raise GanthologyError(
            f"{key} is not under {root} and downloading it failed ({type(e).__name__}); with no network, "
            f"copy it to {root}/{_HOW[key]} or point --data-root (or $GANTHOLOGY_DATA) at a copy."
        ) from None


def mnist_raw(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as torchvision decodes it: uint8 (N, 1, 28, 28) digits and int64 labels."""
    import torchvision

    ds = _open(torchvision.datasets.MNIST, "mnist", root, train)
    return ds.data.unsqueeze(1), ds.targets.long()


def _gray(cls, key: str, root: str, image_size: int | None, train: bool) -> InMemoryDataset:
    ds = _open(cls, key, root, train)
    x = ds.data.unsqueeze(1)  # (N, 28, 28) uint8 -> (N, 1, 28, 28)
    # 28 -> 32 by default: the power-of-two size that strided conv nets halve down to 4x4
    x = resize_uint8(x, image_size or 32)
    return InMemoryDataset(key, {"x": x, "y": ds.targets.long()}, num_classes=10, classes=list(ds.classes))


@register_dataset("mnist")
def mnist(root: str, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """The 60,000 / 10,000 handwritten digits of LeCun et al., 28x28 resized to 32x32."""
    import torchvision  # imported on use: it takes seconds, and `ganthology list` needs none of it

    return _gray(torchvision.datasets.MNIST, "mnist", root, image_size, train)


@register_dataset("fashion_mnist")
def fashion_mnist(root: str, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Zalando's 60,000 / 10,000 clothing images, 28x28 resized to 32x32."""
    import torchvision

    return _gray(torchvision.datasets.FashionMNIST, "fashion_mnist", root, image_size, train)


@register_dataset("cifar10")
def cifar10(root: str, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """The 50,000 / 10,000 colour images of CIFAR-10, 32x32."""
    import torchvision

    ds = _open(torchvision.datasets.CIFAR10, "cifar10", root, train)
    x = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2)  # NHWC -> NCHW
    x = resize_uint8(x, image_size or 32)
    y = torch.tensor(ds.targets, dtype=torch.long)
    return InMemoryDataset("cifar10", {"x": x, "y": y}, num_classes=10, classes=list(ds.classes))
