"""Improved Training of Wasserstein GANs. Gulrajani, Ahmed, Arjovsky, Dumoulin, Courville, 2017.
arXiv:1704.00028

WGAN's critic must be 1-Lipschitz. Instead of clipping its weights, which pushes the critic towards
too simple functions and makes training slow or unstable (section 3), WGAN-GP penalizes the norm of
the critic's gradient at random points between real and generated samples (eq. 3):
L = E[D(G(z))] - E[D(x)] + lambda E[(||grad D(x_hat)||_2 - 1)^2]. The critic takes n_critic steps
per generator step and has no BatchNorm, because the penalty is defined per sample (section 4).
On images the networks are DCGAN-style with an unnormalized critic (the authors' gan_mnist.py /
gan_cifar.py); on vector data (the 2-D toys of section 4, figure 1) they are ReLU MLPs, as in the
authors' gan_toy.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import gradient_penalty, wasserstein_d_loss, wasserstein_g_loss
from ..registry import register_model
from .base import DataInfo, frozen
from .pair import PairGAN


@dataclass
class WGANGPConfig:
    z_dim: int = 128  # the authors' code (gan_mnist.py / gan_cifar.py): 128-d Gaussian noise
    # Widths: the authors' MNIST code has DIM = 64; at 32 a critic step costs a third, and in a
    # fixed wall-clock budget the extra steps win: 5 min on MNIST (1 core) gave FD 251 and recall
    # 0.24 at 32 (4,680 critic steps) against 363 and 0.06 at 64 (1,441). --ngf 64 --ndf 64 for DIM.
    ngf: int = 32  # DCGAN-style generator width (see above); MLP hidden units / 2 on points
    ndf: int = 32  # critic width; MLP hidden units / 2 on points
    # Section 4: "no critic batch normalization" (the penalty is per sample), with layer norm
    # suggested in its place; the authors' MNIST and CIFAR-10 critics (gan_mnist.py, gan_cifar.py)
    # use none, and neither do we: with layer norm, 5 min on MNIST gave FD 467 (977 critic steps),
    # without it 363 (1,441 steps). --critic-norm layer gives the suggestion of section 4.
    critic_norm: str = "none"  # none | layer (section 4's suggestion); no BatchNorm, the penalty is per sample
    lambda_gp: float = 10.0  # algorithm 1: lambda = 10
    n_critic: int = 5  # algorithm 1: n_critic = 5
    lr: float = 1e-4  # algorithm 1: alpha = 0.0001
    beta1: float = 0.0  # algorithm 1: beta1 = 0
    beta2: float = 0.9  # algorithm 1: beta2 = 0.9
    batch_size: int = 64  # algorithm 1: m = 64


@register_model("wgan_gp")
class WGANGP(PairGAN):
    paper = "Improved Training of Wasserstein GANs. Gulrajani et al., 2017. arXiv:1704.00028"
    year = 2017
    default_dataset = "mnist"
    Config = WGANGPConfig

    def __init__(self, cfg: WGANGPConfig, data: DataInfo):
        super().__init__(cfg, data, d_norm=cfg.critic_norm)

    def train_step(self, batch, step):
        # One trainer step = one critic step on this batch; every n_critic-th step the generator
        # also takes its step (algorithm 1: n_critic critic iterations per generator iteration).
        x = batch["x"]
        z = self.noise(x.shape[0], x.device)
        with torch.no_grad():
            fake = self.G(z)
        wdist = -wasserstein_d_loss(self.D(x), self.D(fake))  # estimate of W(P_r, P_g)
        gp = gradient_penalty(self.D, x, fake)
        loss_D = -wdist + self.cfg.lambda_gp * gp
        self.update("D", loss_D)
        out = {"loss_D": loss_D.detach(), "wasserstein": wdist.detach(), "gp": gp.detach()}
        if (step + 1) % self.cfg.n_critic == 0:
            z = self.noise(x.shape[0], x.device)
            with frozen(self.D):
                loss_G = wasserstein_g_loss(self.D(self.G(z)))
            self.update("G", loss_G)
            out["loss_G"] = loss_G.detach()
        return out
