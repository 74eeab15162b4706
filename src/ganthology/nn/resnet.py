"""Residual blocks and the ResNet generator of image-to-image translation.

`ResidualBlock` is the block of Johnson et al. 2016 (perceptual losses) as CycleGAN, StarGAN and
PixelDA use it: conv3-norm-ReLU-conv3-norm plus the identity, no ReLU after the sum.
`ResnetGenerator` is CycleGAN's generator (Zhu et al. 2017, appendix 7.2): c7s1-64, d128, d256,
n x R256, u128, u64, c7s1-C_out with a Tanh; reflection padding; instance normalisation. It is
fully convolutional, so it takes any image whose side is a multiple of 4.
"""
from __future__ import annotations

import torch
from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    """"instance" (CycleGAN, StarGAN: affine, as their code builds it), "batch" (PixelDA, SRGAN)."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"unknown norm {kind!r}")


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str = "instance", padding: str = "reflect"):
        super().__init__()
        pad = dict(padding=1, padding_mode=padding)  # "reflect" (CycleGAN) or "zeros" (StarGAN)
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, **pad), norm_layer(norm, channels), nn.ReLU(True),
            nn.Conv2d(channels, channels, 3, **pad), norm_layer(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """(B, C_in, H, W) -> (B, C_out, H, W) in [-1, 1]; H and W multiples of 2**n_down."""

    def __init__(self, in_channels: int, out_channels: int, ngf: int = 64, n_blocks: int = 9,
                 n_down: int = 2, norm: str = "instance"):
        super().__init__()
        # c7s1-64: a 7x7 convolution on the reflection-padded image (the padding is 3 pixels,
        # whatever the channel count: PyTorch-GAN's ReflectionPad2d(channels) is right only for 3)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7),
                                   norm_layer(norm, ngf), nn.ReLU(True)]
        ch = ngf
        for _ in range(n_down):  # dk: 3x3 stride-2 convolutions, (B, ch, H, W) -> (B, 2ch, H/2, W/2)
            layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1), norm_layer(norm, ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [ResidualBlock(ch, norm) for _ in range(n_blocks)]  # Rk at the bottleneck
        for _ in range(n_down):  # uk: 3x3 fractionally strided convolutions, (ch, H, W) -> (ch/2, 2H, 2W)
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1), norm_layer(norm, ch // 2),
                       nn.ReLU(True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.multiple = 2**n_down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
