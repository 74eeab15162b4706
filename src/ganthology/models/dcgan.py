"""Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks.
Radford, Metz, Chintala, 2015. arXiv:1511.06434

A GAN whose generator and discriminator are all-convolutional networks built by a short list of
architecture guidelines (section 3): strided convolutions in D and fractional-strided ones in G
instead of pooling, BatchNorm in both (except G's output and D's input layers), no fully connected
hidden layers, ReLU in G with a Tanh output, LeakyReLU in D. The networks live in
`ganthology.nn.dcgan`; this file holds the training setup of section 4 and the update rule.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import DCGANDiscriminator, DCGANGenerator, dcgan_init
from ..registry import register_model
from .base import WEIGHT_AVERAGE, DataInfo, GANModel, frozen


@dataclass
class DCGANConfig:
    z_dim: int = 100  # figure 1: "a 100 dimensional uniform distribution Z"
    noise: str = "uniform"  # z ~ U[-1, 1] as in figure 1; "normal" for N(0, 1)
    ngf: int = 64  # G's channels before its output layer (the authors' code; figure 1 is 2x wider)
    ndf: int = 64  # D's channels at its first layer (the authors' code)
    lr: float = 2e-4  # section 4: "learning rate of 0.0002" (D's; G's is lr_g below)
    beta1: float = 0.5  # section 4: beta1 = 0.9 "resulted in training oscillation", so 0.5
    beta2: float = 0.999  # Adam's default, kept by the paper
    # Section 4: "mini-batch SGD with a mini-batch size of 128" (--batch-size 128). Ours is 64, the
    # batch of PyTorch-GAN's dcgan.py and PyTorch's DCGAN example: in a fixed wall-clock budget the
    # twice as many steps win; 5 min of one core on MNIST gave FD 60.4 at 64 (1,931 steps) against
    # 103.4 at 128 (982 steps).
    batch_size: int = 64  # PyTorch-GAN's and PyTorch's DCGAN batch; section 4: 128 (see above)
    # One-sided label smoothing (Salimans et al. 2016, section 3.4): D's target for real images is
    # 0.9, not section 4's 1 (--real-label 1). Without it D wins from ~3,000 steps on (its loss
    # 0.005-0.05) and the FD stalls; 7,000 steps on MNIST gave FD 41.7 against 53.7, and 5 min of
    # one core 59.6 against 61.5 (docs/benchmarks.md, the race).
    real_label: float = 0.9  # D's target for real images; fakes keep 0 (see above)
    # G's learning rate: section 4 gives both players 2e-4 (--lr-g 2e-4). Here G learns twice as fast
    # (a two time-scale rule, Heusel et al. 2017, with the faster scale on G's side). On MNIST, G at
    # 2e-4, 4e-4 and 8e-4 scored FD 70.5, 50.4 and 38.2 at step 2,000, and 41.7, 39.0 and 42.7 at
    # step 7,000 (8e-4 stalls and oscillates from step 2,000 on); 5 min of one core, 50.9 against
    # 59.6. D at 4x G's rate, the usual direction, scored 97.8 at step 2,000 (docs/benchmarks.md,
    # the race).
    lr_g: float = 4e-4  # G's Adam rate; section 4: 2e-4 (see above)


@register_model("dcgan")
class DCGAN(GANModel):
    paper = "Unsupervised Representation Learning with Deep Convolutional GANs. Radford et al., 2015. arXiv:1511.06434"
    year = 2015
    default_dataset = "mnist"
    train_defaults = WEIGHT_AVERAGE  # it helped this model at 5 minutes: FD 95.4 -> 86.5 (docs/results.md)
    Config = DCGANConfig
    vector_data = False  # all-convolutional by definition (section 3): images only

    def __init__(self, cfg: DCGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        self.G = DCGANGenerator(cfg.z_dim, data.channels, data.image_size, cfg.ngf)
        self.D = DCGANDiscriminator(data.channels, data.image_size, cfg.ndf, norm="batch")
        self.apply(dcgan_init)  # section 4: weights from N(0, 0.02)

    def optimizers(self):
        c = self.cfg
        betas = (c.beta1, c.beta2)
        return {"G": torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=betas),
                "D": torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=betas)}

    def train_step(self, batch, step):
        x = batch["x"]
        fake = self.G(self.noise(x.shape[0], x.device))
        # D: real and fake go through D as separate minibatches, so that BatchNorm statistics are
        # never mixed across the two (as in the authors' code).
        loss_D = d_loss_bce(self.D(x), self.D(fake.detach()), self.cfg.real_label)
        self.update("D", loss_D)
        # G: non-saturating loss through the freshly updated D
        with frozen(self.D):
            loss_G = g_loss_nonsaturating(self.D(fake))
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}
