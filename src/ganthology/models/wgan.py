"""Wasserstein GAN. Arjovsky, Chintala, Bottou, 2017. arXiv:1701.07875

The Jensen-Shannon divergence a regular GAN minimizes is constant, with vanishing gradients, when
the real and generated distributions have disjoint supports (section 2). WGAN minimizes the
Earth-Mover (Wasserstein-1) distance instead, through its Kantorovich-Rubinstein dual (eq. 3):
W(P_r, P_g) = max over 1-Lipschitz f of E[f(x)] - E[f(G(z))]. The critic f has no sigmoid and is
kept K-Lipschitz by clipping its weights to [-c, c] after every update; it is trained n_critic
times per generator step, so that it stays near its optimum and its gradient is meaningful
(algorithm 1). Momentum-based optimizers were unstable, hence RMSProp (section 4.1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import wasserstein_d_loss, wasserstein_g_loss
from ..registry import register_model
from .base import DataInfo, frozen
from .pair import PairGAN


@dataclass
class WGANConfig:
    z_dim: int = 100  # the authors' code: nz = 100 Gaussian noise
    # Section 4 trains DCGAN's networks, 64 wide, on 64x64 LSUN. On 32x32 MNIST at equal wall clock
    # (5 minutes of one core, docs/results.md) half that width takes ~3x the critic steps: FD 360 and
    # 434 (seeds 0, 1; 4,320 and 4,273 steps) against 538 and 555 at 64 (1,490 and 1,355), and the
    # PyTorch-GAN script's 477 and 512 in the same session. --ngf 64 --ndf 64 for section 4's.
    # No weight average by default: it helped at width 64 (FD 552 -> 538) but not at 32, where G
    # is still climbing at 5 minutes (349 -> 360 and 405 -> 434 on the same two runs).
    ngf: int = 32  # DCGAN generator width (see above)
    ndf: int = 32  # critic width
    critic_norm: str = "batch"  # the authors' DCGAN critic keeps BatchNorm (no per-sample penalty here)
    clip_value: float = 0.01  # algorithm 1: c = 0.01
    n_critic: int = 5  # algorithm 1: n_critic = 5
    lr: float = 5e-5  # algorithm 1: alpha = 0.00005 (RMSProp, section 4.1)
    batch_size: int = 64  # algorithm 1: m = 64


@register_model("wgan")
class WGAN(PairGAN):
    paper = "Wasserstein GAN. Arjovsky et al., 2017. arXiv:1701.07875"
    year = 2017
    default_dataset = "mnist"
    Config = WGANConfig

    def __init__(self, cfg: WGANConfig, data: DataInfo):
        super().__init__(cfg, data, d_norm=cfg.critic_norm)  # critic: raw score, no sigmoid

    def optimizers(self):
        return {
            "G": torch.optim.RMSprop(self.G.parameters(), lr=self.cfg.lr),
            "D": torch.optim.RMSprop(self.D.parameters(), lr=self.cfg.lr),
        }

    @torch.no_grad()
    def clip_critic(self) -> None:
        """Algorithm 1, line 7: w <- clip(w, -c, c), for every critic parameter. Done in place on
        the parameters themselves, so the clipped weights are what checkpoints store and resume."""
        for p in self.D.parameters():
            p.clamp_(-self.cfg.clip_value, self.cfg.clip_value)

    def train_step(self, batch, step):
        # One trainer step = one critic step on this batch; every n_critic-th step the generator
        # also takes its step (algorithm 1: n_critic critic iterations per generator iteration).
        # `step` comes from the trainer, so the schedule resumes exactly.
        x = batch["x"]
        z = self.noise(x.shape[0], x.device)
        with torch.no_grad():
            fake = self.G(z)
        wdist = -wasserstein_d_loss(self.D(x), self.D(fake))  # estimate of W(P_r, P_g) (eq. 3)
        loss_D = -wdist  # the critic maximizes it (algorithm 1, lines 5-6)
        self.update("D", loss_D)
        self.clip_critic()  # algorithm 1, line 7: after every critic update
        out = {"loss_D": loss_D.detach(), "wasserstein": wdist.detach()}
        if (step + 1) % self.cfg.n_critic == 0:
            z = self.noise(x.shape[0], x.device)
            with frozen(self.D):
                loss_G = wasserstein_g_loss(self.D(self.G(z)))  # algorithm 1, line 10
            self.update("G", loss_G)
            out["loss_G"] = loss_G.detach()
        return out
