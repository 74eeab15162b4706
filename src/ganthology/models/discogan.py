"""Learning to Discover Cross-Domain Relations with Generative Adversarial Networks. Kim, Cha, Kim,
Lee, Kim, 2017. arXiv:1703.05192

Two GANs coupled into a loop learn a relation between two domains from unpaired images. G_AB maps A
to B and is judged by D_B; G_BA maps B to A and is judged by D_A; each translation is mapped back
and must reconstruct its input (section 3.2, eq. 3-5): L_G_AB = L_GAN_B + L_CONST_A with L_CONST_A
= d(G_BA(G_AB(x_A)), x_A), and symmetrically for B, where d is a distance (the official code uses
the mean squared error). The reconstruction in both directions is what makes the mapping a
bijection and keeps it from collapsing to a few modes (section 3, figure 2-3). The GAN losses are
the standard cross-entropy ones; nothing compares a translation with a paired image: the two
domains are drawn independently (the PyTorch-GAN script adds an L1 loss between G_AB(A) and the B
of the same edges2shoes file, supervision the paper does not use; its issue #90).

Networks (section 4.1, official model.py): G is an encoder of 4x4 stride-2 convolutions with
LeakyReLU 0.2 and BatchNorm (not on the first) down to 4x4, then a decoder of 4x4 stride-2
transposed convolutions with BatchNorm and ReLU back to the image; D is the encoder plus a last 4x4
convolution to one logit (the paper's sigmoid lives inside the BCE-with-logits loss). The paper's
64x64 networks have four downsamplings; here the depth follows the image size (log2(size) - 2
downsamplings, so 32x32 images get three and still reach 4x4), and the output is Tanh for images in
[-1, 1] instead of the official code's sigmoid for [0, 1].

Extras of the official code (SKTBrain/DiscoGAN, image_translation.py) that the paper does not
describe:
- `fm_weight`: its GAN term is 0.1 x BCE + 0.9 x feature matching (squared difference of the batch
  means of D's intermediate features, Salimans et al. 2016); ON by default;
- `d_every`: it steps D on every 3rd iteration and G on the other two (the paper alternates); ON by
  default;
- `curriculum_steps`, `curriculum_rate`: its reconstruction weight is 0.01 (GAN 0.99) for the first
  10,000 iterations, then 0.5 (`recon_rate`, which with GAN 0.5 is the paper's equal weighting); off
  by default (it is sized for the official code's long runs).
Its Adam weight decay of 1e-5 is kept. Why the first two are on: with the paper's objective alone,
G_AB collapsed on edges2mnistm (edge maps of MNIST digits -> the digits over photo patches; half
width, 2,200 steps of batch 64, seed 0): every edge map became much the same "9"-like figure on a
photo (11.6% of translations kept their digit, chance 10%; FD 626 in mnistm-lenet features) while
G_BA still reconstructed the input from it (cycle L1 0.47: the digit travelled hidden in the
translation). With the official code's feature matching and D every 3rd step, the same run keeps
87.1% of digits (FD 73, cycle L1 0.22). On digits2photo at 600 steps the extras had made no
difference (cycle error 0.35 against 0.38, FD of B->A translations 144 against 128).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import dcgan_init
from ..registry import register_model
from .base import DataInfo, frozen
from .two_domain import TwoDomainModel


@dataclass
class DiscoGANConfig:
    ngf: int = 64  # section 4.1 / official model.py: G's first encoder layer has 64 filters, doubling per layer (64-128-256-512)
    ndf: int = 64  # section 4.1 / official model.py: D as G's encoder, 64-128-256-512, then one logit
    recon: str = "mse"  # section 3.2: d is any distance (MSE, cosine, hinge); the official code uses MSE ("mse" | "l1")
    recon_rate: float = 0.5  # eq. 5: L_G = L_GAN + L_CONST, equal weights; the official code's (1 - r) GAN + r recon with r = 0.5
    fm_weight: float = 0.9  # official code: GAN term = (1 - w) BCE + w feature matching; 0 = the paper's BCE (collapses, see above)
    curriculum_steps: int = 0  # official code only: 10000 first steps with recon weight curriculum_rate; 0 = none (the paper)
    curriculum_rate: float = 0.01  # official code: recon weight 0.01 (GAN 0.99) during the curriculum
    d_every: int = 3  # official code: D on every 3rd step, G on the others; 1 = D and G on every step (the paper)
    lr: float = 2e-4  # section 4 / official code: Adam, learning rate 0.0002
    beta1: float = 0.5  # official code: Adam betas (0.5, 0.999)
    beta2: float = 0.999  # official code
    weight_decay: float = 1e-5  # official code: Adam weight decay 0.00001
    batch_size: int = 64  # official code: batch size 64


def _depth(size: int) -> int:
    """Stride-2 layers that take a size x size image down to 4x4 (4 for the paper's 64x64)."""
    n = math.log2(size) if size > 0 else 0
    if size < 8 or n != int(n):
        raise GanthologyError(f"discogan's networks halve the image down to 4x4; use a power-of-two image size "
                              f"of at least 8, not {size}.")
    return int(n) - 2


class DiscoGenerator(nn.Module):
    """Section 4.1: encoder of 4x4 stride-2 convolutions, LeakyReLU 0.2, BatchNorm from the second layer,
    down to 4x4; decoder of 4x4 stride-2 transposed convolutions with BatchNorm and ReLU; Tanh out."""

    def __init__(self, c_in: int, c_out: int, size: int, ngf: int = 64):
        super().__init__()
        n = _depth(size)
        chs = [ngf * min(2**i, 8) for i in range(n)]
        layers: list[nn.Module] = [nn.Conv2d(c_in, chs[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for i in range(1, n):  # (B, c_{i-1}, s, s) -> (B, c_i, s/2, s/2)
            layers += [nn.Conv2d(chs[i - 1], chs[i], 4, 2, 1, bias=False), nn.BatchNorm2d(chs[i]), nn.LeakyReLU(0.2, True)]
        for i in range(n - 1, 0, -1):  # (B, c_i, s, s) -> (B, c_{i-1}, 2s, 2s)
            layers += [nn.ConvTranspose2d(chs[i], chs[i - 1], 4, 2, 1, bias=False), nn.BatchNorm2d(chs[i - 1]), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(chs[0], c_out, 4, 2, 1, bias=False), nn.Tanh()]  # -> (B, c_out, size, size)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DiscoDiscriminator(nn.Module):
    """Section 4.1: G's encoder (down to 4x4) and a 4x4 convolution to one logit. Returns the logits and
    the features after each BatchNorm-LeakyReLU block (for the official code's feature matching)."""

    def __init__(self, c_in: int, size: int, ndf: int = 64):
        super().__init__()
        n = _depth(size)
        chs = [ndf * min(2**i, 8) for i in range(n)]
        self.first = nn.Sequential(nn.Conv2d(c_in, chs[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chs[i - 1], chs[i], 4, 2, 1, bias=False), nn.BatchNorm2d(chs[i]), nn.LeakyReLU(0.2, True))
            for i in range(1, n))
        self.last = nn.Conv2d(chs[-1], 1, 4, 1, 0, bias=False)  # (B, c, 4, 4) -> (B, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = self.first(x)
        feats = []
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        return self.last(h).flatten(), feats


def feature_matching(real_feats: list[torch.Tensor], fake_feats: list[torch.Tensor]) -> torch.Tensor:
    """The official code's feature matching: for each layer, the mean over units of the squared
    difference between the batch means of D's features on real and generated images, summed over
    layers (its HingeEmbeddingLoss with target 1 is the plain mean)."""
    return sum(((r.mean(0) - f.mean(0)) ** 2).mean() for r, f in zip(real_feats, fake_feats))


@register_model("discogan")
class DiscoGAN(TwoDomainModel):
    paper = ("Learning to Discover Cross-Domain Relations with Generative Adversarial Networks. Kim et al., 2017. "
             "arXiv:1703.05192")
    year = 2017
    Config = DiscoGANConfig
    sampling_modules = ("G_AB", "G_BA")

    def __init__(self, cfg: DiscoGANConfig, data: DataInfo):
        super().__init__(cfg, data)  # the domains' keys, channels and size (models/two_domain.py)
        if cfg.recon not in ("mse", "l1"):
            raise GanthologyError(f"discogan's recon is 'mse' or 'l1', not {cfg.recon!r}.")
        if cfg.d_every < 1:
            raise GanthologyError(f"discogan's d_every must be 1 or more, not {cfg.d_every}.")
        self.size_multiple = 2 ** _depth(self.size)  # the networks halve the image down to 4x4
        self.G_AB = DiscoGenerator(self.c_A, self.c_B, self.size, cfg.ngf)
        self.G_BA = DiscoGenerator(self.c_B, self.c_A, self.size, cfg.ngf)
        self.D_A = DiscoDiscriminator(self.c_A, self.size, cfg.ndf)
        self.D_B = DiscoDiscriminator(self.c_B, self.size, cfg.ndf)
        self.apply(dcgan_init)  # the official code keeps PyTorch's init; DCGAN's N(0, 0.02), as the nets are DCGAN's

    def optimizers(self):
        c = self.cfg
        kw = dict(lr=c.lr, betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)
        # one Adam for both generators and one for both discriminators, as the official code
        return {"G": torch.optim.Adam(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()), **kw),
                "D": torch.optim.Adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), **kw)}

    def recon_rate(self, step: int) -> float:
        """The weight r of the reconstruction in (1 - r) GAN + r recon: the official code's curriculum
        (curriculum_rate for the first curriculum_steps), then recon_rate."""
        c = self.cfg
        return c.curriculum_rate if step < c.curriculum_steps else c.recon_rate

    def generator_loss(self, real_A: torch.Tensor, real_B: torch.Tensor, step: int = 0):
        """Eq. 5: L_G = L_G_AB + L_G_BA, each a GAN term and a reconstruction. Returns the loss, the
        translations (for D's step) and the terms to log. Nothing here pairs real_A[i] with real_B[i]."""
        c = self.cfg
        dist = F.mse_loss if c.recon == "mse" else F.l1_loss
        fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
        recon_A = dist(self.G_BA(fake_B), real_A)  # eq. 3: L_CONST_A
        recon_B = dist(self.G_AB(fake_A), real_B)
        with frozen(self.D_A, self.D_B):
            logit_B, feats_fake_B = self.D_B(fake_B)
            logit_A, feats_fake_A = self.D_A(fake_A)
            gan = g_loss_nonsaturating(logit_B) + g_loss_nonsaturating(logit_A)  # eq. 4: -E log D_B(G_AB(x_A))
            if c.fm_weight > 0:  # the official code's mix (not in the paper)
                fm = (feature_matching(self.D_B(real_B)[1], feats_fake_B)
                      + feature_matching(self.D_A(real_A)[1], feats_fake_A))
                gan = (1 - c.fm_weight) * gan + c.fm_weight * fm
        r = self.recon_rate(step)
        loss = (1 - r) * gan + r * (recon_A + recon_B)
        return loss, fake_A, fake_B, {"loss_G": gan.detach(), "loss_recon": (recon_A + recon_B).detach()}

    def train_step(self, batch, step):
        c = self.cfg
        real_A, real_B = batch[self.key_A], batch[self.key_B]  # drawn independently: unpaired
        d_only = c.d_every > 1 and step % c.d_every == 0  # the official code: D alone on every 3rd step
        out = {}
        if d_only:
            with torch.no_grad():
                fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
        else:
            loss_G, fake_A, fake_B, out = self.generator_loss(real_A, real_B, step)
            self.update("G", loss_G)
        if c.d_every == 1 or d_only:
            # standard GAN discriminators, real against the latest translations (eq. 4 / official code)
            loss_D_A = d_loss_bce(self.D_A(real_A)[0], self.D_A(fake_A.detach())[0])
            loss_D_B = d_loss_bce(self.D_B(real_B)[0], self.D_B(fake_B.detach())[0])
            self.update("D", loss_D_A + loss_D_B)
            out |= {"loss_D_A": loss_D_A.detach(), "loss_D_B": loss_D_B.detach()}
        return out
