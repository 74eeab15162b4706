"""On Convergence and Stability of GANs. Kodali, Abernethy, Hays, Kira, 2017. arXiv:1705.07215

Viewing GAN training as regret minimization, the authors trace mode collapse to undesirable local
equilibria in which the discriminator has sharp gradients around the real data points (sections 3
and 4). DRAGAN ("Deep Regret Analytic GAN") keeps the standard GAN game and adds a gradient
penalty only in a neighbourhood of the real data (section 5):
lambda E_{x ~ P_real, delta}[(||grad D(x + delta)|| - k)^2], with lambda = 10 and k = 1. Unlike
WGAN-GP's penalty on interpolates between real and fake samples, this one regularizes D where
mode collapse starts, and needs no Wasserstein critic.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..losses import d_loss_bce, dragan_penalty, g_loss_nonsaturating
from ..registry import register_model
from .base import DataInfo, frozen
from .pair import PairGAN


@dataclass
class DRAGANConfig:
    z_dim: int = 100  # noise dimension of the DCGAN networks used in section 6
    ngf: int = 64  # generator width
    ndf: int = 64  # discriminator width
    # The penalty is a mean of per-sample gradient norms; BatchNorm would couple each sample's
    # gradient to the whole batch, so D uses layer norm instead.
    d_norm: str = "layer"  # layer | none: no BatchNorm under a per-sample gradient penalty
    lambda_dragan: float = 10.0  # section 5: lambda = 10
    k: float = 1.0  # section 5: target gradient norm k = 1
    perturb_scale: float = 1.0  # C of x + C * 0.5 * std(x) * U[0, 1] (the authors' perturbation)
    lr: float = 2e-4  # Adam, DCGAN's settings (section 6 trains DCGAN networks)
    beta1: float = 0.5  # DCGAN's beta1
    beta2: float = 0.999  # Adam's default
    batch_size: int = 64  # the authors' code: 64


@register_model("dragan")
class DRAGAN(PairGAN):
    paper = "On Convergence and Stability of GANs. Kodali et al., 2017. arXiv:1705.07215"
    year = 2017
    default_dataset = "mnist"
    Config = DRAGANConfig

    def __init__(self, cfg: DRAGANConfig, data: DataInfo):
        super().__init__(cfg, data, d_norm=cfg.d_norm)

    def train_step(self, batch, step):
        x = batch["x"]
        fake = self.G(self.noise(x.shape[0], x.device))
        # The standard GAN loss, -E[log D(x)] - E[log(1 - D(G(z)))] (d_loss_bce averages the two
        # terms; the paper's objective adds them), plus the penalty around the real data.
        gan = 2 * d_loss_bce(self.D(x), self.D(fake.detach()))
        penalty = dragan_penalty(self.D, x, C=self.cfg.perturb_scale, k=self.cfg.k)
        loss_D = gan + self.cfg.lambda_dragan * penalty
        self.update("D", loss_D)
        with frozen(self.D):
            loss_G = g_loss_nonsaturating(self.D(fake))
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(), "penalty": penalty.detach()}
