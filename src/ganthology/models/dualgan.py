"""DualGAN: Unsupervised Dual Learning for Image-to-Image Translation. Yi, Zhang, Tan, Gong, 2017.
arXiv:1704.02510

Dual learning, as in machine translation: a primal GAN learns G_A: U -> V and a dual GAN learns
G_B: V -> U from two unpaired image sets, and each translation, translated back, must recover its
input. D_A tells real members of V from G_A's outputs and D_B real U from G_B's (section 3.1). The
discriminators are WGAN critics (raw scores, weights clipped to [-c, c] after each update, RMSProp,
n_critic critic steps per generator step: section 3.1 and algorithm 1, after Arjovsky et al.), and
the generators minimise eq. 3:
    l_g(u, v) = lambda_U ||u - G_B(G_A(u))||_1 + lambda_V ||v - G_A(G_B(v))||_1 - D_A(G_B(v)) - D_B(G_A(u))
(the paper's D names are swapped against the text; here D_B judges domain B = V, D_A domain A = U).
Both recovery errors are L1 (section 3.1: L2 blurs), with lambda in [100, 1000] (section 3.1).

Networks (section 3.2): a U-Net generator (pix2pix's, skip connections between mirrored layers;
`nn.UNetGenerator`, whose depth follows the image size: 5 levels for 32x32 instead of 8 for 256x256)
and a PatchGAN critic (70x70 patches at 256x256; for images below 64x64 two stride-2 layers instead
of three, a 34x34 field). The critic has no normalisation by default. The PyTorch-GAN script's
BatchNorm2d(C, 0.8) sets eps = 0.8 (not momentum), and batch statistics make each score depend on
the other images of the batch, which the gradient penalty's per-sample gradients cannot tolerate.
The official code (duxingren14/DualGAN) normalises each image over its own maps (ops.py `batch_norm`:
moments over height and width, eps 1e-6; the 2017 code's batch norm at its batch size 1 computes
the same) and clips the norm's scale and shift with the weights: `d_norm="instance"` here. Measured,
it makes clipping weaker, not stronger: with every scale clipped to c, the critic's output cannot
grow (FD 538 against 423 without it at c 0.1, lambda 100, 1,000 steps, seed 0; neutral at c 0.01).

Objective: WGAN-GP (`gan="wgan-gp"`, lambda_gp 10), the official code's later default (GAN_type
"wgan-gp", gamma 10) and the PyTorch-GAN script's (commit ee8cd36), with the paper's RMSProp, not the
paper's weight clipping (`gan="wgan"`, one flag away). Why: on edges2mnistm (edge maps of MNIST
digits <-> the digits over photo patches, ngf/ndf 32, seed 0) clipping collapsed: after 5,500 steps
every edge map became the same figure (11.2% of translations kept their digit, chance 10%; FD 726 in
mnistm-lenet features; cycle L1 0.65), while with the penalty 4,000 steps keep 88.3% (FD 274, cycle
L1 0.15). What follows was measured with clipping, before that switch. Kept from the paper: RMSProp 5e-5, n_critic 2 (the paper's 2-4),
batch 4 (its 1-4). Chosen inside the paper's ranges by measurement (digits2photo, the learning
test's small networks, seed 0): c = 0.1 (the top of its [0.01, 0.1]; the official code's 0.01)
and lambda 100 (the bottom of its [100, 1000]; the official code's 200, later 500). The critic's
scale under clipping is set by c and its architecture, while lambda x the mean L1 per pixel grows
as the image shrinks, so the balance the paper tuned at 256x256 does not carry to 32x32: at c 0.01,
lambda 500 the critic's gradient on G's output was 1/35 of the recovery's after 1,000 steps (1/400
with a normalised critic), G_AB copied the grey digit and G_BA kept a grey copy of the photo patch,
and FD of B -> A translations stayed at 495-564 from 1,000 to 6,000 steps (the identity's 261;
batch or instance norm in the critic, lambda 100 alone, a critic learning rate 5x G's, a global
linear critic head as the official code's, or the penalty: all 533-598 at 1,000-4,000 steps).
c 0.1 alone gave 447 at 1,000 steps; c 0.1 with lambda 100, 423 at 1,000 and 317 at 4,000 (lambda
200: 427 and 364), with G_BA's outputs now white strokes on black. Still missing: G_BA keeps the
digit's class only at chance on two seeds of three (B carries a random photo that the B -> A -> B
loop must recover, which pays G_BA to hide it rather than draw the digit cleanly), and the critics
alone are slow: without any recovery term (lambda 0) FD reaches only 670 after 4,000 steps.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..losses import gradient_penalty, wasserstein_d_loss, wasserstein_g_loss
from ..nn import UNetGenerator, dcgan_init
from ..registry import register_model
from .base import DataInfo, frozen
from .two_domain import TwoDomainModel


@dataclass
class DualGANConfig:
    lambda_A: float = 100.0  # eq. 3: lambda_U, weight of ||a - G_BA(G_AB(a))||_1; section 3.1: [100, 1000] (official code 200, later 500; measured: docstring)
    lambda_B: float = 100.0  # eq. 3: lambda_V, weight of ||b - G_AB(G_BA(b))||_1; as lambda_A
    gan: str = "wgan-gp"  # official code (later default) and PyTorch-GAN: WGAN-GP; "wgan": section 3.1 weight clipping (collapses, docstring)
    clip_value: float = 0.1  # algorithm 1: c, "normally in [0.01, 0.1]" (official code 0.01; measured: docstring)
    lambda_gp: float = 10.0  # gan="wgan-gp" only: official code gamma = 10 (Gulrajani et al.)
    n_critic: int = 2  # section 3.3: critic iterations per generator iteration, 2-4
    lr: float = 5e-5  # algorithm 1: RMSProp, alpha = 0.00005
    rms_alpha: float = 0.9  # official code: TensorFlow RMSProp decay 0.9
    ngf: int = 64  # section 3.2: pix2pix's U-Net, 64 filters in the first layer
    ndf: int = 64  # section 3.2: PatchGAN critic C64-C128-C256-C512
    d_layers: int = 0  # stride-2 critic layers (3 = 70x70 patches, section 3.2); 0 = 3 from 64x64 up, 2 below
    dropout: float = 0.0  # section 3.1: noise z as dropout, which the official code turns off (dropout_rate 0)
    batch_size: int = 4  # section 3.3: batch size 1-4
    d_norm: str = "none"  # section 3.2 (pix2pix's PatchGAN); "instance": the official code's per-image norm (ops.py batch_norm, moments over H, W), measured weaker (docstring)


class PatchCritic(nn.Module):
    """The PatchGAN of pix2pix (C64-C128-...-C512, 4x4 convolutions, LeakyReLU 0.2, the last stride-2
    layer replaced by stride 1, then a 1-channel convolution) as a WGAN critic. `norm="instance"`
    normalises every layer but the first over each image's own feature maps with a learned scale and
    shift, as the official code's discriminator does (`batch_norm` in ops.py takes the moments over
    height and width only); `"none"` leaves it out. Either way the score of one image does not depend
    on the rest of the batch, which the gradient penalty's per-sample gradients need."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = ndf
        for i in range(1, n_layers + 1):  # stride 2 for the first n_layers - 1, then stride 1
            out = ndf * min(2**i, 8)
            layers.append(nn.Conv2d(ch, out, 4, 2 if i < n_layers else 1, 1))
            if norm == "instance":
                layers.append(nn.InstanceNorm2d(out, eps=1e-6, affine=True))  # official ops.py: eps 1e-6
            layers.append(nn.LeakyReLU(0.2, True))
            ch = out
        layers.append(nn.Conv2d(ch, 1, 4, 1, 1))  # (B, C, h, w) -> (B, 1, h-1, w-1) patch scores
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@register_model("dualgan")
class DualGAN(TwoDomainModel):
    paper = "DualGAN: Unsupervised Dual Learning for Image-to-Image Translation. Yi et al., 2017. arXiv:1704.02510"
    year = 2017
    Config = DualGANConfig
    sampling_modules = ("G_AB", "G_BA")

    def __init__(self, cfg: DualGANConfig, data: DataInfo):
        super().__init__(cfg, data)  # the domains' keys, channels and size (models/two_domain.py)
        if cfg.d_norm not in ("instance", "none"):
            raise GanthologyError(f"dualgan's d_norm is 'instance' (the official code's) or 'none', not {cfg.d_norm!r}.")
        if cfg.gan not in ("wgan", "wgan-gp"):
            raise GanthologyError(f"dualgan's gan is 'wgan' (the paper's clipping) or 'wgan-gp', not {cfg.gan!r}.")
        s = self.size
        if s < 16 or s & (s - 1):  # below 16 the critic's maps shrink under its 4x4 kernels
            raise GanthologyError(f"dualgan's U-Net halves the image down to 1x1; use a power-of-two image size of "
                                  f"at least 16, not {s}.")
        self.size_multiple = s  # the U-Net goes down to 1x1 at the training size
        n_drop = 3 if cfg.dropout > 0 else 0
        self.G_AB = UNetGenerator(self.c_A, self.c_B, s, cfg.ngf, dropout=cfg.dropout, n_dropout=n_drop)
        self.G_BA = UNetGenerator(self.c_B, self.c_A, s, cfg.ngf, dropout=cfg.dropout, n_dropout=n_drop)
        d_layers = cfg.d_layers or (3 if s >= 64 else 2)
        self.D_A = PatchCritic(self.c_A, cfg.ndf, d_layers, cfg.d_norm)  # judges domain A (the paper's D_B)
        self.D_B = PatchCritic(self.c_B, cfg.ndf, d_layers, cfg.d_norm)
        self.apply(dcgan_init)  # pix2pix's N(0, 0.02), as its U-Net and PatchGAN are used

    def optimizers(self):
        c = self.cfg
        # section 3.3: RMSProp ("momentum-based methods such as Adam would occasionally cause instability")
        return {"G": torch.optim.RMSprop(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()),
                                         lr=c.lr, alpha=c.rms_alpha),
                "D": torch.optim.RMSprop(itertools.chain(self.D_A.parameters(), self.D_B.parameters()),
                                         lr=c.lr, alpha=c.rms_alpha)}

    @torch.no_grad()
    def clip_critics(self) -> None:
        """Algorithm 1: w <- clip(w, -c, c) for every critic parameter, after each critic update; the
        normalisation's scale and shift too, as the official code clips all of the critic's variables."""
        for p in itertools.chain(self.D_A.parameters(), self.D_B.parameters()):
            p.clamp_(-self.cfg.clip_value, self.cfg.clip_value)

    def train_step(self, batch, step):
        # One trainer step = one critic step; every n_critic-th step the generators also take theirs
        # (algorithm 1; the official code steps G when step % n_critic == 0).
        c = self.cfg
        real_A, real_B = batch[self.key_A], batch[self.key_B]
        with torch.no_grad():
            fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
        # critics: maximise E[D(real)] - E[D(fake)] (eq. 1-2)
        loss_D_A = wasserstein_d_loss(self.D_A(real_A), self.D_A(fake_A))
        loss_D_B = wasserstein_d_loss(self.D_B(real_B), self.D_B(fake_B))
        out = {"wasserstein_A": -loss_D_A.detach(), "wasserstein_B": -loss_D_B.detach()}
        loss_D = loss_D_A + loss_D_B
        if c.gan == "wgan-gp":
            gp = gradient_penalty(self.D_A, real_A, fake_A) + gradient_penalty(self.D_B, real_B, fake_B)
            loss_D = loss_D + c.lambda_gp * gp
            out["gp"] = gp.detach()
        self.update("D", loss_D)
        if c.gan == "wgan":
            self.clip_critics()
        if (step + 1) % c.n_critic == 0:
            with frozen(self.D_A, self.D_B):
                fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
                rec_A = F.l1_loss(self.G_BA(fake_B), real_A)  # eq. 3: ||u - G_B(G_A(u))||_1
                rec_B = F.l1_loss(self.G_AB(fake_A), real_B)
                loss_gan = wasserstein_g_loss(self.D_B(fake_B)) + wasserstein_g_loss(self.D_A(fake_A))
                loss_G = loss_gan + c.lambda_A * rec_A + c.lambda_B * rec_B
            self.update("G", loss_G)
            out |= {"loss_G": loss_gan.detach(), "loss_recon": (rec_A + rec_B).detach()}
        return out
