"""An exponential moving average of the generator's weights (`--ema DECAY`).

Sampling from a running average of G's weights rather than from its last iterate smooths out the
oscillation of the two-player game (Yazici et al., "The Unusual Effectiveness of Averaging in GAN
Training", ICLR 2019, arXiv:1806.04498; the "G_ema" of Karras et al.'s ProGAN and StyleGAN code).
Training itself is unchanged: the optimizers step the live weights, and the average follows them

    avg <- beta_t * avg + (1 - beta_t) * live,   beta_t = min(decay, (1 + t) / (10 + t))

after every step t. The warm-up of beta_t (TensorFlow's `ExponentialMovingAverage` with
`num_updates`) keeps the random initial weights from lingering in the average of a short run.

With a ramp r (`--ema-rampup`, Karras et al. 2020's StyleGAN2-ADA `ema_rampup`, 0.05 there), the
average's half-life is instead at most the fraction r of the steps so far,

    beta_t = min(decay, 0.5 ** (1 / (r t))),

so an average over a run of any length spans its last few percent, and `decay` caps the half-life of
a long run (0.999: 693 steps). A fixed decay lags behind a generator that is still improving
quickly in a short run; the ramp follows it.

What is averaged: the parameters of the model's `sampling_modules` (the networks an export holds).
Their buffers (BatchNorm's running statistics) are copied from the live networks, as StyleGAN's
G_ema does: measured on dcgan/MNIST after 753 steps, averaged weights with the live statistics
scored FD 139.7, with averaged statistics 151.9, the live weights 141.4. The average is what sample grids,
`--eval-every`, the generator export and every later `load()` (sample, eval, export, studio) use. It
travels in the checkpoint, so a resumed run continues the same average bit for bit.
"""
from __future__ import annotations

import contextlib

import torch


def _sampling_state(model) -> dict[str, torch.Tensor]:
    """The sampling networks' tensors under the model's own state_dict names ("G.net.0.weight")."""
    return {f"{name}.{k}": v for name in model.sampling_modules
            for k, v in getattr(model, name).state_dict(keep_vars=True).items()}


class EMA:
    def __init__(self, model, decay: float, rampup: float = 0.0):
        if not 0 < decay < 1:
            raise ValueError(f"the EMA decay must lie in (0, 1), got {decay}")
        if not 0 <= rampup <= 1:
            raise ValueError(f"the EMA ramp must lie in [0, 1], got {rampup}")
        self.decay, self.rampup = decay, rampup
        live = _sampling_state(model)
        params = {id(p) for name in model.sampling_modules for p in getattr(model, name).parameters()}
        # networks can share layers (UNIT's shared encoder, CoGAN's shared generator trunk): one
        # average per tensor, found under each of its names
        slot: dict[int, int] = {}  # id of a tensor -> its place in _live and _avg
        self._live: list[torch.Tensor] = []
        self.names: dict[str, int] = {}  # each state_dict name -> the place of its tensor
        for k, v in live.items():
            if id(v) not in slot:
                slot[id(v)] = len(self._live)
                self._live.append(v)
            self.names[k] = slot[id(v)]
        self._avg = [v.detach().clone() for v in self._live]
        self._mean = [i for i, v in enumerate(self._live) if id(v) in params]  # averaged
        self._copy = [i for i, v in enumerate(self._live) if id(v) not in params]  # copied (buffers)

    def beta(self, step: int) -> float:
        if self.rampup:
            return min(self.decay, 0.5 ** (1.0 / (self.rampup * step)))
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Fold the live weights after optimisation step `step` (1, 2, ...) into the average."""
        w = 1.0 - self.beta(step)
        torch._foreach_lerp_([self._avg[i] for i in self._mean], [self._live[i].detach() for i in self._mean], w)
        for i in self._copy:
            self._avg[i].copy_(self._live[i])

    @contextlib.contextmanager
    @torch.no_grad()
    def applied(self):
        """The averaged weights in the live networks for the duration (sampling, evaluation, export);
        the live ones are put back afterwards, untouched."""
        saved = [v.detach().clone() for v in self._live]
        for v, a in zip(self._live, self._avg):
            v.copy_(a)
        try:
            yield
        finally:
            for v, s in zip(self._live, saved):
                v.copy_(s)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The average under the model's state_dict names: `model.load_state_dict(ema, strict=False)`
        puts it into a model (what `ganthology.load` does)."""
        return {k: self._avg[i].detach().cpu() for k, i in self.names.items()}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = sorted(set(self.names) - set(state))
        if missing:
            raise KeyError(missing[0])
        for k, i in self.names.items():
            self._avg[i].copy_(state[k])
