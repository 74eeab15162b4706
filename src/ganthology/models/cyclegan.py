"""Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks. Zhu, Park, Isola,
Efros, 2017. arXiv:1703.10593

Two generators translate between domains that have no aligned pairs: G_AB: A -> B and G_BA: B -> A,
each judged by a discriminator of its target domain (D_B, D_A). Adversarial losses alone would let G
map A onto any image of B; the cycle-consistency loss asks that a translation can be undone,
G_BA(G_AB(a)) ~ a and G_AB(G_BA(b)) ~ b (section 3.2, eq. 2), which ties each output to its input.
The full objective is eq. 3: L_GAN(G_AB, D_B) + L_GAN(G_BA, D_A) + lambda L_cyc. The adversarial loss
is least squares (section 4), D sees a history of 50 generated images instead of the latest only
(section 4, after Shrivastava et al.), and for photo <-> painting an identity loss keeps colours
(section 5.2): G_AB(b) ~ b when b already lies in B.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import lsgan_d_loss
from ..nn import PatchGANDiscriminator, ResnetGenerator, dcgan_init
from ..registry import register_model
from .base import DataInfo, constant_then_linear_decay, frozen
from .two_domain import TwoDomainModel


@dataclass
class CycleGANConfig:
    lambda_cyc: float = 10.0  # section 7.1: lambda = 10 in eq. 3
    lambda_id: float = 0.5  # section 7.1: identity loss weight 0.5 lambda (as a fraction of lambda_cyc); 0 turns it off
    pool_size: int = 50  # section 4: D is updated from a buffer of the 50 last generated images
    ngf: int = 64  # appendix 7.2: c7s1-64, d128, d256, R256, u128, u64
    ndf: int = 64  # appendix 7.2: C64-C128-C256-C512
    n_blocks: int = 0  # appendix 7.2: residual blocks in G; 0 = 6 below 256x256 images, 9 from 256 up
    d_layers: int = 3  # appendix 7.2: three stride-2 layers, a 70x70 PatchGAN
    lr: float = 2e-4  # section 7.1: Adam, learning rate 0.0002
    beta1: float = 0.5  # section 7.1 (the official code's Adam betas (0.5, 0.999))
    beta2: float = 0.999  # section 7.1
    decay_from: float = 0.5  # section 7.1: the lr is kept for the first 100 of 200 epochs, then lowered linearly to 0
    batch_size: int = 1  # section 7.1: batch size 1


class ImagePool(nn.Module):
    """The history of generated images D learns from (section 4; Shrivastava et al. 2017): the first
    `size` images are stored and returned as they come; after that each new image is, with
    probability 1/2, swapped for a random stored one (which D then sees) or passed through. Buffers,
    so the history travels in checkpoints and a resumed run sees the same images; randomness from
    torch, so seeding torch makes it repeatable."""

    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for img in batch.detach():
            n = int(self.count)
            if n < self.size:  # fill the pool first
                self.images[n] = img
                self.count += 1
                out.append(img)
            elif torch.rand(()) < 0.5:  # return an old image, keep the new one in its place
                j = int(torch.randint(self.size, ()))
                out.append(self.images[j].clone())
                self.images[j] = img
            else:
                out.append(img)
        return torch.stack(out)


@register_model("cyclegan")
class CycleGAN(TwoDomainModel):
    paper = "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks. Zhu et al., 2017. arXiv:1703.10593"
    year = 2017
    Config = CycleGANConfig
    follows_run_length = True  # the learning rates decay over the second half of the run (section 7.1)
    sampling_modules = ("G_AB", "G_BA")

    def __init__(self, cfg: CycleGANConfig, data: DataInfo):
        super().__init__(cfg, data)  # the domains' keys, channels and size (models/two_domain.py)
        shape_A, shape_B = data.parts[self.key_A].shape, data.parts[self.key_B].shape
        n_blocks = cfg.n_blocks or (9 if self.size >= 256 else 6)  # appendix 7.2
        self.G_AB = ResnetGenerator(self.c_A, self.c_B, cfg.ngf, n_blocks)
        self.G_BA = ResnetGenerator(self.c_B, self.c_A, cfg.ngf, n_blocks)
        self.D_A = PatchGANDiscriminator(self.c_A, cfg.ndf, cfg.d_layers, norm="instance")
        self.D_B = PatchGANDiscriminator(self.c_B, cfg.ndf, cfg.d_layers, norm="instance")
        self.pool_A = ImagePool(cfg.pool_size, shape_A)  # generated A's, for D_A
        self.pool_B = ImagePool(cfg.pool_size, shape_B)
        self.apply(dcgan_init)  # section 7.1: weights from N(0, 0.02)

    def optimizers(self):
        c = self.cfg
        betas = (c.beta1, c.beta2)
        # one Adam for both generators and one for both discriminators, as the official code steps them
        return {"G": torch.optim.Adam(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()), c.lr, betas=betas),
                "D": torch.optim.Adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), c.lr, betas=betas)}

    def schedulers(self):
        # section 7.1: constant for the first half of training, then linearly down to zero
        total = self.total_steps or 1
        return {k: constant_then_linear_decay(opt, total, self.cfg.decay_from) for k, opt in self.opt.items()}

    def train_step(self, batch, step):
        c = self.cfg
        real_A, real_B = batch[self.key_A], batch[self.key_B]
        # --- generators: fool both D (least squares, section 4), undo each other (eq. 2) ---
        with frozen(self.D_A, self.D_B):
            fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
            # G minimises E[(D(G(x)) - 1)^2] (section 4; only D's objective is halved, section 7.1)
            loss_gan = ((self.D_B(fake_B) - 1) ** 2).mean() + ((self.D_A(fake_A) - 1) ** 2).mean()
            loss_cyc = F.l1_loss(self.G_BA(fake_B), real_A) + F.l1_loss(self.G_AB(fake_A), real_B)  # eq. 2
            loss_G = loss_gan + c.lambda_cyc * loss_cyc
            out = {"loss_G": loss_gan.detach(), "loss_cyc": loss_cyc.detach()}
            if c.lambda_id > 0 and self.c_A == self.c_B:
                # section 5.2: a generator given an image of its own target domain should leave it be;
                # defined only when both domains have the same channels
                loss_id = F.l1_loss(self.G_AB(real_B), real_B) + F.l1_loss(self.G_BA(real_A), real_A)
                loss_G = loss_G + c.lambda_cyc * c.lambda_id * loss_id
                out["loss_id"] = loss_id.detach()
        self.update("G", loss_G)
        # --- discriminators: real against the pool's history of fakes, divided by 2 (section 7.1) ---
        loss_D_A = lsgan_d_loss(self.D_A(real_A), self.D_A(self.pool_A(fake_A)))
        loss_D_B = lsgan_d_loss(self.D_B(real_B), self.D_B(self.pool_B(fake_B)))
        self.update("D", loss_D_A + loss_D_B)
        return out | {"loss_D_A": loss_D_A.detach(), "loss_D_B": loss_D_B.detach()}
