"""Least Squares Generative Adversarial Networks. Mao, Li, Xie, Lau, Wang, Smolley, 2017.
arXiv:1611.04076

The sigmoid cross-entropy loss of a regular GAN saturates for generated samples that lie on the
correct side of the decision boundary but far from the real data: they give G almost no gradient
(section 3.1, figure 1). LSGAN replaces it by least squares with an a-b-c coding (eq. 2):
D minimizes 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] and G minimizes 1/2 E[(D(G(z)) - c)^2],
so that samples are penalized by their distance to the boundary and pulled towards it. With
b - c = 1 and b - a = 2 (a = -1, b = 1, c = 0, eq. 8) this minimizes the Pearson chi^2 divergence
(section 3.2.2); the 0-1 coding a = 0, b = c = 1 (eq. 9) is the one the experiments use.
D has no sigmoid: its raw output is the regression target's estimate.

Departures: DCGAN's networks instead of figure 3's VGG-like ones, and with them DCGAN's z of 100
dimensions rather than figure 3's 1024 (a setting away: `--z-dim 1024`; see the Config).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..losses import lsgan_d_loss, lsgan_g_loss
from ..registry import register_model
from .base import DataInfo, frozen
from .pair import PairGAN


@dataclass
class LSGANConfig:
    SIGNED: ClassVar[tuple] = ("a", "b", "c")  # the target labels may be negative (the -1-1-0 coding of eq. 8)
    # Figure 3's z of 1024 dimensions was chosen for 112x112 LSUN scenes and the paper's VGG-like
    # networks. Fed to DCGAN's generator on 32x32 MNIST, D wins within a few hundred steps and G
    # never leaves noise (5 min, 1 thread: FD 898, recall 0; with 100 dimensions FD 253, recall
    # 0.32, all ten digits), so the default for small images is DCGAN's 100.
    z_dim: int = 100  # DCGAN's z; the paper's (figure 3, for 112x112 scenes): --z-dim 1024
    ngf: int = 64  # generator width (DCGAN networks; the paper's are VGG-like, figure 3)
    ndf: int = 64  # discriminator width
    a: float = 0.0  # section 3.2.3, eq. 9: label of fake data for D (0-1 coding)
    b: float = 1.0  # section 3.2.3, eq. 9: label of real data for D
    c: float = 1.0  # section 3.2.3, eq. 9: value G wants D to give its samples (c = b)
    lr: float = 2e-4  # section 4.1: Adam, learning rate 0.0002
    beta1: float = 0.5  # section 4.1: beta1 = 0.5, following DCGAN
    beta2: float = 0.999  # Adam's default
    batch_size: int = 64  # DCGAN's code, on which the experiments build


@register_model("lsgan")
class LSGAN(PairGAN):
    paper = "Least Squares Generative Adversarial Networks. Mao et al., 2017. arXiv:1611.04076"
    year = 2017
    default_dataset = "mnist"
    Config = LSGANConfig

    def __init__(self, cfg: LSGANConfig, data: DataInfo):
        super().__init__(cfg, data, d_norm="batch")  # BatchNorm in D as in figure 3: no per-sample penalty

    def train_step(self, batch, step):
        x = batch["x"]
        fake = self.G(self.noise(x.shape[0], x.device))
        # D regresses real samples to b and generated ones to a (eq. 2, first line)
        loss_D = lsgan_d_loss(self.D(x), self.D(fake.detach()), a=self.cfg.a, b=self.cfg.b)
        self.update("D", loss_D)
        # G pulls its samples' scores to c (eq. 2, second line)
        with frozen(self.D):
            loss_G = lsgan_g_loss(self.D(fake), c=self.cfg.c)
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}
