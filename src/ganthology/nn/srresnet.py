"""SRResNet's generator and SRGAN's discriminator (Ledig et al. 2017, arXiv:1609.04802, figure 4).

`SRResNetGenerator` is the network both stages of the paper train: SRResNet with a pixel MSE, then
SRGAN with a perceptual loss, starting from SRResNet's weights (section 3.2). It is fully
convolutional, so it upscales an image of any size by 4. `SRGANDiscriminator` is the VGG-style
classifier of figure 4 (bottom): eight 3x3 convolutions, 64 -> 512 channels, every second one of
stride 2, then dense 1024 -> dense 1.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def icnr_(conv: nn.Conv2d, r: int = 2) -> None:
    """Initialise a sub-pixel convolution (conv -> PixelShuffle(r)) so that it starts as a
    nearest-neighbour upsampling of a freshly initialised convolution: the r*r sub-kernels that
    PixelShuffle interleaves into each output block are copies of one. Independent sub-kernels start
    with a checkerboard that training on flat regions is slow to remove (Aitken, Ledig, Theis et al.
    2017, "Checkerboard artifact free sub-pixel convolution", arXiv:1707.02937, by SRGAN's authors)."""
    out_c, in_c, kh, kw = conv.weight.shape
    sub = nn.Conv2d(in_c, out_c // r**2, (kh, kw))  # PyTorch's default initialisation
    with torch.no_grad():
        # PixelShuffle sends channel c * r^2 + k to output channel c: repeat each sub-kernel r^2 times
        conv.weight.copy_(sub.weight.repeat_interleave(r**2, dim=0))
        conv.bias.copy_(sub.bias.repeat_interleave(r**2))


class SRResidualBlock(nn.Module):
    """conv3-n64-s1, BN, PReLU, conv3-n64-s1, BN, plus the identity (figure 4; the block of Gross
    and Wilber's ResNet variant the paper cites in section 2.2.3)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNetGenerator(nn.Module):
    """(B, C, h, w) -> (B, C, scale*h, scale*w). Figure 4 (top): a 9x9 conv and PReLU, B residual
    blocks, a 3x3 conv and BN added to the first activation (the global skip), log2(scale) sub-pixel
    blocks (conv3-n256, PixelShuffle x2, PReLU; Shi et al. 2016; ICNR-initialised, `icnr_`) and a
    9x9 output conv.

    The output conv has no activation (figure 4 ends in a plain conv): its range is all of R and so
    contains the [-1, 1] of the targets, unlike a Tanh against ImageNet-normalised targets (range
    about [-2.1, 2.6]) as in the PyTorch-GAN script. PReLU is per channel, as He et al. 2015 define
    it. Zero padding everywhere, so any input of at least 1x1 pixel is accepted."""

    def __init__(self, channels: int = 3, ngf: int = 64, n_blocks: int = 16, scale: int = 4):
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of 2, not {scale}")
        self.head = nn.Sequential(nn.Conv2d(channels, ngf, 9, padding=4), nn.PReLU(ngf))
        self.blocks = nn.Sequential(*[SRResidualBlock(ngf) for _ in range(n_blocks)])
        self.post = nn.Sequential(nn.Conv2d(ngf, ngf, 3, padding=1), nn.BatchNorm2d(ngf))
        up: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):  # (B, ngf, h, w) -> (B, 4 ngf, h, w) -> (B, ngf, 2h, 2w)
            conv = nn.Conv2d(ngf, ngf * 4, 3, padding=1)
            icnr_(conv)
            up += [conv, nn.PixelShuffle(2), nn.PReLU(ngf)]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(ngf, channels, 9, padding=4)
        self.scale = scale

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        h = self.head(lr)  # (B, C, h, w) -> (B, ngf, h, w)
        h = h + self.post(self.blocks(h))  # the global skip around the residual blocks
        return self.tail(self.upsample(h))  # (B, ngf, h, w) -> (B, C, 4h, 4w)


class SRGANDiscriminator(nn.Module):
    """(B, C, H, W) -> (B,) logits. Figure 4 (bottom): k3n64s1 (no BN), then k3n64s2, k3n128s1,
    k3n128s2, k3n256s1, k3n256s2, k3n512s1, k3n512s2, each with BN; LeakyReLU(0.2) throughout;
    dense 1024, LeakyReLU, dense 1. The final sigmoid lives in the BCE-with-logits loss. BatchNorm
    keeps PyTorch's eps (1e-5): the script's BatchNorm2d(C, 0.8) set eps to 0.8, not momentum."""

    def __init__(self, channels: int = 3, image_size: int = 96, ndf: int = 64, fc: int = 1024):
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, side = channels, image_size
        for i, mult in enumerate((1, 1, 2, 2, 4, 4, 8, 8)):
            stride = 1 + i % 2
            layers.append(nn.Conv2d(ch_in, ndf * mult, 3, stride, 1))
            if i > 0:
                layers.append(nn.BatchNorm2d(ndf * mult))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch_in, side = ndf * mult, (side + 1) // 2 if stride == 2 else side  # H -> ceil(H/2) at stride 2
        self.features = nn.Sequential(*layers)  # (B, C, H, W) -> (B, 8 ndf, H/16, W/16)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(ch_in * side * side, fc),
                                        nn.LeakyReLU(0.2, inplace=True), nn.Linear(fc, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)).squeeze(1)
