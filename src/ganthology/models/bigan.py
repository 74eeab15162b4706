"""Adversarial Feature Learning. Donahue, Krähenbühl, Darrell, 2017. arXiv:1605.09782
(the same model as Adversarially Learned Inference, Dumoulin et al., 2017, arXiv:1606.00704)

A bidirectional GAN (BiGAN): beside the generator G: z -> x it learns an encoder E: x -> z, and the
discriminator judges joint pairs instead of images (section 3): real pairs (x, E(x)) with x from
the data against fake pairs (G(z), z) with z from the prior,

    min_{G,E} max_D  E_x[log D(x, E(x))] + E_z[log(1 - D(G(z), z))]                  (eq. 3)

At the optimum the two joint distributions match, which forces E and G to invert each other
(section 3, theorems 2 and 3): E learns a representation of data without labels, and D, which must
relate images to codes, learns features of its own. Both are evaluated by training a classifier on
them (section 4). G and E are trained together against D; as in GANs the minimax loss saturates,
so they minimize the "inverse" objective instead (section 3.4): the labels of the two kinds of pair
are swapped, -log D(G(z), z) - log(1 - D(x, E(x))).

Networks and settings are those of the permutation-invariant MNIST experiment (section 4.2 and the
appendix, as remembered): multilayer perceptrons with two hidden layers of 1024 units (512 by
default, for the budgets of a CPU; see the config); G with
BatchNorm and ReLU, E with BatchNorm and LeakyReLU(0.2) and a linear output; D takes x through a
LeakyReLU layer, joins z to it, and has one more LeakyReLU layer before its logit (`features(x, z)`
is that joint layer, for linear probes); z ~ U[-1, 1]^50; Adam with lr 2e-4, beta1 0.5 and weight
decay 2.5e-5, minibatches of 128. Departures: a Tanh output in G instead of the sigmoid (our images
live in [-1, 1]); the learning-rate decay over the second half of training is left out (the trainer
has no schedule); E is deterministic (BiGAN's), not ALI's stochastic encoder.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from ..losses import d_loss_bce
from ..registry import register_model
from .base import WEIGHT_AVERAGE, DataInfo, GANModel, frozen


@dataclass
class BiGANConfig:
    z_dim: int = 50  # section 4.2: a 50-dimensional latent space on MNIST (as remembered)
    noise: str = "uniform"  # section 4.2: p_Z = U[-1, 1]^50 (as remembered); "normal" for N(0, I), as in ALI
    # The appendix's two hidden layers of 1024 units in G, E and D (as remembered) are --hidden 1024.
    # Ours is half, as aae's: 5 min of one core on MNIST gave FD 222 / recall 0.11 at 1024 (3,018
    # steps) and 108 / 0.40 at 512 (7,120 steps), whose E(x) still beats pixels in a linear probe
    # (89.0% against 88.7%; untrained 82.5%). docs/results.md has both rows.
    hidden: int = 512  # width of every hidden layer; the paper's is 1024 (see above)
    lr: float = 2e-4  # appendix: Adam, learning rate 2e-4 (as remembered)
    beta1: float = 0.5  # appendix: Adam beta1 = 0.5 (as remembered)
    beta2: float = 0.999  # Adam's default
    weight_decay: float = 2.5e-5  # appendix: weight decay 2.5e-5 on all networks (as remembered)
    batch_size: int = 128  # appendix: minibatches of 128 (as remembered)


class Generator(nn.Module):
    """G: (B, z_dim) -> (B, C, H, W) in [-1, 1]."""

    def __init__(self, z_dim: int, hidden: int, out_shape: tuple[int, ...]):
        super().__init__()
        self.out_shape = out_shape
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(True),
            nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(True),
            nn.Linear(hidden, math.prod(out_shape)), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)


class Encoder(nn.Module):
    """E: (B, C, H, W) -> (B, z_dim), linear output: the learned representation."""

    def __init__(self, in_shape: tuple[int, ...], hidden: int, z_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(math.prod(in_shape), hidden, bias=False), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2, True),
            nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2, True),
            nn.Linear(hidden, z_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(start_dim=1))


class JointDiscriminator(nn.Module):
    """D(x, z): one logit per (image, code) pair. x passes a layer of its own, then z joins it."""

    def __init__(self, in_shape: tuple[int, ...], z_dim: int, hidden: int):
        super().__init__()
        self.x_net = nn.Sequential(nn.Linear(math.prod(in_shape), hidden), nn.LeakyReLU(0.2, True))
        self.joint = nn.Sequential(nn.Linear(hidden + z_dim, hidden), nn.LeakyReLU(0.2, True))
        self.head = nn.Linear(hidden, 1)
        self.feature_dim = hidden

    def features(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The joint hidden layer, (B, hidden): D's features of a pair."""
        h = self.x_net(x.flatten(start_dim=1))  # (B, C, H, W) -> (B, hidden)
        return self.joint(torch.cat([h, z], dim=1))  # (B, hidden + z_dim) -> (B, hidden)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, z)).flatten()


@register_model("bigan")
class BiGAN(GANModel):
    paper = "Adversarial Feature Learning. Donahue, Krähenbühl, Darrell, 2017. arXiv:1605.09782"
    year = 2017
    default_dataset = "mnist"
    train_defaults = WEIGHT_AVERAGE  # it helped this model at 5 minutes: FD 139 -> 119 (docs/results.md)
    Config = BiGANConfig
    sampling_modules = ("G", "E")  # G samples, E encodes
    conv = False  # fully connected networks (permutation-invariant MNIST)
    vector_data = False  # the paper's networks and experiments are on images

    def __init__(self, cfg: BiGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        shape = (data.channels, data.image_size, data.image_size)
        self.G = Generator(cfg.z_dim, cfg.hidden, shape)
        self.E = Encoder(shape, cfg.hidden, cfg.z_dim)
        self.D = JointDiscriminator(shape, cfg.z_dim, cfg.hidden)

    def optimizers(self):
        c = self.cfg
        kw = dict(lr=c.lr, betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)
        return {
            # G and E are one player (eq. 3): one optimizer over both
            "GE": torch.optim.Adam(itertools.chain(self.G.parameters(), self.E.parameters()), **kw),
            "D": torch.optim.Adam(self.D.parameters(), **kw),
        }

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """E(x): the learned representation (section 4)."""
        return self.E(x)

    def probe_features(self, x: torch.Tensor) -> torch.Tensor:
        """D's features of images for a linear probe: its x-only layer and its joint layer on the
        real pair (x, E(x)), concatenated: (B, 2 hidden)."""
        h = self.D.x_net(x.flatten(start_dim=1))
        return torch.cat([h, self.D.joint(torch.cat([h, self.E(x)], dim=1))], dim=1)

    def train_step(self, batch, step):
        x = batch["x"]
        z = self.noise(x.shape[0], x.device)
        real_z, fake_x = self.E(x), self.G(z)  # (x, E(x)) and (G(z), z)
        # D: real pairs against fake pairs, as separate minibatches
        loss_D = d_loss_bce(self.D(x, real_z.detach()), self.D(fake_x.detach(), z))
        self.update("D", loss_D)
        # G and E: the inverse objective (section 3.4), labels swapped, through the updated D
        with frozen(self.D):
            loss_GE = d_loss_bce(self.D(fake_x, z), self.D(x, real_z))
        self.update("GE", loss_GE)
        return {"loss_D": loss_D.detach(), "loss_GE": loss_GE.detach()}
