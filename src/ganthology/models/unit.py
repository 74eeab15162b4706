"""Unsupervised Image-to-Image Translation Networks. Liu, Breuel, Kautz, 2017. arXiv:1703.00848

UNIT assumes a shared latent space: an image of domain A and its counterpart in domain B come from
one code z (section 2). Each domain has a VAE-GAN: an encoder E_A gives q(z|x_A) = N(E_A(x_A), I)
(unit variance: the encoder gives only the mean), a generator G_A decodes z into an image of A, a
discriminator D_A tells real images of A from translations into A. The shared space is enforced by
weight sharing: the LAST layers of E_A and E_B are one and the same module, and so are the FIRST
layers of G_A and G_B (section 2, "weight-sharing constraint"). Translating A to B is G_B(z) with
z ~ q(z|x_A). The objective (eq. 2) sums, for both domains, the VAE loss (eq. 3: lambda_1 KL +
lambda_2 L1 reconstruction), the GAN loss on translations (eq. 4, weight lambda_0) and the
cycle-consistency loss (eq. 5: lambda_3 KL of both codes on the way + lambda_4 L1 of the image
brought back), minimised by the encoders and generators and maximised by the discriminators.

With unit variance the KL term reduces to mean(mu^2) up to constants (the official code's
`_compute_kl`). The noise of the reparameterisation z = mu + eps comes from torch's generator, so
seeding torch makes a run repeatable (the PyTorch-GAN script draws it with np.random). At use
(`translate`, the held-out numbers, the preview) the code is the mean, z = E(x), with no noise, as
the official code does in eval mode: UNIT is one-to-one, not multimodal.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import ResidualBlock, dcgan_init
from ..registry import register_model
from .base import DataInfo, frozen
from .two_domain import TwoDomainModel


@dataclass
class UNITConfig:
    lambda_0: float = 10.0  # section 3 (eq. 2-5), official config gan_w: weight of the GAN losses
    lambda_1: float = 0.1  # section 3, official kl_direct_link_w: KL of q(z|x) in the VAE loss (eq. 3)
    lambda_2: float = 100.0  # section 3, official ll_direct_link_w: L1 reconstruction in the VAE loss (eq. 3)
    lambda_3: float = 0.1  # section 3, official kl_cycle_link_w: KL of both codes in the cycle loss (eq. 5)
    lambda_4: float = 100.0  # section 3, official ll_cycle_link_w: L1 of the image brought back (eq. 5)
    ngf: int = 64  # appendix / official COCOResGen ch: filters of the first encoder layer (x2 per downsampling)
    n_res: int = 3  # official n_enc_res_blk = n_gen_res_blk: domain-specific residual blocks in each E and G
    n_shared: int = 1  # official n_enc_shared_blk = n_gen_shared_blk: shared residual blocks (last of E, first of G)
    ndf: int = 64  # official COCODis ch: filters of D's first layer (x2 per layer)
    d_layers: int = 0  # official COCODis n_layer 6 at 256x256: stride-2 layers; 0 = down to a 4x4 map (3 at 32x32)
    lr: float = 1e-4  # section 4: Adam, learning rate 0.0001
    beta1: float = 0.5  # section 4: Adam (beta1, beta2) = (0.5, 0.999)
    beta2: float = 0.999  # section 4
    weight_decay: float = 1e-4  # official cocogan_trainer.py: Adam weight decay 0.0001 for all networks
    batch_size: int = 1  # section 4 and the official configs: one image per domain per step


# --- the networks (section 2; sizes from the official COCOResGen / COCODis) -------------------------
class UNITEncoderFront(nn.Module):
    """The domain-specific part of an encoder: c7s1-ngf with LeakyReLU and no normalisation, two 3x3
    stride-2 convolutions with instance norm and ReLU, then `n_res` residual blocks.
    (B, C, H, W) -> (B, 4 ngf, H/4, W/4). C is the domain's channel count (1 or 3), taken from the data."""

    def __init__(self, in_channels: int, ngf: int, n_res: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ngf, 7, 1, 3), nn.LeakyReLU(0.01, True)]
        ch = ngf
        for _ in range(2):  # (B, ch, H, W) -> (B, 2ch, H/2, W/2)
            layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1), nn.InstanceNorm2d(ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [ResidualBlock(ch, "instance", padding="zeros") for _ in range(n_res)]
        self.net = nn.Sequential(*layers)
        self.out_channels = ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class UNITGeneratorBack(nn.Module):
    """The domain-specific part of a generator: `n_res` residual blocks, two 3x3 stride-2 transposed
    convolutions with instance norm and ReLU, a 1x1 convolution to the domain's channels and a Tanh.
    (B, 4 ngf, H/4, W/4) -> (B, C, H, W) in [-1, 1]."""

    def __init__(self, out_channels: int, ch: int, n_res: int):
        super().__init__()
        layers: list[nn.Module] = [ResidualBlock(ch, "instance", padding="zeros") for _ in range(n_res)]
        for _ in range(2):  # (B, ch, h, w) -> (B, ch/2, 2h, 2w)
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(ch // 2),
                       nn.ReLU(True)]
            ch //= 2
        layers += [nn.Conv2d(ch, out_channels, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def shared_blocks(ch: int, n: int) -> nn.Sequential:
    """The shared high-level layers: `n` residual blocks at the code's resolution."""
    return nn.Sequential(*[ResidualBlock(ch, "instance", padding="zeros") for _ in range(n)])


def d_depth(size: int) -> int:
    """Stride-2 layers that bring a `size` image down to a 4x4 map: 6 at 256 (the official n_layer), 3 at 32."""
    n = 0
    while size > 4 and size % 2 == 0:
        size //= 2
        n += 1
    return max(n, 1)


class UNITDiscriminator(nn.Module):
    """Official COCODis: `n_layers` 3x3 stride-2 convolutions with LeakyReLU and no normalisation,
    ndf filters doubling per layer, then a 1x1 convolution to one logit per position.
    (B, C, H, W) -> (B, 1, H / 2^n, W / 2^n). Single scale, as in the paper."""

    def __init__(self, in_channels: int, ndf: int, n_layers: int):
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, ch = in_channels, ndf
        for _ in range(n_layers):
            layers += [nn.Conv2d(ch_in, ch, 3, 2, 1), nn.LeakyReLU(0.01, True)]
            ch_in, ch = ch, ch * 2
        layers.append(nn.Conv2d(ch_in, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def kl_unit_variance(mu: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, I) || N(0, I)) = 1/2 sum mu^2; as the official code, the mean of mu^2 over all
    entries (the factor and the normalisation are folded into lambda_1 and lambda_3)."""
    return (mu**2).mean()


@register_model("unit")
class UNIT(TwoDomainModel):
    paper = "Unsupervised Image-to-Image Translation Networks. Liu, Breuel, Kautz, 2017. arXiv:1703.00848"
    year = 2017
    Config = UNITConfig
    size_multiple = 4  # two stride-2 layers in each encoder
    #: E_A, E_B and G_A, G_B are the domain-specific parts; E_shared and G_shared are the one copy of
    #: the shared layers that both domains run through (never registered twice, so each weight is
    #: stored once in checkpoints and exports)
    sampling_modules = ("E_A", "E_B", "E_shared", "G_shared", "G_A", "G_B")

    def __init__(self, cfg: UNITConfig, data: DataInfo):
        super().__init__(cfg, data)
        self.E_A = UNITEncoderFront(self.c_A, cfg.ngf, cfg.n_res)  # channels of each domain from the data
        self.E_B = UNITEncoderFront(self.c_B, cfg.ngf, cfg.n_res)
        ch = self.E_A.out_channels
        self.E_shared = shared_blocks(ch, cfg.n_shared)  # the last layers of both encoders
        self.G_shared = shared_blocks(ch, cfg.n_shared)  # the first layers of both generators
        self.G_A = UNITGeneratorBack(self.c_A, ch, cfg.n_res)
        self.G_B = UNITGeneratorBack(self.c_B, ch, cfg.n_res)
        n_d = cfg.d_layers or d_depth(self.size)
        self.D_A = UNITDiscriminator(self.c_A, cfg.ndf, n_d)
        self.D_B = UNITDiscriminator(self.c_B, cfg.ndf, n_d)
        self.apply(dcgan_init)  # official gaussian_weights_init: N(0, 0.02)

    # --- the coupled VAEs ------------------------------------------------------------------------
    def encoder(self, domain: str) -> tuple[nn.Module, nn.Module]:
        """The layers of E_A or E_B in order; the last one is the same module for both domains."""
        return (self.E_A if domain == "A" else self.E_B), self.E_shared

    def generator(self, domain: str) -> tuple[nn.Module, nn.Module]:
        """The layers of G_A or G_B in order; the first one is the same module for both domains."""
        return self.G_shared, (self.G_A if domain == "A" else self.G_B)

    def mean_code(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """E(x), the mean of q(z|x), for images x of `domain`: (B, C, H, W) -> (B, 4 ngf, H/4, W/4). (Not
        `encode`, which names the one-argument encoder of the noise-to-image models.)"""
        front, shared = self.encoder(domain)
        return shared(front(x))

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        shared, back = self.generator(domain)
        return back(shared(z))

    @staticmethod
    def reparameterize(mu: torch.Tensor) -> torch.Tensor:
        """z ~ N(mu, I), differentiable in mu; the noise from torch's generator."""
        return mu + torch.randn_like(mu)

    def map(self, x: torch.Tensor, direction: str) -> torch.Tensor:
        """The translation with the mean code (no noise): G_B(E_A(x)) for AtoB, G_A(E_B(x)) for BtoA."""
        src, dst = ("A", "B") if direction == "AtoB" else ("B", "A")
        return self.decode(self.mean_code(x, src), dst)

    # --- training ----------------------------------------------------------------------------------
    def optimizers(self):
        c = self.cfg
        kw = dict(lr=c.lr, betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)
        # one Adam for the encoders and generators, one for the discriminators (the official trainer);
        # the shared layers are one module, so their parameters appear (and are stepped) once
        gen = itertools.chain(*(getattr(self, n).parameters() for n in self.sampling_modules))
        return {"G": torch.optim.Adam(gen, **kw),
                "D": torch.optim.Adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), **kw)}

    def train_step(self, batch, step):
        c = self.cfg
        x_A, x_B = batch[self.key_A], batch[self.key_B]
        # --- encoders and generators: minimise eq. 2 ---
        with frozen(self.D_A, self.D_B):
            mu_A, mu_B = self.mean_code(x_A, "A"), self.mean_code(x_B, "B")
            z_A, z_B = self.reparameterize(mu_A), self.reparameterize(mu_B)
            h_A, h_B = self.G_shared(z_A), self.G_shared(z_B)  # the shared first layers, once per code
            rec_A, rec_B = self.G_A(h_A), self.G_B(h_B)  # within-domain reconstruction streams
            fake_B, fake_A = self.G_B(h_A), self.G_A(h_B)  # translation streams
            # cycle (eq. 5): encode the translation, decode a sample of its code in the source domain
            mu_AB, mu_BA = self.mean_code(fake_B, "B"), self.mean_code(fake_A, "A")
            cyc_A = self.decode(self.reparameterize(mu_AB), "A")
            cyc_B = self.decode(self.reparameterize(mu_BA), "B")
            kl = kl_unit_variance(mu_A) + kl_unit_variance(mu_B)
            kl_cyc = kl_unit_variance(mu_AB) + kl_unit_variance(mu_BA)
            # -log p_G(x|z) with a Laplacian p_G: the L1 distance (section 3)
            rec = F.l1_loss(rec_A, x_A) + F.l1_loss(rec_B, x_B)
            cyc = F.l1_loss(cyc_A, x_A) + F.l1_loss(cyc_B, x_B)
            # eq. 4, G's side: the non-saturating form log D(G(z)) (the official code's BCE against ones)
            gan = g_loss_nonsaturating(self.D_A(fake_A)) + g_loss_nonsaturating(self.D_B(fake_B))
            loss_G = (c.lambda_0 * gan
                      + c.lambda_1 * kl + c.lambda_2 * rec  # eq. 3, both domains
                      + c.lambda_3 * (kl + kl_cyc) + c.lambda_4 * cyc)  # eq. 5: KL of q(z|x) and of q(z|translation)
        self.update("G", loss_G)
        # --- discriminators: real images of their domain against translations into it (eq. 4) ---
        loss_D_A = d_loss_bce(self.D_A(x_A), self.D_A(fake_A.detach()))
        loss_D_B = d_loss_bce(self.D_B(x_B), self.D_B(fake_B.detach()))
        self.update("D", c.lambda_0 * (loss_D_A + loss_D_B))
        return {"loss_G_gan": gan.detach(), "loss_kl": kl.detach(), "loss_rec": rec.detach(),
                "loss_kl_cyc": kl_cyc.detach(), "loss_cyc": cyc.detach(),
                "loss_D_A": loss_D_A.detach(), "loss_D_B": loss_D_B.detach()}
