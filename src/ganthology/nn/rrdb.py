"""ESRGAN's networks (Wang et al. 2018, arXiv:1809.00219): the RRDB generator and the VGG-style
discriminator, as in the paper's figures 3-4 and the official code (xinntao/ESRGAN, BasicSR's
`RRDBNet` and `VGGStyleDiscriminator`).

`RRDBNet` is SRResNet's structure (a first conv, a deep body with a global skip, an upsampler, two
output convs) with its residual block replaced by the Residual-in-Residual Dense Block (RRDB,
section 3.1): three dense blocks of five 3x3 convolutions each, every conv seeing the block's input
and all earlier outputs (growth 32 channels), LeakyReLU(0.2), no BatchNorm anywhere ("removing BN
layers has been proven to increase performance and reduce computational complexity", section 3.1),
and residual scaling: each dense block returns x + 0.2 f(x), each RRDB x + 0.2 RRDB(x). The dense
blocks' convolutions start from He (MSRA) initialisation scaled by 0.1 (section 3.1, "smaller
initialization"; the official code scales exactly these). Upsampling is nearest-neighbour x2 then a
conv, twice (the official code), which has no sub-pixel checkerboard to start with.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

RES_SCALE = 0.2  # section 3.1: "residual scaling ... multiplying by a constant between 0 and 1" (0.2)
SLOPE = 0.2  # the official code's LeakyReLU(negative_slope=0.2) (the PyTorch-GAN script: 0.01)
INIT_SCALE = 0.1  # section 3.1: MSRA initialisation scaled by 0.1 in the dense blocks


class ResidualDenseBlock(nn.Module):
    """(B, nf, h, w) -> (B, nf, h, w): five 3x3 convs densely connected (conv k sees the input and the
    outputs of convs 1..k-1, concatenated), LeakyReLU(0.2) after the first four; x + 0.2 f(x)."""

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(nf + i * gc, gc if i < 4 else nf, 3, padding=1) for i in range(5)])
        for conv in self.convs:  # section 3.1: MSRA init x 0.1, biases 0 (official default_init_weights)
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(INIT_SCALE)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs[:4]:  # (B, nf + i gc, h, w) -> (B, gc, h, w)
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), SLOPE))
        return x + RES_SCALE * self.convs[4](torch.cat(feats, 1))  # (B, nf + 4 gc, h, w) -> (B, nf, h, w)


class RRDB(nn.Module):
    """Residual in Residual Dense Block (figure 4): three dense blocks in a row, x + 0.2 f(x)."""

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.blocks = nn.Sequential(*[ResidualDenseBlock(nf, gc) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RES_SCALE * self.blocks(x)


class RRDBNet(nn.Module):
    """(B, C, h, w) -> (B, C, scale*h, scale*w). Figure 3 with RRDBs as the basic blocks: conv3 to nf,
    n_rrdb RRDBs, conv3, plus the first conv's output (the global skip); log2(scale) times nearest x2
    and conv3 + LeakyReLU; conv3 + LeakyReLU; conv3 to C. No BatchNorm, no output squashing (the
    targets' [-1, 1] lies inside its range); any input size."""

    def __init__(self, channels: int = 3, nf: int = 64, n_rrdb: int = 23, gc: int = 32, scale: int = 4):
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of 2, not {scale}")
        self.head = nn.Conv2d(channels, nf, 3, padding=1)
        self.body = nn.Sequential(*[RRDB(nf, gc) for _ in range(n_rrdb)])
        self.body_conv = nn.Conv2d(nf, nf, 3, padding=1)
        self.up = nn.ModuleList([nn.Conv2d(nf, nf, 3, padding=1) for _ in range(int(math.log2(scale)))])
        self.hr_conv = nn.Conv2d(nf, nf, 3, padding=1)
        self.tail = nn.Conv2d(nf, channels, 3, padding=1)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        h = self.head(lr)  # (B, C, h, w) -> (B, nf, h, w)
        h = h + self.body_conv(self.body(h))  # the global skip around the RRDBs
        for conv in self.up:  # (B, nf, h, w) -> (B, nf, 2h, 2w), twice
            h = F.leaky_relu(conv(F.interpolate(h, scale_factor=2, mode="nearest")), SLOPE)
        return self.tail(F.leaky_relu(self.hr_conv(h), SLOPE))  # (B, nf, 4h, 4w) -> (B, C, 4h, 4w)


class VGGStyleDiscriminator(nn.Module):
    """(B, C, H, W) -> (B,) raw scores C(x) for the relativistic average loss (section 3.2). The
    official code's VGG-style network for 128x128 crops: five stages of conv3 (stride 1) and conv4
    (stride 2), 64, 128, 256, 512, 512 channels, BatchNorm after every conv but the first, LeakyReLU
    0.2; dense 100, LeakyReLU, dense 1. After five halvings a side of H is H // 32 (4 at the
    paper's 128, 3 at photo_sr's 96), the size the first dense layer takes. Images under 32 pixels
    (tests) stop halving at 1x1: the stages after that keep stride 1 (a 3x3 conv in place of the
    4x4). BatchNorm keeps PyTorch's eps (1e-5), not the scripts' 0.8."""

    def __init__(self, channels: int = 3, image_size: int = 128, ndf: int = 64):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 3, 1, 1), nn.LeakyReLU(SLOPE, inplace=True)]
        ch, side = ndf, image_size
        for i, mult in enumerate((1, 2, 4, 8, 8)):
            out = ndf * mult
            if i > 0:  # conv3 s1, widening
                layers += [nn.Conv2d(ch, out, 3, 1, 1, bias=False), nn.BatchNorm2d(out), nn.LeakyReLU(SLOPE, True)]
            down = side >= 2  # (B, out, H, W) -> (B, out, H/2, W/2), down to 1x1
            conv = nn.Conv2d(out, out, 4, 2, 1, bias=False) if down else nn.Conv2d(out, out, 3, 1, 1, bias=False)
            layers += [conv, nn.BatchNorm2d(out), nn.LeakyReLU(SLOPE, True)]
            ch, side = out, side // 2 if down else side
        self.features = nn.Sequential(*layers)  # (B, C, H, W) -> (B, 8 ndf, H/32, W/32)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(ch * side * side, 100),
                                        nn.LeakyReLU(SLOPE, inplace=True), nn.Linear(100, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)).squeeze(1)
