"""The U-Net generator of pix2pix (Isola et al., 2017, section 3.1.1 and appendix 6.1.1).

An encoder-decoder whose layer i is skip-connected to layer n - i. Encoder C64-C128-C256-C512-C512-
C512-C512-C512 for 256x256 images (one stride-2 4x4 convolution per halving, down to 1x1), decoder
mirrored with dropout(0.5) in its first three layers, which is the only noise source of the model
(section 2.1). BatchNorm everywhere except the first encoder layer and the 1x1 bottleneck; LeakyReLU
0.2 in the encoder, ReLU in the decoder, Tanh at the output. Depth follows the image size, so a
32x32 image gets 5 levels (C64-C128-C256-C512-C512).
"""
from __future__ import annotations

import math

import torch
from torch import nn


class UNetGenerator(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        image_size: int,
        ngf: int = 64,
        max_mult: int = 8,
        dropout: float = 0.5,
        n_dropout: int = 3,
    ):
        super().__init__()
        n = math.log2(image_size)
        if image_size < 4 or n != int(n):
            raise ValueError(f"the U-Net needs a power-of-two image size >= 4, got {image_size}")
        n = int(n)
        chs = [ngf * min(2**i, max_mult) for i in range(n)]  # encoder outputs, s/2 ... 1x1
        self.down = nn.ModuleList()
        for i in range(n):  # (B, c_{i-1}, s, s) -> (B, c_i, s/2, s/2)
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(in_channels if i == 0 else chs[i - 1], chs[i], 4, 2, 1))
            if 0 < i < n - 1:
                layers.append(nn.BatchNorm2d(chs[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for j in range(n):  # j = 0 is the innermost; its input has no skip
            c_in = chs[n - 1] if j == 0 else 2 * chs[n - 1 - j]
            outermost = j == n - 1
            c_out = out_channels if outermost else chs[n - 2 - j]
            layers = [nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)]
            if outermost:
                layers.append(nn.Tanh())
            else:
                layers.append(nn.BatchNorm2d(c_out))
                if j < n_dropout:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.down:
            x = down(x)
            skips.append(x)
        h = self.up[0](skips[-1])
        for j, up in enumerate(self.up[1:], start=1):
            # (B, c, s, s) ++ skip (B, c, s, s) -> (B, 2c, s, s) -> (B, c', 2s, 2s)
            h = up(torch.cat([h, skips[-1 - j]], dim=1))
        return h
