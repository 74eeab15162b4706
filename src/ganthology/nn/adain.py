"""MUNIT's networks (Huang, Liu, Belongie, Kautz 2018, arXiv:1804.04732, section 4,
as the official code NVlabs/MUNIT `networks.py` builds them).

- `ContentEncoder`: c7s1-64, n_down x (4x4 stride-2 conv), n_res residual blocks; instance norm,
  ReLU, reflection padding. (B, C, H, W) -> (B, 64 * 2**n_down, H / 2**n_down, W / 2**n_down).
- `StyleEncoder`: c7s1-64, n_down stride-2 convs (the width doubling for the first two only), a
  global average pool and a 1x1 conv to the style code; no normalisation (IN would remove the
  very statistics that carry the style, section 4). (B, C, H, W) -> (B, style_dim). The pool is
  adaptive, whatever the channel count or size: PyTorch-GAN used `AvgPool2d(in_channels)`, a
  kernel as large as the channel count.
- `AdaINDecoder`: n_res residual blocks whose normalisation is adaptive instance normalisation
  (section 4) with the affine parameters given by an `MLP` of the style code, then n_up x (nearest x2
  upsampling, 5x5 conv, layer norm, ReLU) and a c7s1 conv with Tanh.
- `MultiScaleDiscriminator`: the same 4-layer conv net (4x4 stride 2, LeakyReLU 0.2, no norm, a
  1x1 conv to one LSGAN output per patch) applied to the image and to 2 and 4 times smaller
  copies (3x3 average pools with stride 2), as the official `MsImageDis`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AdaptiveInstanceNorm2d(nn.Module):
    """AdaIN(z, gamma, beta) = gamma * (z - mu(z)) / sigma(z) + beta (section 4), mu and sigma per
    sample and channel. gamma and beta are not parameters: `AdaINDecoder` sets them from the style
    before each forward (`self.gamma`, `self.beta`, each (B, C))."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.channels, self.eps = channels, eps
        self.gamma: torch.Tensor | None = None
        self.beta: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gamma is None or self.beta is None:
            raise RuntimeError("AdaIN's parameters come from a style code: call AdaINDecoder(content, style)")
        z = F.instance_norm(x, eps=self.eps)
        return z * self.gamma[:, :, None, None] + self.beta[:, :, None, None]


def _block(c_in: int, c_out: int, k: int, stride: int, norm: str, act: str) -> list[nn.Module]:
    """Reflection pad, conv, norm, activation: the official `Conv2dBlock`."""
    norms = {"in": lambda: nn.InstanceNorm2d(c_out), "ln": lambda: LayerNorm(c_out),
             "adain": lambda: AdaptiveInstanceNorm2d(c_out), "none": lambda: nn.Identity()}
    acts = {"relu": lambda: nn.ReLU(True), "lrelu": lambda: nn.LeakyReLU(0.2, True), "tanh": nn.Tanh,
            "none": nn.Identity}
    pad = (k - 1) // 2 if stride == 1 else 1
    return [nn.ReflectionPad2d(pad), nn.Conv2d(c_in, c_out, k, stride), norms[norm](), acts[act]()]


class LayerNorm(nn.Module):
    """Layer norm over (C, H, W) of each sample with a per-channel scale and shift, used in the
    decoder's upsampling layers (section 4: "we use Layer Normalization in the upsampling layers").
    As the official code: (x - mean) / (std + eps), the scale drawn from U(0, 1), shift 0."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.rand(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        mean = flat.mean(1).view(-1, 1, 1, 1)
        std = flat.std(1).view(-1, 1, 1, 1)
        return (x - mean) / (std + self.eps) * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


class ResBlock(nn.Module):
    """conv3-norm-ReLU-conv3-norm plus the identity (official `ResBlock`), with IN or AdaIN."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(*_block(channels, channels, 3, 1, norm, "relu"),
                                  *_block(channels, channels, 3, 1, norm, "none"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ContentEncoder(nn.Module):
    def __init__(self, in_channels: int, dim: int = 64, n_down: int = 2, n_res: int = 4):
        super().__init__()
        layers = _block(in_channels, dim, 7, 1, "in", "relu")
        for _ in range(n_down):  # (B, d, H, W) -> (B, 2d, H/2, W/2)
            layers += _block(dim, dim * 2, 4, 2, "in", "relu")
            dim *= 2
        layers += [ResBlock(dim, "in") for _ in range(n_res)]
        self.net = nn.Sequential(*layers)
        self.out_channels = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class StyleEncoder(nn.Module):
    def __init__(self, in_channels: int, dim: int = 64, n_down: int = 4, style_dim: int = 8):
        super().__init__()
        layers = _block(in_channels, dim, 7, 1, "none", "relu")
        for i in range(n_down):  # the first two double the width, the rest keep it (official code)
            out = dim * 2 if i < 2 else dim
            layers += _block(dim, out, 4, 2, "none", "relu")
            dim = out
        # global average pooling, whatever the size left: (B, d, h, w) -> (B, d, 1, 1) -> (B, style_dim, 1, 1)
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, style_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)  # (B, style_dim)


class MLP(nn.Module):
    """style code -> AdaIN parameters: three linear layers with ReLU between (official `MLP`,
    n_blk 3, mlp_dim 256)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 256, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(n_layers - 1):
            layers += [nn.Linear(d, hidden), nn.ReLU(True)]
            d = hidden
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.net(s)


class AdaINDecoder(nn.Module):
    """(content (B, ch, h, w), style (B, style_dim)) -> image (B, C, h * 2**n_up, w * 2**n_up) in [-1, 1]."""

    def __init__(self, out_channels: int, content_channels: int, n_up: int = 2, n_res: int = 4,
                 style_dim: int = 8, mlp_dim: int = 256):
        super().__init__()
        dim = content_channels
        self.res = nn.Sequential(*[ResBlock(dim, "adain") for _ in range(n_res)])
        layers: list[nn.Module] = []
        for _ in range(n_up):  # (B, d, h, w) -> (B, d/2, 2h, 2w)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), *_block(dim, dim // 2, 5, 1, "ln", "relu")]
            dim //= 2
        layers += _block(dim, out_channels, 7, 1, "none", "tanh")
        self.up = nn.Sequential(*layers)
        self.adain = [m for m in self.res.modules() if isinstance(m, AdaptiveInstanceNorm2d)]
        self.mlp = MLP(style_dim, 2 * sum(m.channels for m in self.adain), mlp_dim)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        params = self.mlp(style)  # (B, 2 * sum of AdaIN channels): per layer, beta then gamma (official order)
        for m in self.adain:
            k = m.channels
            m.beta, m.gamma, params = params[:, :k], params[:, k:2 * k], params[:, 2 * k:]
        try:
            return self.up(self.res(content))
        finally:  # no tensor of this graph stays on the modules (they could not be copied or saved)
            for m in self.adain:
                m.beta = m.gamma = None


class MultiScaleDiscriminator(nn.Module):
    """A list of LSGAN outputs, one map per scale: the image, then 2x, 4x, ... smaller copies.

    Each scale's net has `n_layers` 4x4 stride-2 convs (width doubling from `dim`) and a 1x1 conv;
    where the copy is too small for all of them (32x32 images: the copies are 16x16 and 8x8), that
    scale keeps as many as leave at least a 2x2 map (log2(side) - 1), so the smallest scale still
    judges patches rather than an empty map."""

    def __init__(self, in_channels: int, size: int, dim: int = 64, n_layers: int = 4, n_scales: int = 3):
        super().__init__()
        self.nets = nn.ModuleList()
        for i in range(n_scales):
            side = size // 2**i
            n = max(1, min(n_layers, int(math.log2(max(side, 2))) - 1))
            d, layers = dim, _block(in_channels, dim, 4, 2, "none", "lrelu")
            for _ in range(n - 1):
                layers += _block(d, d * 2, 4, 2, "none", "lrelu")
                d *= 2
            layers.append(nn.Conv2d(d, 1, 1))
            self.nets.append(nn.Sequential(*layers))
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for net in self.nets:
            outs.append(net(x))
            x = self.down(x)
        return outs


def kaiming_init(module: nn.Module) -> None:
    """The official `weights_init('kaiming')`: conv and linear weights from He et al.'s normal
    (fan in, a = 0), biases 0. Use as `net.apply(kaiming_init)`."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, a=0, mode="fan_in")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
