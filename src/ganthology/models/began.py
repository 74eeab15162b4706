"""BEGAN: Boundary Equilibrium Generative Adversarial Networks. Berthelot, Schumm, Metz, 2017.
arXiv:1703.10717

The discriminator is an autoencoder, and the game is played on its reconstruction losses
L(v) = |v - D(v)|^eta (section 3.1, eq. 1; the paper's eta = 1, `eta` 2 the L2 loss): D lowers L
on real data and raises it on generated data, G lowers it on its samples. Instead of matching
samples, the two players match the distributions of these losses (a lower bound of their
Wasserstein distance, section 3.2). An equilibrium is kept with a proportional controller (section
3.4, eq. 4):

    L_D = L(x) - k_t L(G(z_D))
    L_G = L(G(z_G))
    k_{t+1} = k_t + lambda_k (gamma L(x) - L(G(z_G)))

where the diversity ratio gamma = E[L(G(z))] / E[L(x)] trades image diversity (high gamma) against
quality (low gamma). M_global = L(x) + |gamma L(x) - L(G(z_G))| measures convergence (section
3.4.1). k_t is a buffer: it is checkpointed and resumes exactly. The paper writes the three
updates for one step t from the same weights, so G's gradient is taken before D moves and D's fake
batch is drawn before G moves.

Networks (section 3.5, figure 1): ELU convolutions 3x3, two per resolution; the encoder sub-samples
with stride-2 convolutions and grows its filters linearly (n, 2n, 3n, ...) down to 8x8, then a
fully connected layer to the embedding h; the decoder, and the generator with the same
architecture, maps h (or z) to 8x8xn with a fully connected layer and up-samples by nearest
neighbours. Outputs are linear; samples are clamped to the image range. On vector data (the 2-D
toys) the same structure is made of ELU MLPs. Section 3.5.1's two optional refinements, which "help
gradient propagation", are options of the image networks: `vanishing_steps` (vanishing residuals:
around each same-sized convolution, in_{x+1} = carry in_x + (1 - carry) out_x, the carry falling
from 1 to 0 over that many steps; the paper's 16,000) and `skip` (after each up-sampling the
decoder's and G's tensor is concatenated with h_0, the first 8x8xn tensor, up-sampled to its size;
on by default, as it ended the collapse onto 1s on MNIST). Departures: the learning-rate halving "when the
measure of convergence stalls" (section 4.1) is left out (no stall rule is given); Adam's betas are
PyTorch's defaults, as the paper names none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..registry import register_model
from .base import DataInfo, GANModel, frozen


@dataclass
class BEGANConfig:
    BOUNDS: ClassVar[dict] = {"eta": (1, 2)}  # eq. 1's two exponents (config_fields.bounds)
    z_dim: int = 64  # N_z, uniform noise in [-1, 1]; section 4.1: N_h = N_z = 64 in most experiments
    h: int = 64  # N_h, the autoencoder's embedding size (section 3.5)
    # The next three are small-image defaults (docs/results.md, "Equal wall-clock budget": at 5
    # minutes of one core, before the skip connections, they scored FD 597-847 with 7-9 classes
    # over seeds 0-2, the paper's values 962 with 4); `--n 64 --gamma 0.5 --lambda-k 0.001` gives
    # the paper's.
    n: int = 16  # filters per conv (figure 1: 64, for 64x64 faces; the encoder grows them to 2n, 3n, ...); MLP width 2n
    gamma: float = 1.0  # diversity ratio (section 3.3, in [0, 1]; figures 2-3: 0.3, 0.5, 0.7); below 1, MNIST's 1s win
    lambda_k: float = 0.01  # proportional gain for k (section 3.4: "lambda_k = 0.001"); ten times that for short runs
    eta: int = 1  # eq. 1: L(v) = |v - D(v)|^eta, eta in {1, 2}; the paper uses 1 (2 drew one image on MNIST: docs/results.md)
    vanishing_steps: int = 0  # section 3.5.1: carry 1 -> 0 over this many steps ("16000 steps (one epoch)"); 0: none
    # On by default: at 5 minutes of one core it drew all 10 classes for each of seeds 0-2 (FD
    # 594-807) where the plain networks drew 5 (763; docs/results.md).
    skip: bool = True  # section 3.5.1: concatenate the up-sampled h_0 after each up-sampling (G and decoder); off: section 3.5's networks
    lr: float = 1e-4  # section 4.1: Adam, initial learning rate in [5e-5, 1e-4]
    beta1: float = 0.9  # Adam beta1 (the paper names none: PyTorch's default)
    beta2: float = 0.999  # Adam beta2
    batch_size: int = 16  # section 4.1


def _levels(image_size: int) -> int:
    n = math.log2(image_size)
    if image_size < 8 or n != int(n):
        raise GanthologyError(
            f"began needs square power-of-two images of at least 8x8, not {image_size}x{image_size}; "
            "set --image-size."
        )
    return int(n) - 3  # down-samplings from image_size to 8x8


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.ELU(inplace=True))


class VanishingResidual(nn.Module):
    """Section 3.5.1: around a same-sized layer, in_{x+1} = carry * in_x + (1 - carry) * out_x. The
    carry is a buffer (checkpointed, averaged by --ema like BatchNorm's statistics) that
    BEGAN.train_step lowers from 1 to 0; at 1 the layer is skipped, at 0 it is a plain layer."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer
        self.register_buffer("carry", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.lerp(self.layer(x), x, self.carry)


def _same_sized(c: int, vanishing: bool) -> nn.Module:
    return VanishingResidual(_conv(c, c)) if vanishing else _conv(c, c)


class ConvEncoder(nn.Module):
    """(B, C, s, s) -> (B, h): per level two 3x3 convs and a stride-2 conv that adds n filters."""

    def __init__(self, channels: int, image_size: int, n: int, h: int, vanishing: bool = False):
        super().__init__()
        levels = _levels(image_size)
        layers = [_conv(channels, n)]
        for i in range(levels):  # (B, (i+1)n, s, s) -> (B, (i+2)n, s/2, s/2)
            c = (i + 1) * n
            layers += [_same_sized(c, vanishing), _same_sized(c, vanishing), _conv(c, c + n, stride=2)]
        top = (levels + 1) * n
        layers += [_same_sized(top, vanishing), _same_sized(top, vanishing)]
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(top * 8 * 8, h)  # (B, top * 64) -> (B, h), no non-linearity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.net(x).flatten(start_dim=1))


class ConvDecoder(nn.Module):
    """(B, h) -> (B, C, s, s): fc to h_0 (8x8xn), then per level two 3x3 convs, the first after a
    nearest up-sampling (and with `skip`, after concatenating h_0 up-sampled to the same size).
    The generator is one of these too (figure 1: same architecture, its own weights)."""

    def __init__(self, h: int, channels: int, image_size: int, n: int, vanishing: bool = False,
                 skip: bool = False):
        super().__init__()
        self.n, self.skip = n, skip
        self.fc = nn.Linear(h, n * 8 * 8)
        self.blocks = nn.ModuleList()
        for level in range(_levels(image_size) + 1):  # 8x8, then each doubling up to image_size
            first = _conv(2 * n, n) if skip and level > 0 else _same_sized(n, vanishing)
            self.blocks.append(nn.Sequential(first, _same_sized(n, vanishing)))
        self.out = nn.Conv2d(n, channels, 3, 1, 1)  # linear output

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h0 = x = self.fc(h).view(h.shape[0], self.n, 8, 8)
        for level, block in enumerate(self.blocks):
            if level > 0:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
                if self.skip:
                    x = torch.cat([x, F.interpolate(h0, size=x.shape[-2:], mode="nearest")], dim=1)
            x = block(x)
        return self.out(x)


def _mlp(n_in: int, width: int, n_out: int) -> nn.Sequential:
    """Two ELU hidden layers and a linear output: the vector-data stand-in for the conv stacks."""
    return nn.Sequential(nn.Linear(n_in, width), nn.ELU(inplace=True), nn.Linear(width, width),
                         nn.ELU(inplace=True), nn.Linear(width, n_out))


class Autoencoder(nn.Module):
    """BEGAN's discriminator: D(v) = decoder(encoder(v)), the same shape as v."""

    def __init__(self, data: DataInfo, cfg: BEGANConfig):
        super().__init__()
        n, h = cfg.n, cfg.h
        if data.is_vector:
            self.encoder, self.decoder = _mlp(data.dim, 2 * n, h), _mlp(h, 2 * n, data.dim)
        else:
            vanishing = cfg.vanishing_steps > 0
            self.encoder = ConvEncoder(data.channels, data.image_size, n, h, vanishing)
            self.decoder = ConvDecoder(h, data.channels, data.image_size, n, vanishing, cfg.skip)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(v))


@register_model("began")
class BEGAN(GANModel):
    paper = "BEGAN: Boundary Equilibrium Generative Adversarial Networks. Berthelot et al., 2017. arXiv:1703.10717"
    year = 2017
    default_dataset = "mnist"
    Config = BEGANConfig

    def __init__(self, cfg: BEGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        if cfg.vanishing_steps < 0:
            raise GanthologyError("began needs --vanishing-steps >= 0 (0 turns the vanishing residuals off).")
        if data.is_vector:
            self.G = _mlp(cfg.z_dim, 2 * cfg.n, data.dim)
        else:
            self.G = ConvDecoder(cfg.z_dim, data.channels, data.image_size, cfg.n, cfg.vanishing_steps > 0, cfg.skip)
        self.D = Autoencoder(data, cfg)
        # k_0 = 0 (section 3.4): D first learns to reconstruct real data only
        self.register_buffer("k", torch.zeros(()))

    z_in_unit_box = True  # uniform noise
    augments_itself = True  # --augment: D reconstructs T(v) and is scored against T(v)

    def noise(self, n: int, device=None) -> torch.Tensor:
        device = device if device is not None else self.device
        return torch.rand(n, self.cfg.z_dim, device=device) * 2 - 1  # uniform in [-1, 1]

    def recon_loss(self, v: torch.Tensor) -> torch.Tensor:
        """L(v) = |v - D(v)|^eta (eq. 1), averaged over elements and the batch. Under --augment, of
        the transformed T(v), so that the autoencoder is scored against what it was given."""
        v = self.augmented(v)
        err = (v - self.D(v)).abs()
        return (err if self.cfg.eta == 1 else err.square()).mean()

    def train_step(self, batch, step):
        x = batch["x"]
        c = self.cfg
        if c.vanishing_steps:  # section 3.5.1: the carry falls linearly from 1 to 0
            carry = max(0.0, 1.0 - step / c.vanishing_steps)
            for m in self.modules():
                if isinstance(m, VanishingResidual):
                    m.carry.fill_(carry)
        with torch.no_grad():
            fake_D = self.G(self.noise(x.shape[0], x.device))  # G(z_D), drawn before G moves
        # G: minimize L(G(z_G)), its gradient taken at D's weights of step t
        with frozen(self.D):
            loss_G = self.recon_loss(self.G(self.noise(x.shape[0], x.device)))
        self.update("G", loss_G)
        # D: minimize L(x) - k_t L(G(z_D))
        loss_real = self.recon_loss(x)
        loss_D = loss_real - self.k * self.recon_loss(fake_D)
        self.update("D", loss_D)
        # eq. 4: k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1), from losses averaged
        # over processes so that every rank keeps the same k
        real, fake = self.mean_across_processes(torch.stack([loss_real.detach(), loss_G.detach()]).float())
        balance = c.gamma * real - fake
        self.k.add_(c.lambda_k * balance).clamp_(0.0, 1.0)
        M = real + balance.abs()  # M_global (section 3.4.1)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(), "k": self.k.clone(), "M": M}

    def generate(self, z: torch.Tensor, **cond) -> torch.Tensor:
        x = self.G(z)
        return x if self.data.is_vector else x.clamp(-1, 1)  # linear output, clamped to image range
