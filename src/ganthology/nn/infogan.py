"""The InfoGAN MNIST networks (Chen et al., 2016, table 1), which ClusterGAN (Mukherjee et al.,
2019, its MNIST code) uses unchanged for its generator and, without normalization, for its
discriminator and encoder. Sized by the image: any side that is a multiple of 4 and at least 8.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import GanthologyError


def quarter(image_size: int, model: str) -> int:
    """s / 4 for an image side s, checked."""
    if image_size < 8 or image_size % 4:
        raise GanthologyError(
            f"{model} needs images whose side is a multiple of 4 and at least 8, not {image_size}; set --image-size."
        )
    return image_size // 4


class FCUpconvGenerator(nn.Module):
    """z (B, Z) -> FC fc -> FC (s/4)^2 x 2ngf -> upconv ngf -> upconv C, Tanh -> (B, C, s, s); BatchNorm
    and ReLU in the hidden layers."""

    def __init__(self, z_dim: int, channels: int, image_size: int, ngf: int = 64, fc: int = 1024,
                 model: str = "infogan"):
        super().__init__()
        s4 = quarter(image_size, model)
        ch = 2 * ngf
        self.fc = nn.Sequential(
            nn.Linear(z_dim, fc, bias=False), nn.BatchNorm1d(fc), nn.ReLU(True),
            nn.Linear(fc, ch * s4 * s4, bias=False), nn.BatchNorm1d(ch * s4 * s4), nn.ReLU(True),
        )
        self.conv = nn.Sequential(
            # (B, 2ngf, s/4, s/4) -> (B, ngf, s/2, s/2)
            nn.ConvTranspose2d(ch, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            # (B, ngf, s/2, s/2) -> (B, C, s, s)
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1), nn.Tanh(),
        )
        self.shape = (ch, s4, s4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.conv(self.fc(z).view(z.shape[0], *self.shape))


def conv_fc_body(channels: int, image_size: int, ndf: int = 64, fc: int = 1024, slope: float = 0.1,
                 batch_norm: bool = True, model: str = "infogan") -> nn.Sequential:
    """(B, C, s, s) -> conv ndf -> conv 2ndf -> FC fc -> (B, fc), leaky ReLU after each layer and
    BatchNorm after the last two when `batch_norm` (InfoGAN's D; a WGAN-GP critic takes none)."""
    s4 = quarter(image_size, model)

    def norm(layer: nn.Module) -> nn.Module:
        return layer if batch_norm else nn.Identity()

    return nn.Sequential(
        nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(slope, True),  # -> (B, ndf, s/2, s/2)
        nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=not batch_norm), norm(nn.BatchNorm2d(2 * ndf)),
        nn.LeakyReLU(slope, True),  # -> (B, 2ndf, s/4, s/4)
        nn.Flatten(),
        nn.Linear(2 * ndf * s4 * s4, fc, bias=not batch_norm), norm(nn.BatchNorm1d(fc)), nn.LeakyReLU(slope, True),
    )


class ConvFCDiscriminator(nn.Module):
    """`features` = `conv_fc_body`, (B, C, s, s) -> (B, fc), then `head`: FC 1 -> (B,) raw scores."""

    def __init__(self, channels: int, image_size: int, ndf: int = 64, fc: int = 1024, slope: float = 0.1,
                 batch_norm: bool = True, model: str = "infogan"):
        super().__init__()
        self.features = conv_fc_body(channels, image_size, ndf, fc, slope, batch_norm, model)
        self.head = nn.Linear(fc, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten()
