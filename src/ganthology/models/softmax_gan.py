"""Softmax GAN. Min Lin, 2017. arXiv:1704.06191

Softmax GAN replaces the per-sample classification of a regular GAN by a softmax over the whole
minibatch B = B+ (real) u B- (generated) (section 2). D assigns each sample an energy D(x), which
defines the distribution exp(-D(x)) / Z_B over the batch. D minimizes the cross-entropy to the
target that spreads probability 1/|B+| over the real samples only; G minimizes the cross-entropy to
the uniform target 1/|B| over real and generated samples alike, i.e. it wants D to be unable to
tell them apart. The paper relates this to importance-sampled maximum likelihood with the
generator as proposal (section 3) and shows it trains without the batch normalization tricks
(section 4).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..losses import softmax_gan_d_loss, softmax_gan_g_loss
from ..registry import register_model
from .base import DataInfo, frozen
from .pair import PairGAN


@dataclass
class SoftmaxGANConfig:
    z_dim: int = 100  # noise dimension of the DCGAN networks used in section 4
    ngf: int = 64  # generator width
    ndf: int = 64  # discriminator width
    d_norm: str = "batch"  # DCGAN's BatchNorm in D (section 4 also trains without it)
    lr: float = 2e-4  # Adam with DCGAN's settings (section 4 builds on the DCGAN code)
    beta1: float = 0.5  # DCGAN's beta1
    beta2: float = 0.999  # Adam's default
    batch_size: int = 64  # |B+| = |B-| = 64, DCGAN's code


@register_model("softmax_gan")
class SoftmaxGAN(PairGAN):
    paper = "Softmax GAN. Lin, 2017. arXiv:1704.06191"
    year = 2017
    default_dataset = "mnist"
    Config = SoftmaxGANConfig

    def __init__(self, cfg: SoftmaxGANConfig, data: DataInfo):
        super().__init__(cfg, data, d_norm=cfg.d_norm)

    def train_step(self, batch, step):
        x = batch["x"]
        fake = self.G(self.noise(x.shape[0], x.device))
        # D: target 1/|B+| on reals, 0 on fakes, softmax over the whole batch (section 2, L_D)
        loss_D = softmax_gan_d_loss(self.D(x), self.D(fake.detach()))
        self.update("D", loss_D)
        # G: uniform target 1/|B| over reals and fakes (section 2, L_G); the real scores enter
        # through the partition function Z_B
        with frozen(self.D):
            loss_G = softmax_gan_g_loss(self.D(x), self.D(fake))
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}
