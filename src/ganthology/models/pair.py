"""The shape most loss papers share: one generator, one discriminator, Gaussian z, Adam for both.

LSGAN, WGAN, WGAN-GP, WGAN-div, DRAGAN, BGAN, Softmax GAN and the Relativistic GAN change the loss
or the regularizer, not the networks (see `ganthology.nn.factory`). Their files subclass `PairGAN`
and keep only what the paper changes: the Config (z_dim, ngf, ndf, and the lr, beta1, beta2 of
the base class's Adam pair), the discriminator's normalization, and `train_step`. A paper with
another optimizer (WGAN's RMSprop) overrides `optimizers()`.
"""
from __future__ import annotations

from ..nn import dcgan_init, make_discriminator, make_generator
from .base import DataInfo, GANModel


class PairGAN(GANModel):
    def __init__(self, cfg, data: DataInfo, d_norm: str = "batch"):
        """`d_norm`: the discriminator's normalization on images (batch | layer | none); a critic
        with a per-sample gradient penalty must not use BatchNorm (WGAN-GP, section 4)."""
        super().__init__(cfg, data)
        self.G = make_generator(data, cfg.z_dim, cfg.ngf)  # DCGAN's for images, an MLP for points
        self.D = make_discriminator(data, cfg.ndf, norm=d_norm)  # one raw score per sample
        if not data.is_vector:
            self.apply(dcgan_init)  # conv nets: N(0, 0.02) as in DCGAN; MLPs keep PyTorch's default

