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

from ..errors import GanthologyError
from ..losses import wasserstein_d_loss, wasserstein_g_loss
from ..registry import register_model
from .base import DataInfo, frozen
from .pair import PairGAN


@dataclass
class WGANDivConfig:
    z_dim: int = 100  # noise dimension of the DCGAN-style generator
    # Widths 32 rather than WGAN-GP's DIM = 64: a critic step costs a third, and in a fixed
    # wall-clock budget the extra steps win: 5 min on MNIST (1 core) gave FD 179 and recall 0.45 at
    # 32 (4,222 critic steps) against 321 and 0.09 at 64 (1,304). --ngf 64 --ndf 64 for the wider nets.
    ngf: int = 32  # generator width
    ndf: int = 32  # critic width
    # The divergence term is a sum of per-sample terms, so no BatchNorm; the critic is WGAN-GP's
    # DCGAN-style one as in its authors' gan_mnist.py / gan_cifar.py, which has no normalization.
    # Layer norm undoes the small N(0, 0.02) init (its output does not shrink with the weights), so
    # the input gradients start large: on MNIST at init their norms are ~1.2 on real and ~4 on
    # generated images and the p = 6 term ~4500 (~0.02 and 1e-10 without layer norm). That burst
    # fills Adam's second moment (beta2 = 0.999: a memory of ~1000 steps), the critic then barely
    # moves (Wasserstein estimate ~0.1 against ~15 without layer norm) and G collapses: 5 minutes
    # on MNIST gave FD 926 and 2 classes with it, 395 and 10 without.
    critic_norm: str = "none"  # none | layer (no BatchNorm: the penalty is per sample)
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
        if cfg.critic_norm == "batch":
            raise GanthologyError("wgan_div's divergence term is per sample: use critic_norm none or layer, "
                                  "not batch.")
        super().__init__(cfg, data, d_norm=cfg.critic_norm)

    def train_step(self, batch, step):
        # One trainer step = one critic step; G every n_critic-th step (algorithm 1).
        x = batch["x"]
        n = x.shape[0]
        z = self.noise(n, x.device)
        with torch.no_grad():
            fake = self.G(z)
        # One critic pass over the real and generated samples together gives both terms: their
        # scores for the Wasserstein estimate and, through the same graph, their input gradients
        # for the divergence term k E_{x ~ P_u}[||grad f(x)||^p] with P_u the real and fake samples
        # (as `losses.wgan_div_penalty`, without a second pass). The critic normalizes per sample
        # (layer | none), so one batch of both gives exactly the scores of two. In float32 outside
        # autocast: the gradient of an unscaled float16 score can underflow.
        xs = torch.cat([x, fake]).detach().float().requires_grad_(True)
        with torch.autocast(device_type=x.device.type, enabled=False):
            scores = self.D(xs)  # (2B,)
        (grad,) = torch.autograd.grad(scores.sum(), xs, create_graph=True)
        norms = grad.flatten(start_dim=1).norm(2, dim=1)  # (2B, C, H, W) -> (2B,)
        wdist = -wasserstein_d_loss(scores[:n], scores[n:])  # E[f(x)] - E[f(G(z))]
        div = self.cfg.k * (norms**self.cfg.p).mean()  # k E[||grad f||^p], real and fake alike
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
