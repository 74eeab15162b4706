"""The generator / discriminator pair that loss-focused papers share, for images and vector data.

Most unconditional papers (LSGAN, WGAN, WGAN-GP, DRAGAN, BGAN, Softmax GAN, Relativistic GAN, ...)
change the loss, not the networks: on images they use DCGAN's (Radford et al., 2015), and their
mode-coverage experiments on 2-D mixtures (ring8, grid25) use small MLPs. A model asks this module
for its networks and gets the right kind for its `DataInfo`.
"""
from __future__ import annotations

import torch
from torch import nn

from .dcgan import DCGANDiscriminator, DCGANGenerator


class MLPGenerator(nn.Module):
    """z (B, z_dim) -> x (B, dim): `depth` ReLU layers of `width` units, linear output (toy data is
    not bounded to [-1, 1])."""

    def __init__(self, z_dim: int, dim: int, width: int = 128, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        n_in = z_dim
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), nn.ReLU(True)]
            n_in = width
        self.net = nn.Sequential(*layers, nn.Linear(n_in, dim))
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """x (B, dim) -> one logit per sample; `features(x)` is the last hidden layer (B, width).
    No normalization, so per-sample gradient penalties stay per sample."""

    def __init__(self, dim: int, width: int = 128, depth: int = 3, out_dim: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        n_in = dim
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), nn.LeakyReLU(0.2, True)]
            n_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(n_in, out_dim)
        self.feature_dim = n_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.features(x))
        return out.flatten() if out.shape[1] == 1 else out


def make_generator(data, z_dim: int, width: int = 64) -> nn.Module:
    """DCGAN generator (width = ngf) for images, MLP generator (width = hidden units x 2) for vectors."""
    if data.is_vector:
        return MLPGenerator(z_dim, data.dim, width=2 * width)
    return DCGANGenerator(z_dim, data.channels, data.image_size, width)


def make_discriminator(data, width: int = 64, norm: str = "batch") -> nn.Module:
    """DCGAN discriminator (width = ndf; norm batch | layer | none) for images, MLP for vectors.
    Both return one logit per sample and expose `features` and `feature_dim`."""
    if data.is_vector:
        return MLPDiscriminator(data.dim, width=2 * width)
    return DCGANDiscriminator(data.channels, data.image_size, width, norm=norm)
