"""The DCGAN generator and discriminator (Radford et al., 2015, section 3 and figure 1).

Architecture guidelines of the paper, followed here for any square power-of-two image size >= 8:
strided convolutions instead of pooling, fractional-strided (transposed) convolutions in G,
BatchNorm in both networks except G's output and D's input layer, ReLU in G with Tanh at the output,
LeakyReLU(0.2) in D, no fully connected hidden layers. For 64x64 images this is exactly figure 1:
z -> 4x4x(8 ngf) -> 8x8x(4 ngf) -> 16x16x(2 ngf) -> 32x32x(ngf) -> 64x64xC.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def _n_up(image_size: int) -> int:
    n = math.log2(image_size)
    if image_size < 8 or n != int(n):
        raise ValueError(f"DCGAN networks need a power-of-two image size >= 8, got {image_size}")
    return int(n) - 2  # from 4x4 up to image_size


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, image_size: int, ngf: int = 64):
        super().__init__()
        n_up = _n_up(image_size)
        ch = ngf * 2 ** (n_up - 1)
        # Project and reshape: z (B, z_dim, 1, 1) -> (B, ch, 4, 4)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ch, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(n_up - 1):  # (B, ch, s, s) -> (B, ch/2, 2s, 2s)
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        # Output layer: no BatchNorm, Tanh. (B, ngf, s, s) -> (B, C, 2s, 2s)
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Returns one logit per image (the sigmoid lives in the loss, for numerical stability).

    `norm="batch"` is the paper's; `norm="none"` or `"layer"` give the WGAN-GP critic, which must
    not use BatchNorm because its penalty is taken per sample (Gulrajani et al., section 4)."""

    def __init__(self, channels: int, image_size: int, ndf: int = 64, norm: str = "batch"):
        super().__init__()
        n_down = _n_up(image_size)
        ch = ndf
        # First layer: no normalization. (B, C, s, s) -> (B, ndf, s/2, s/2)
        layers: list[nn.Module] = [nn.Conv2d(channels, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):  # (B, ch, s, s) -> (B, 2ch, s/2, s/2)
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"),
                _norm(norm, ch * 2),
                nn.LeakyReLU(0.2, True),
            ]
            ch *= 2
        self.features = nn.Sequential(*layers)  # (B, ch, 4, 4)
        self.head = nn.Conv2d(ch, 1, 4, 1, 0)  # (B, ch, 4, 4) -> (B, 1, 1, 1)
        self.feature_dim = ch * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten()


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.GroupNorm(1, ch)  # layer norm over (C, H, W) per sample
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; use batch, layer or none")
