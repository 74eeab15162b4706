"""Two domains from disjoint halves of one set of digits, the second half changed by a known
transformation: the digit experiments of Coupled GANs (Liu & Tuzel 2016, section 5: "digits and
their edge maps", "digits and their negatives", each domain drawn from a different half of the
training set so that no pair of corresponding images is ever seen).

- `digits2negatives`, `digits2edges` (offline): scikit-learn's digits, 32x32. Train: the first 1,497
  digits, the first half (748) as domain A, the negatives (255 - x) or Sobel edge maps
  (`embedded.sobel_edges`) of the second half (749) as domain B; test: the last 300 split the same
  way (150 / 150).
- `mnist2negatives`, `mnist2edges`: the same from MNIST, 32x32: 30,000 / 30,000 training digits,
  5,000 / 5,000 test digits.

Each domain keeps its labels (y for A, y_B for B) for scoring only. Because the transformation is
known, a model that draws a pair from one code can be checked: apply it to the first domain's
image and compare with the second's (`pair_transform`).
"""
from __future__ import annotations

import torch

from ..registry import register_dataset
from .core import InMemoryDataset, default_data_root, resize_uint8
from .embedded import sobel_edges

#: the dataset names of this file -> the transformation that turns a domain-A image into its domain-B twin
TRANSFORMS = {"digits2negatives": "negative", "digits2edges": "edges",
              "mnist2negatives": "negative", "mnist2edges": "edges"}


def transform_uint8(kind: str, x: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1, H, W) digits -> their negatives (255 - x) or binary Sobel edge maps."""
    if kind == "negative":
        return 255 - x
    if kind == "edges":
        return sobel_edges(x)
    raise ValueError(f"unknown transformation {kind!r}")


def pair_transform(dataset: str):
    """For a dataset of this file, the function that maps images of domain A in [-1, 1] to their
    domain-B twins in [-1, 1] (negation is exact; edges go through uint8 as the data did); None for
    any other dataset."""
    kind = TRANSFORMS.get(dataset)
    if kind is None:
        return None
    if kind == "negative":
        return lambda x: -x

    def edges(x: torch.Tensor) -> torch.Tensor:
        u8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return sobel_edges(u8.cpu()).to(x.device).float() / 127.5 - 1

    return edges


def _halves(name: str, x: torch.Tensor, y: torch.Tensor, size: int) -> InMemoryDataset:
    """Domain A: the first half of x; domain B: the transformed second half. Independent groups."""
    half = len(x) // 2
    a = resize_uint8(x[:half], size)
    b = transform_uint8(TRANSFORMS[name], resize_uint8(x[half:], size))
    tensors = {"A": a, "y": y[:half], "B": b, "y_B": y[half:]}
    return InMemoryDataset(name, tensors, num_classes=10, classes=[str(i) for i in range(10)],
                           groups=[("A", "y"), ("B", "y_B")],
                           roles={"A": "domain A", "B": "domain B", "y_B": "label"})


def _digits(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from .embedded import EDGES_TRAIN, _digits_uint8

    x, y = _digits_uint8()
    return (x[:EDGES_TRAIN], y[:EDGES_TRAIN]) if train else (x[EDGES_TRAIN:], y[EDGES_TRAIN:])


@register_dataset("digits2negatives")
def digits2negatives(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Offline two domains from disjoint halves of scikit-learn's digits: digits (A) and negatives (B), 32x32."""
    return _halves("digits2negatives", *_digits(train), image_size or 32)


@register_dataset("digits2edges")
def digits2edges(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Offline two domains from disjoint halves of scikit-learn's digits: digits (A) and edge maps (B), 32x32."""
    return _halves("digits2edges", *_digits(train), image_size or 32)


def _mnist(root: str | None, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from .torchvision_sets import mnist_raw

    return mnist_raw(root or default_data_root(), train)


@register_dataset("mnist2negatives")
def mnist2negatives(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Two domains from disjoint halves of MNIST: digits (A) and negatives (B), 32x32 (CoGAN, section 5)."""
    return _halves("mnist2negatives", *_mnist(root, train), image_size or 32)


@register_dataset("mnist2edges")
def mnist2edges(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Two domains from disjoint halves of MNIST: digits (A) and edge maps (B), 32x32 (CoGAN, section 5)."""
    return _halves("mnist2edges", *_mnist(root, train), image_size or 32)
