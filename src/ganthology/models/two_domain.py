"""What every model that translates between two unpaired domains shares: CycleGAN, DiscoGAN,
DualGAN, UNIT and MUNIT differ in their networks and losses, not in how they are used or scored.

A subclass builds its networks after `super().__init__` (which sets `key_A`, `key_B`, the channels
`c_A`, `c_B` and the image side `size`) and implements `map(x, direction)`: the differentiable
translation of a batch of domain A (direction "AtoB") or B ("BtoA"), or keeps the default of one
generator per direction, `G_AB` and `G_BA`. From it this class gives:

- `translate(x, direction)` for `ganthology translate` (checked input, no gradients);
- `held_out_metrics`: the cycle error, and for each direction whose target domain's dataset has an
  evaluator, the share of digits kept, the Fréchet distance to the target's held-out images, both
  also for the identity mapping (the baseline), and for `multimodal` models the diversity of
  several translations of one input;
- `preview`: a | G_AB(a) | back to A | b | G_BA(b).
"""
from __future__ import annotations

from typing import ClassVar

import torch

from ..data.folders import check_direction
from ..errors import GanthologyError
from .base import DataInfo, GANModel

DIRECTIONS = ("AtoB", "BtoA")


class TwoDomainModel(GANModel):
    vector_data = False
    requires = ("domain A", "domain B")
    default_dataset = "mnist2mnistm"
    #: the image side must be a multiple of this (the generator's total downsampling)
    size_multiple: ClassVar[int] = 4
    #: held-out numbers (see held_out_metrics); multimodal models add diversity_AtoB / _BtoA
    scores = {"cycle_l1": "min", "digit_kept_AtoB": "max", "digit_kept_BtoA": "max", "fd_AtoB": "min",
              "fd_BtoA": "min", "identity_digit_kept_AtoB": "max", "identity_digit_kept_BtoA": "max",
              "identity_fd_AtoB": "min", "identity_fd_BtoA": "min"}
    #: translations per input that `diversity_*` compares
    diversity_k: ClassVar[int] = 4

    def __init__(self, cfg, data: DataInfo):
        super().__init__(cfg, data)
        self.key_A, self.key_B = data.key("domain A"), data.key("domain B")
        shape_A, shape_B = data.parts[self.key_A].shape, data.parts[self.key_B].shape
        if shape_A[1:] != shape_B[1:]:
            raise GanthologyError(f"{self.name} translates images of one size; the domains are {shape_A[1]}x{shape_A[2]} "
                                  f"and {shape_B[1]}x{shape_B[2]}. Pass --image-size.")
        self.c_A, self.c_B, self.size = shape_A[0], shape_B[0], shape_A[-1]
        m = self.size_multiple
        if self.size % m:
            raise GanthologyError(f"{self.name}'s generator downsamples by {m}; use an image size that is a "
                                  f"multiple of {m}, not {self.size}.")

    # --- what a subclass provides ---------------------------------------------------------------
    def map(self, x: torch.Tensor, direction: str) -> torch.Tensor:
        """Images of the source domain of `direction` (in [-1, 1]) -> the other domain (differentiable).
        By default one generator per direction, `G_AB` and `G_BA` (CycleGAN, DiscoGAN, DualGAN); a model
        that translates through shared codes (UNIT, MUNIT) overrides it."""
        return (self.G_AB if direction == "AtoB" else self.G_BA)(x)

    # --- use ------------------------------------------------------------------------------------
    def input_spec(self, direction: str = "AtoB", **options) -> tuple[int, int]:
        check_direction(direction)
        return (self.c_A if direction == "AtoB" else self.c_B), self.size

    def check_input(self, x: torch.Tensor, direction: str) -> None:
        c, _ = self.input_spec(direction)
        m = self.size_multiple
        if x.dim() != 4 or x.shape[1] != c or x.shape[-1] % m or x.shape[-2] % m:
            raise GanthologyError(f"{self.name} {direction} takes {c}-channel images whose sides are multiples of {m}; "
                                  f"got shape {tuple(x.shape[1:])}.")

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Images of domain A (direction AtoB) or B (BtoA), in [-1, 1], translated to the other."""
        self.check_input(x, direction)
        return self.map(x.to(self.device), direction)

    def _translate_all(self, x: torch.Tensor, direction: str) -> torch.Tensor:
        return torch.cat([self.map(xb, direction) for xb in x.split(100)])

    @torch.no_grad()
    def held_out_metrics(self, test):
        """On the held-out images of both domains:
        - cycle_l1: mean |G_BA(G_AB(a)) - a| and |G_AB(G_BA(b)) - b| (in [-1, 1]), the cycle loss;
        - digit_kept_AtoB / _BtoA: the share of translations that the evaluator of the target
          domain's dataset labels as the digit of their input (where the domain has labels and its
          dataset an evaluator, trained once on first use); identity_digit_kept_*: the same
          for the input itself, put into the target's channels (the identity mapping's score);
        - fd_AtoB / fd_BtoA: Fréchet distance, in that evaluator's features, from the translations
          to the target domain's held-out images; identity_fd_*: the same for the inputs;
        - diversity_AtoB / _BtoA (multimodal models): see `metrics.translation.diversity`."""
        from ..metrics.evaluators import evaluator_for
        from ..metrics.translation import content_and_realism, diversity

        a, b = test[self.key_A], test[self.key_B]
        fake = {"AtoB": self._translate_all(a, "AtoB"), "BtoA": self._translate_all(b, "BtoA")}
        cyc_A, cyc_B = self._translate_all(fake["AtoB"], "BtoA"), self._translate_all(fake["BtoA"], "AtoB")
        out = {"cycle_l1": float(((cyc_A - a).abs().mean() + (cyc_B - b).abs().mean()) / 2)}
        for name, src, target_key in (("AtoB", self.key_A, self.key_B), ("BtoA", self.key_B, self.key_A)):
            ev = evaluator_for(self.data.parts[target_key].dataset)
            if ev is None:
                continue  # no evaluator for this domain's images
            labels = labels_of(test, self.data, src)
            real = test[target_key]
            c = fake[name].shape[1]
            for prefix, imgs in (("", fake[name]), ("identity_", to_channels(test[src], c))):
                for k, v in content_and_realism(imgs, labels, real, ev).items():
                    out[f"{prefix}{k}_{name}"] = v
            if self.multimodal:
                x = test[src][:200]
                out[f"diversity_{name}"] = diversity([self._translate_all(x, name) for _ in range(self.diversity_k)], ev)
        return out

    def preview(self, batch):
        from ..viz import match_channels

        a, b = batch[self.key_A][:8], batch[self.key_B][:8]
        with torch.no_grad():
            fake_B, fake_A = self.map(a, "AtoB"), self.map(b, "BtoA")
            rec_A = self.map(fake_B, "BtoA")
        c = max(self.c_A, self.c_B)
        rows = [match_channels(t, torch.zeros(1, c, 1, 1)) for t in (a, fake_B, rec_A, b, fake_A)]
        n = min(len(a), len(b))
        return torch.stack([r[:n] for r in rows], 1).flatten(0, 1), 10  # A | G_AB(A) | cycle | B | G_BA(B)


def labels_of(test: dict, data: DataInfo, key: str) -> torch.Tensor | None:
    """The labels aligned with `key` in the held-out batch (the label part of its group), if any."""
    group = data.parts[key].group
    label = next((k for k, p in data.parts.items() if p.role == "label" and p.group == group), None)
    return test.get(label) if label else None


def to_channels(x: torch.Tensor, c: int) -> torch.Tensor:
    """Grey -> colour by repetition, colour -> grey by the channel mean."""
    if x.shape[1] == c:
        return x
    return x.expand(-1, c, -1, -1) if x.shape[1] == 1 else x.mean(1, keepdim=True)
