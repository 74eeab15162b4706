"""The relativistic discriminator: a key element missing from standard GAN. Alexia
Jolicoeur-Martineau, 2018. arXiv:1807.00734

A standard discriminator estimates the probability that a sample is real. The paper argues that
it should instead estimate the probability that real data is *more* realistic than generated data
(section 3): with half of every minibatch known to be fake, D(x_real) should decrease as D(G(z))
increases, which a standard GAN's generator never causes. The relativistic standard GAN (RSGAN)
uses D(x_r, x_f) = sigmoid(C(x_r) - C(x_f)) on pairs of real and fake samples; the relativistic
average GAN (RaSGAN) compares each sample with the mean critic value of the other kind (section 4).
The generator's loss is the discriminator's with real and fake swapped, so it depends on the
critic's output on real data too. (The PyTorch-GAN script computed this loss and then overwrote it
with a plain non-relativistic one; here G's update uses the relativistic loss.)
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import GanthologyError
from ..losses import (
    relativistic_average_d_loss,
    relativistic_average_g_loss,
    relativistic_d_loss,
    relativistic_g_loss,
)
from ..registry import register_model
from .base import WEIGHT_AVERAGE, DataInfo, frozen
from .pair import PairGAN

LOSSES = {
    "standard": (relativistic_d_loss, relativistic_g_loss),  # RSGAN
    "average": (relativistic_average_d_loss, relativistic_average_g_loss),  # RaSGAN
}


@dataclass
class RelativisticGANConfig:
    variant: str = "standard"  # section 4: "standard" (RSGAN) or "average" (RaSGAN)
    z_dim: int = 128  # section 5 / appendix: the DCGAN setup of the CIFAR-10 experiments, z of 128
    ngf: int = 64  # generator width (DCGAN networks, section 5)
    ndf: int = 64  # discriminator width
    n_critic: int = 1  # n_D, discriminator steps per generator step (section 5.1: n_D = 1)
    lr: float = 2e-4  # section 5.1: Adam, learning rate 0.0002
    beta1: float = 0.5  # section 5.1: beta = (0.5, 0.999)
    beta2: float = 0.999  # section 5.1
    batch_size: int = 32  # section 5.1: batch size 32


@register_model("relativistic_gan")
class RelativisticGAN(PairGAN):
    paper = "The relativistic discriminator: a key element missing from standard GAN. Jolicoeur-Martineau, 2018. arXiv:1807.00734"
    year = 2018
    default_dataset = "mnist"
    train_defaults = WEIGHT_AVERAGE  # it helped this model at 5 minutes: FD 153 -> 148 (docs/results.md)
    Config = RelativisticGANConfig

    def __init__(self, cfg: RelativisticGANConfig, data: DataInfo):
        if cfg.variant not in LOSSES:
            raise GanthologyError(f"variant must be one of {', '.join(LOSSES)}, not {cfg.variant!r}.")
        super().__init__(cfg, data, d_norm="batch")  # D(x) = C(x), the raw critic output (section 3)
        self.d_loss, self.g_loss = LOSSES[cfg.variant]

    def train_step(self, batch, step):
        # One trainer step = one D step; G every n_critic-th step (n_D of section 5.1).
        x = batch["x"]
        fake = self.G(self.noise(x.shape[0], x.device))
        loss_D = self.d_loss(self.D(x), self.D(fake.detach()))
        self.update("D", loss_D)
        out = {"loss_D": loss_D.detach()}
        if (step + 1) % self.cfg.n_critic == 0:
            with frozen(self.D):
                # Relativistic: G's loss needs C(x_r) as well as C(G(z)) (section 4)
                loss_G = self.g_loss(self.D(x), self.D(fake))
            self.update("G", loss_G)
            out["loss_G"] = loss_G.detach()
        return out
