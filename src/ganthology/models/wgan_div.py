"""Wasserstein Divergence for GANs. Wu, Huang, Thoma, Acharya, Van Gool, 2018. arXiv:1712.01026

WGAN needs a 1-Lipschitz critic, which weight clipping (WGAN) and the gradient penalty (WGAN-GP)
only approximate. The Wasserstein divergence (W-div) is a relaxation of the Wasserstein-1 metric
that needs no Lipschitz constraint (section 3): the critic minimizes
E[f(G(z))] - E[f(x)] + k E_{x ~ P_u}[||grad f(x)||^p], with the penalty pushing the gradient
towards 0 (not 1 as in WGAN-GP) on samples from a distribution P_u that, unlike WGAN-GP's
interpolates, can be the real and generated samples themselves. k = 2 and p = 6 worked best
(section 5, the study of k and p).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import wasserstein_d_loss, wasserstein_g_loss, wgan_div_penalty
from ..registry import register_model
from .base import DataInfo, frozen
from .pair import PairGAN


@dataclass
class WGANDivConfig:
    z_dim: int = 100  # noise dimension of the DCGAN-style generator
    ngf: int = 64  # generator width
    ndf: int = 64  # critic width
    # The penalty is a sum of per-sample terms; BatchNorm would make each sample's gradient depend
    # on the rest of the batch, so the critic uses layer norm, as WGAN-GP's (section 4 there).
    critic_norm: str = "layer"  # layer | none: no BatchNorm under a per-sample gradient penalty
    k: float = 2.0  # algorithm 1 / section 5: k = 2
    p: float = 6.0  # algorithm 1 / section 5: p = 6
    n_critic: int = 5  # algorithm 1: n_critic = 5
    lr: float = 2e-4  # algorithm 1: Adam alpha = 0.0002
    beta1: float = 0.5  # algorithm 1: beta1 = 0.5
    beta2: float = 0.999  # algorithm 1: beta2 = 0.999
    batch_size: int = 64  # algorithm 1: m = 64


@register_model("wgan_div")
class WGANDiv(PairGAN):
    paper = "Wasserstein Divergence for GANs. Wu et al., 2018. arXiv:1712.01026"
    year = 2018
    default_dataset = "mnist"
    Config = WGANDivConfig

    def __init__(self, cfg: WGANDivConfig, data: DataInfo):
        super().__init__(cfg, data, d_norm=cfg.critic_norm)

    def train_step(self, batch, step):
        # One trainer step = one critic step; G every n_critic-th step (algorithm 1).
        x = batch["x"]
        z = self.noise(x.shape[0], x.device)
        with torch.no_grad():
            fake = self.G(z)
        wdist = -wasserstein_d_loss(self.D(x), self.D(fake))
        div = wgan_div_penalty(self.D, x, fake, k=self.cfg.k, p=self.cfg.p)  # k E[||grad f||^p]
        loss_D = -wdist + div
        self.update("D", loss_D)
        out = {"loss_D": loss_D.detach(), "wasserstein": wdist.detach(), "div": div.detach()}
        if (step + 1) % self.cfg.n_critic == 0:
            z = self.noise(x.shape[0], x.device)
            with frozen(self.D):
                loss_G = wasserstein_g_loss(self.D(self.G(z)))
            self.update("G", loss_G)
            out["loss_G"] = loss_G.detach()
        return out
