"""Energy-based Generative Adversarial Network. Zhao, Mathieu, LeCun, 2017. arXiv:1609.03126

The discriminator is an energy function that gives low energy to data and high energy elsewhere;
the generator learns to produce samples of low energy. Here the energy is the reconstruction error
of an autoencoder, D(x) = ||Dec(Enc(x)) - x|| (section 2.3), and the losses are a margin loss
(section 2.1, eq. 1 and 2):

    L_D = D(x) + [m - D(G(z))]^+
    L_G = D(G(z)) + lambda_PT f_PT(Enc(G(z)))

D pulls the energy of data down and pushes that of generated samples up until it reaches the margin
m; beyond m a fake sample costs D nothing. The pulling-away term f_PT (section 2.4, eq. 6, in
`ganthology.losses`) is the mean squared cosine similarity between the encoder's embeddings of the
samples of a generated batch: G lowers it to keep its samples apart, against mode collapse (the
"EBGAN-PT" models).

Networks: G is DCGAN's generator (section 4.3 builds on DCGAN), the autoencoder a stride-2
convolutional encoder with three layers (ndf, 2ndf, 4ndf; BatchNorm and LeakyReLU as in DCGAN's
discriminator) and a mirrored transposed-convolution decoder (the paper's LSUN / CelebA
architecture, sized by the image). On vector data (the 2-D toys) both are ReLU MLPs, as in the
paper's fully connected MNIST models. The energy is the squared error averaged over a
sample's elements, so that the margin does not depend on the image size.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import GanthologyError
from ..losses import pulling_away_term
from ..nn import dcgan_init, make_generator
from ..registry import register_model
from .base import WEIGHT_AVERAGE, DataInfo, GANModel, frozen


@dataclass
class EBGANConfig:
    z_dim: int = 100  # noise dimension (DCGAN's, whose generator section 4.3 uses)
    ngf: int = 64  # DCGAN generator width; MLP hidden units / 2 on vector data
    ndf: int = 64  # autoencoder width: encoder channels ndf, 2ndf, 4ndf; MLP hidden units / 2 on vectors
    margin: float = 1.0  # m in eq. 1, on the per-element mean squared reconstruction error
    lambda_pt: float = 0.1  # weight of the pulling-away term (the paper's EBGAN-PT models: 0.1)
    lr: float = 2e-4  # Adam, DCGAN's training setup
    beta1: float = 0.5  # Adam beta1, as in DCGAN
    beta2: float = 0.999  # Adam beta2, as in DCGAN
    batch_size: int = 64  # minibatch (DCGAN's setup; f_PT needs a batch of several samples)


class ConvAutoencoder(nn.Module):
    """(B, C, s, s) -> embedding (B, 4ndf, s/8, s/8) -> reconstruction (B, C, s, s)."""

    def __init__(self, channels: int, image_size: int, ndf: int):
        super().__init__()
        if image_size < 8 or image_size % 8:
            raise GanthologyError(
                f"ebgan needs images whose side is a multiple of 8, not {image_size}; set --image-size."
            )
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, C, s, s) -> (B, ndf, s/2, s/2)
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * ndf), nn.LeakyReLU(0.2, True),
        )
        self.decoder = nn.Sequential(  # (B, 4ndf, s/8, s/8) -> (B, C, s, s), linear output
            nn.ConvTranspose2d(4 * ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.ReLU(True),
            nn.ConvTranspose2d(2 * ndf, ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf), nn.ReLU(True),
            nn.ConvTranspose2d(ndf, channels, 4, 2, 1),
        )


class MLPAutoencoder(nn.Module):
    """(B, dim) -> embedding (B, width) -> reconstruction (B, dim), ReLU hidden layers."""

    def __init__(self, dim: int, width: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(dim, width), nn.ReLU(True), nn.Linear(width, width), nn.ReLU(True))
        self.decoder = nn.Sequential(nn.Linear(width, width), nn.ReLU(True), nn.Linear(width, dim))


@register_model("ebgan")
class EBGAN(GANModel):
    paper = "Energy-based Generative Adversarial Network. Zhao, Mathieu, LeCun, 2017. arXiv:1609.03126"
    year = 2017
    default_dataset = "mnist"
    train_defaults = WEIGHT_AVERAGE  # it helped this model at 5 minutes: FD 111 -> 103 (docs/results.md)
    Config = EBGANConfig
    augments_itself = True  # --augment: D reconstructs T(v) and is scored against T(v)

    def __init__(self, cfg: EBGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        self.G = make_generator(data, cfg.z_dim, cfg.ngf)  # DCGAN's for images, an MLP for points
        if data.is_vector:
            self.D = MLPAutoencoder(data.dim, 2 * cfg.ndf)
        else:
            self.D = ConvAutoencoder(data.channels, data.image_size, cfg.ndf)
            self.apply(dcgan_init)

    def energy(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-sample energy (B,), embedding): the squared reconstruction error of each sample,
        averaged over its elements (section 2.3), and the encoder's output Enc(v). Under --augment,
        of the transformed T(v), so that the autoencoder is scored against what it was given."""
        v = self.augmented(v)
        emb = self.D.encoder(v)
        err = (self.D.decoder(emb) - v).pow(2).flatten(start_dim=1).mean(dim=1)
        return err, emb

    def train_step(self, batch, step):
        x = batch["x"]
        c = self.cfg
        fake = self.G(torch.randn(x.shape[0], c.z_dim, device=x.device))
        # D: L_D = D(x) + [m - D(G(z))]^+ (eq. 1)
        e_real, _ = self.energy(x)
        e_fake, _ = self.energy(fake.detach())
        loss_D = e_real.mean() + (c.margin - e_fake).clamp_min(0).mean()
        self.update("D", loss_D)
        # G: L_G = D(G(z)) + lambda_PT f_PT(Enc(G(z))) (eq. 2 and section 2.4)
        with frozen(self.D):
            e_gen, emb = self.energy(fake)
            pt = pulling_away_term(emb)
            loss_G = e_gen.mean() + c.lambda_pt * pt
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(), "energy_real": e_real.mean().detach(),
                "energy_fake": e_fake.mean().detach(), "pt": pt.detach()}
