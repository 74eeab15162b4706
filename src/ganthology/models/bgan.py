"""Boundary-Seeking Generative Adversarial Networks. Hjelm, Jacob, Che, Trischler, Cho, Bengio,
2018. arXiv:1702.08431

A discriminator trained to optimality gives an estimate of the density ratio between the data and
the generator, p_data(x) / p_g(x) = D(x) / (1 - D(x)) (section 2). Boundary-seeking GAN trains G
to make this ratio 1 everywhere, i.e. to place its samples on D's decision boundary D(x) = 1/2.
For continuous data G minimizes 1/2 E[(log D(G(z)) - log(1 - D(G(z))))^2] (section 2, the
continuous-variable objective), the squared logit of D; D is trained as in a regular GAN. The
discrete-variable version (importance-weighted policy gradient) is not part of this file.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..losses import boundary_seeking_g_loss, d_loss_bce
from ..registry import register_model
from .base import WEIGHT_AVERAGE, DataInfo, frozen
from .pair import PairGAN


@dataclass
class BGANConfig:
    z_dim: int = 100  # noise dimension of the DCGAN networks of the continuous experiments
    ngf: int = 64  # generator width
    ndf: int = 64  # discriminator width
    lr: float = 2e-4  # Adam with DCGAN's settings (the continuous experiments use DCGAN networks)
    beta1: float = 0.5  # DCGAN's beta1
    beta2: float = 0.999  # Adam's default
    batch_size: int = 64  # DCGAN-style minibatch


@register_model("bgan")
class BGAN(PairGAN):
    paper = "Boundary-Seeking Generative Adversarial Networks. Hjelm et al., 2018. arXiv:1702.08431"
    year = 2018
    default_dataset = "mnist"
    train_defaults = WEIGHT_AVERAGE  # it helped this model at 5 minutes: FD 191 -> 175 (docs/results.md)
    Config = BGANConfig

    def __init__(self, cfg: BGANConfig, data: DataInfo):
        super().__init__(cfg, data, d_norm="batch")  # a regular DCGAN discriminator

    def train_step(self, batch, step):
        x = batch["x"]
        fake = self.G(self.noise(x.shape[0], x.device))
        loss_D = d_loss_bce(self.D(x), self.D(fake.detach()))  # the regular GAN discriminator
        self.update("D", loss_D)
        with frozen(self.D):
            # 1/2 E[(log D - log(1 - D))^2] = 1/2 E[logit^2]: G seeks D's decision boundary
            loss_G = boundary_seeking_g_loss(self.D(fake))
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}
