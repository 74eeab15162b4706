"""The PatchGAN discriminator (pix2pix, Isola et al., 2017, section 3.2.2 and appendix 6.1.2).

It classifies each N x N patch as real or fake and returns the map of patch logits; with the
default three stride-2 layers the receptive field is 70x70: C64-C128-C256-C512, then a 1-channel
convolution. No BatchNorm on the first layer; LeakyReLU 0.2. CycleGAN uses it unchanged.
"""
from __future__ import annotations

import torch
from torch import nn


class PatchGANDiscriminator(nn.Module):
    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        Norm = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d}[norm]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = ndf
        for i in range(1, n_layers + 1):  # stride 2 for the first n_layers - 1, then stride 1
            out = ndf * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(ch, out, 4, stride, 1, bias=False), Norm(out), nn.LeakyReLU(0.2, True)]
            ch = out
        layers.append(nn.Conv2d(ch, 1, 4, 1, 1))  # (B, 512, h, w) -> (B, 1, h-1, w-1) logits
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
