"""Adversarial Autoencoders. Makhzani, Shlens, Jaitly, Goodfellow, Frey, 2016. arXiv:1511.05644

An autoencoder whose code is made to follow a chosen prior p(z) by a GAN played in code space
(section 2): the encoder q(z|x) is the GAN's generator, and a discriminator on codes tells samples
of the prior (real) from codes of data (fake). Matching the aggregated posterior q(z) to p(z) means
that the decoder p(x|z) maps every region of the prior to plausible data, so the decoder alone is
a generative model: sample z ~ p(z) and decode. Both phases run on every minibatch (section 2):

    reconstruction phase:  encoder and decoder minimize the reconstruction error ||x - p(q(x))||^2
    regularization phase:  the discriminator learns to tell z ~ p(z) from z = q(x), then the
                           encoder (the generator) learns to fool it

The encoder is deterministic, the first of the three choices of q(z|x) in section 2 and the one the
experiments use: encode(x) = q(x). Networks and prior are those of the MNIST likelihood experiment
(section 3 and appendix A, as remembered): fully connected encoder, decoder and discriminator with
two ReLU layers of 1000 units each (512 by default here, see the config), a linear code layer, an
8-dimensional Gaussian prior, weights drawn from N(0, 0.01), minibatches of 100.

Departures: Adam (lr 2e-4, beta1 0.5) instead of the paper's SGD with momentum, which stays a
config switch away (--optimizer sgd --lr-recon 0.01 --lr-reg 0.1 --beta1 0.9) but diverged to NaN
within 100 steps in our runs on digits; the learning-rate drop after 50 epochs is left out (the
trainer has no schedule). The "Euclidean cost" is taken as the mean squared error per pixel. A Tanh
output instead of the sigmoid (our images live in [-1, 1]; Tanh is the sigmoid rescaled). The
encoder's adversarial step uses the non-saturating loss (it maximizes log D(q(x)), Goodfellow et
al., section 3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..registry import register_model
from .base import WEIGHT_AVERAGE, DataInfo, GANModel, adam_or_sgd, frozen


@dataclass
class AAEConfig:
    z_dim: int = 8  # code size; section 3 / appendix A: an 8-D Gaussian prior on MNIST (as remembered)
    prior_std: float = 5.0  # std of the Gaussian prior p(z); appendix A: 5 on MNIST (as remembered)
    # Appendix A: encoder, decoder and discriminator each have 2 layers of 1000 ReLU units
    # (--hidden 1000). At 512 a step costs about 40%, and in a fixed wall-clock budget the extra
    # steps win: 5 min on MNIST (1 core) gave FD 86.6 and recall 0.29 at 512 (10,896 steps)
    # against 132 and 0.22 at 1000 (4,260 steps).
    hidden: int = 512  # units in each of the two ReLU layers of E, G and D (appendix A: 1000)
    init_std: float = 0.01  # appendix A: weights from a Gaussian with standard deviation 0.01
    optimizer: str = "adam"  # adam | sgd; appendix A uses SGD with momentum, which diverged in our runs (see above)
    lr_recon: float = 2e-4  # learning rate of the reconstruction phase (appendix A, with SGD: 0.01, as remembered)
    lr_reg: float = 2e-4  # learning rate of the regularization phase, D and encoder (appendix A, SGD: 0.1, as remembered)
    beta1: float = 0.5  # Adam beta1, or SGD momentum when optimizer = sgd (appendix A: momentum 0.9, as remembered)
    batch_size: int = 100  # appendix A: minibatches of 100 (as remembered)


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """Two ReLU layers of `hidden` units and a linear output (appendix A)."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(True), nn.Linear(hidden, hidden), nn.ReLU(True),
                         nn.Linear(hidden, n_out))


class Encoder(nn.Module):
    """q(z|x), deterministic: (B, C, H, W) -> (B, z_dim), linear code layer."""

    def __init__(self, in_shape: tuple[int, ...], hidden: int, z_dim: int):
        super().__init__()
        self.net = _mlp(math.prod(in_shape), hidden, z_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(start_dim=1))


class Decoder(nn.Module):
    """p(x|z): (B, z_dim) -> (B, C, H, W) in [-1, 1]."""

    def __init__(self, z_dim: int, hidden: int, out_shape: tuple[int, ...]):
        super().__init__()
        self.out_shape = out_shape
        self.net = nn.Sequential(_mlp(z_dim, hidden, math.prod(out_shape)), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)


class CodeDiscriminator(nn.Module):
    """The adversary of section 2: it sees codes (B, z_dim), never images; one logit per code."""

    def __init__(self, z_dim: int, hidden: int):
        super().__init__()
        self.net = _mlp(z_dim, hidden, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).flatten()


@register_model("aae")
class AAE(GANModel):
    paper = "Adversarial Autoencoders. Makhzani et al., 2016. arXiv:1511.05644"
    year = 2016
    default_dataset = "mnist"
    train_defaults = WEIGHT_AVERAGE  # it helped this model at 5 minutes: FD 156 -> 130 (docs/results.md)
    Config = AAEConfig
    sampling_modules = ("G", "E")  # the decoder samples, the encoder encodes
    conv = False  # fully connected networks
    vector_data = False  # the paper's networks and experiments are on images

    def __init__(self, cfg: AAEConfig, data: DataInfo):
        super().__init__(cfg, data)
        shape = (data.channels, data.image_size, data.image_size)
        self.E = Encoder(shape, cfg.hidden, cfg.z_dim)  # q(z|x), the GAN's generator
        self.G = Decoder(cfg.z_dim, cfg.hidden, shape)  # p(x|z)
        self.D = CodeDiscriminator(cfg.z_dim, cfg.hidden)
        for m in self.modules():
            if isinstance(m, nn.Linear):  # appendix A: N(0, init_std) weights
                nn.init.normal_(m.weight, 0.0, cfg.init_std)
                nn.init.zeros_(m.bias)

    def optimizers(self):
        c = self.cfg
        return {
            # reconstruction phase: encoder and decoder together
            "AE": adam_or_sgd([*self.E.parameters(), *self.G.parameters()], c.optimizer, c.lr_recon, c.beta1),
            # regularization phase: the discriminator, then the encoder as the generator
            "D": adam_or_sgd(self.D.parameters(), c.optimizer, c.lr_reg, c.beta1),
            "E": adam_or_sgd(self.E.parameters(), c.optimizer, c.lr_reg, c.beta1),
        }

    def noise(self, n: int, device=None) -> torch.Tensor:
        """z ~ p(z) = N(0, prior_std^2 I), the prior the codes are matched to."""
        device = device if device is not None else self.device
        return torch.randn(n, self.cfg.z_dim, device=device) * self.cfg.prior_std

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """q(x): the deterministic code of images x."""
        return self.E(x)

    def probe_features(self, x: torch.Tensor) -> torch.Tensor:
        raise GanthologyError("the AAE's discriminator sees codes, not images; probe the encoder (--features encoder).")

    def train_step(self, batch, step):
        x = batch["x"]
        # reconstruction phase: Euclidean cost (mean squared error per pixel), encoder and decoder
        loss_rec = (self.G(self.E(x)) - x).pow(2).mean()
        self.update("AE", loss_rec)
        # regularization phase, D: prior samples are real, the codes of the batch fake
        z_fake = self.E(x)
        loss_D = d_loss_bce(self.D(self.noise(x.shape[0], x.device)), self.D(z_fake.detach()))
        self.update("D", loss_D)
        # regularization phase, encoder: fool the freshly updated D (non-saturating form)
        with frozen(self.D):
            loss_E = g_loss_nonsaturating(self.D(z_fake))
        self.update("E", loss_E)
        return {"loss_rec": loss_rec.detach(), "loss_D": loss_D.detach(), "loss_E": loss_E.detach()}
