"""Image-to-Image Translation with Conditional Adversarial Networks. Isola, Zhu, Zhou, Efros, 2017.
arXiv:1611.07004

A conditional GAN learns a mapping from an input image A to an output image B from aligned pairs.
G is a U-Net (skip connections carry low-level structure shared by input and output, section
3.1.1); D is a PatchGAN that classifies each 70x70 patch of the pair (A, B) as real or fake, which
models high frequencies while an L1 term takes care of low ones (section 3.1.2). The objective is
eq. 4: G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G). There is no z: noise comes only from
dropout, applied at training and at test time (section 2.1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import PatchGANDiscriminator, UNetGenerator, dcgan_init
from ..registry import register_model
from .base import DataInfo, GANModel, frozen


@dataclass
class Pix2PixConfig:
    lambda_L1: float = 100.0  # section 4: lambda = 100
    ngf: int = 64  # appendix 6.1.1: encoder C64-C128-C256-C512-...
    ndf: int = 64  # appendix 6.1.2: C64-C128-C256-C512
    d_layers: int = 3  # three stride-2 layers: a 70x70 receptive field (section 4.4)
    dropout: float = 0.5  # appendix 6.1.1: dropout 0.5 in the first three decoder layers
    lr: float = 2e-4  # section 3.3: Adam, learning rate 0.0002
    beta1: float = 0.5  # section 3.3: momentum parameters beta1 = 0.5, beta2 = 0.999
    beta2: float = 0.999  # section 3.3
    batch_size: int = 4  # appendix 6.2: 1 for most datasets, 4 for edges2shoes / edges2handbags


@register_model("pix2pix")
class Pix2Pix(GANModel):
    paper = "Image-to-Image Translation with Conditional Adversarial Networks. Isola et al., 2017. arXiv:1611.07004"
    year = 2017
    default_dataset = "edges2digits"
    Config = Pix2PixConfig
    vector_data = False  # translates images
    requires = ("input", "target")  # aligned pairs (A, B)
    scores = {"psnr": "max", "ssim": "max", "l1": "min"}  # against the held-out targets

    def __init__(self, cfg: Pix2PixConfig, data: DataInfo):
        super().__init__(cfg, data)
        self.G = UNetGenerator(data.in_channels, data.channels, data.image_size, cfg.ngf, dropout=cfg.dropout)
        # D sees the input and the (real or generated) output stacked along channels (section 2)
        self.D = PatchGANDiscriminator(data.in_channels + data.channels, cfg.ndf, cfg.d_layers)
        self.apply(dcgan_init)  # section 6.2: weights from N(0, 0.02)

    def train_step(self, batch, step):
        A, B = batch["A"], batch["B"]
        fake_B = self.G(A)
        # D: real pairs (A, B) against fake pairs (A, G(A)); eq. 1, divided by 2 (section 3.3)
        loss_D = d_loss_bce(self.D(torch.cat([A, B], 1)), self.D(torch.cat([A, fake_B.detach()], 1)))
        self.update("D", loss_D)
        # G: fool D on every patch and stay close to B in L1 (eq. 4)
        with frozen(self.D):
            loss_G_gan = g_loss_nonsaturating(self.D(torch.cat([A, fake_B], 1)))
        loss_L1 = F.l1_loss(fake_B, B)
        loss_G = loss_G_gan + self.cfg.lambda_L1 * loss_L1
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G_gan.detach(), "loss_L1": loss_L1.detach()}

    @torch.no_grad()
    def translate(self, x: torch.Tensor) -> torch.Tensor:
        """Translate input images `x` (N, C_A, H, W) in [-1, 1].

        As in the paper (section 3.3) dropout stays on and BatchNorm uses the statistics of the test
        batch; the running statistics are left untouched."""
        s, c = self.data.image_size, self.data.in_channels
        if x.dim() != 4 or x.shape[1] != c or x.shape[2:] != (s, s):
            raise GanthologyError(
                f"pix2pix was trained on {c}-channel {s}x{s} inputs but got an image of shape "
                f"{tuple(x.shape[1:])}; resize it to {s}x{s} (or pass --resize)."
            )
        was_training = self.G.training
        saved = {k: v.clone() for k, v in self.G.state_dict().items() if "running" in k or "num_batches" in k}
        self.G.train()
        try:
            return self.G(x.to(self.device))
        finally:
            self.G.load_state_dict(saved, strict=False)
            self.G.train(was_training)

    def preview(self, batch):
        from ..viz import match_channels  # on use: viz imports torchvision, which `list` never needs

        A, B = batch["A"][:8], batch["B"][:8]
        fake = self.translate(A)
        rows = torch.stack([match_channels(A, B), fake, B], dim=1).flatten(0, 1)  # (N, 3, C, H, W) -> (3N, C, H, W)
        return rows, 6  # two examples per row: input | output | target
