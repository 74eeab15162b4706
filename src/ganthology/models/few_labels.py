"""A few labelled examples kept beside an unlabelled stream: the semi-supervised setting of SGAN and
CC-GAN, written once.

`n_labels` images are drawn once per run, class-balanced, from the training set with `label_seed`
(`bind_data`, which the trainer calls before the first step), and kept as uint8 buffers so that
checkpoints carry them and a resumed run uses the same ones. Each training step takes
`labelled_batch` of them, drawn with replacement, beside the data loader's batch (whose labels are
never read): with 100 labels in 60,000 images a plain shuffled batch would hold one labelled example
every ten steps. The model's Config has `n_labels`, `label_seed` and `labelled_batch`.
"""
from __future__ import annotations

import torch

from ..data.core import to_model_range
from ..errors import GanthologyError
from .base import GANModel


class FewLabels(GANModel):
    """A model with a few labelled examples: call `keep_labelled(shape)` in __init__, then
    `_labelled_batch(like)` in train_step."""

    def keep_labelled(self, shape: tuple[int, ...]) -> None:
        """Room for n_labels images of `shape` (C, H, W) and their labels (-1 until bound)."""
        n = self.cfg.n_labels
        self.register_buffer("labelled_x", torch.zeros((n, *shape), dtype=torch.uint8))
        self.register_buffer("labelled_y", torch.full((n,), -1, dtype=torch.long))

    def bind_data(self, dataset) -> None:
        """Draw the labelled examples: n_labels / K per class, seeded by `label_seed`."""
        y = dataset.tensors["y"]
        per_class = self.cfg.n_labels // self.data.num_classes
        g = torch.Generator().manual_seed(self.cfg.label_seed)
        chosen = []
        for c in range(self.data.num_classes):
            members = (y == c).nonzero().flatten()
            if len(members) < per_class:
                raise GanthologyError(f"class {c} of {dataset.name!r} has {len(members)} examples; "
                                      f"n_labels = {self.cfg.n_labels} asks for {per_class} per class.")
            chosen.append(members[torch.randperm(len(members), generator=g)[:per_class]])
        idx = torch.cat(chosen)
        self.labelled_x.copy_(dataset.tensors["x"][idx])
        self.labelled_y.copy_(y[idx])

    def _labelled_batch(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`labelled_batch` labelled images (in [-1, 1], on `like`'s device and dtype) and labels."""
        if self.labelled_y[0] < 0:
            raise GanthologyError(f"{self.name} has no labelled examples yet: call model.bind_data(train_set) "
                                  "before training (the trainer does).")
        idx = torch.randint(self.cfg.n_labels, (self.cfg.labelled_batch,), device=self.labelled_y.device)
        return to_model_range(self.labelled_x[idx]).to(like.device, like.dtype), self.labelled_y[idx]
