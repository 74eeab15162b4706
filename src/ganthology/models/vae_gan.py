"""Autoencoding beyond pixels using a learned similarity metric. Larsen, Sønderby, Larochelle,
Winther, 2016. arXiv:1512.09300

A variational autoencoder whose decoder is also a GAN's generator, and whose reconstruction error
is measured in the discriminator's feature space instead of pixel space (section 2). The VAE's
Gaussian pixel likelihood is replaced by a Gaussian on the l-th layer of the discriminator
(eq. 7-8): p(Dis_l(x) | z) = N(Dis_l(x) | Dis_l(x~), I) with x~ = Dec(z), z ~ Enc(x), so the
reconstruction loss is

    L_llike^Dis_l = 1/2 ||Dis_l(x) - Dis_l(x~)||^2                                   (eq. 8)

a similarity that the discriminator learns, invariant to what it finds irrelevant (small shifts).
The three networks share one objective L = L_prior + L_llike^Dis_l + L_GAN (eq. 9), where
L_prior = KL(q(z|x) || N(0, I)) and the GAN sees samples decoded from the prior as well as
reconstructions (eq. 10): L_GAN = log Dis(x) + log(1 - Dis(Dec(z_p))) + log(1 - Dis(Dec(Enc(x)))).
Each network takes the gradient of its own part only (section 2.1, algorithm 1):

    Enc  minimizes  L_prior + L_llike^Dis_l          (no GAN gradient reaches the encoder)
    Dec  minimizes  gamma L_llike^Dis_l - L_GAN      (gamma: content vs. style)
    Dis  maximizes  L_GAN                             (it never minimizes L_llike, which would collapse it)

All three gradients are taken at the same weights (algorithm 1): the losses are built first and
the networks step in the order Enc, Dec, Dis. Enc's and Dec's losses come from one pass through
Dec and Dis, and each backward fills only its own network's parameters (`update(...,
shared_graph=True)`), which gives each network the gradient of its own loss alone. Dis sees the
batch [x, x~, x_p] as one minibatch, so that its BatchNorm statistics (and with them Dis_l) are the
same for data and reconstructions, as in the authors' code. The paper gives no value for gamma (as
remembered); we use 1, the unit weight of the joint objective eq. 9. The authors' released code
uses 1e-5 to 1e-6 together with a rule that skips Dis's or Dec's update when Dis is far from
equilibrium, which the paper does not describe; without that rule a tiny gamma leaves Dec a plain
generator, and reconstructions did not improve in our short runs. Departures: Dec uses the
non-saturating form of -L_GAN (it maximizes log Dis(x~) + log Dis(x_p), Goodfellow et al., section
3); networks keep PyTorch's default initialization and RMSProp its default decay (the paper names
neither, as remembered).

Networks: the paper's table for 64x64 CelebA (as remembered), with the same three stride-2 layers
at every power-of-two size, so that the map at the fully connected layers is (size/8)^2:
Enc 5x5 conv 64, 128, 256 (stride 2, BatchNorm, ReLU), fc 2048 (BatchNorm, ReLU; the authors'
code: 1024), fc mu and log-variance; Dec fc 8x8x256 (BatchNorm, ReLU), 5x5 transposed conv 256,
128, 32 (stride 2, BatchNorm, ReLU), 5x5 conv to the image, Tanh; Dis 5x5 conv 32 (ReLU), 5x5 conv
128, 256, 256 (stride 2, BatchNorm, ReLU), fc 512 (BatchNorm, ReLU), fc 1. Dis_l is the fourth
convolution, before its BatchNorm (the authors' code: reconstruction depth 9). All widths scale
with `width`; the default is a quarter of the table's for small images (see the config).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..registry import register_model
from .base import DataInfo, GANModel, frozen


@dataclass
class VAEGANConfig:
    z_dim: int = 128  # section 3 (CelebA): a 128-dimensional latent space (as remembered)
    # The table's widths (Enc 64-128-256, fc 2048; Dis 32-128-256-256, fc 512) are width 64, for
    # 64x64 faces (--width 64). Ours is a quarter of them for small images: 5 min of one core on
    # MNIST gave FD 719 and 7 classes at 64 (132 steps), 340 / recall 0.13 at 32 (436 steps), and
    # 206 / recall 0.35 at 16 (981 steps), before Enc and Dec shared one pass (docs/results.md).
    width: int = 16  # all widths scale with it; the paper's table is 64 (see above)
    gamma: float = 1.0  # section 2.1: Dec minimizes gamma L_llike - L_GAN; the text gives no value (as remembered): 1, eq. 9's weight
    lr: float = 3e-4  # section 3: RMSProp with a learning rate of 0.0003 (as remembered)
    batch_size: int = 64  # section 3: minibatches of 64 (as remembered)


def _check_size(image_size: int) -> None:
    n = math.log2(image_size)
    if image_size < 8 or n != int(n):
        raise GanthologyError(
            f"vae_gan needs square power-of-two images of at least 8x8, not {image_size}x{image_size}; "
            "set --image-size."
        )


def _down(c_in: int, c_out: int) -> list[nn.Module]:
    """5x5 stride-2 convolution, BatchNorm, ReLU: (B, c_in, s, s) -> (B, c_out, s/2, s/2)."""
    return [nn.Conv2d(c_in, c_out, 5, 2, 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    """5x5 stride-2 transposed convolution, BatchNorm, ReLU: (B, c_in, s, s) -> (B, c_out, 2s, 2s)."""
    return [nn.ConvTranspose2d(c_in, c_out, 5, 2, 2, output_padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(True)]


class Encoder(nn.Module):
    """q(z|x): (B, C, s, s) -> mu, log-variance, each (B, z_dim)."""

    def __init__(self, channels: int, image_size: int, w: int, z_dim: int):
        super().__init__()
        _check_size(image_size)
        side = image_size // 8
        self.net = nn.Sequential(
            *_down(channels, w), *_down(w, 2 * w), *_down(2 * w, 4 * w),  # (B, C, s, s) -> (B, 4w, s/8, s/8)
            nn.Flatten(), nn.Linear(4 * w * side * side, 32 * w, bias=False), nn.BatchNorm1d(32 * w), nn.ReLU(True),
        )
        self.mu = nn.Linear(32 * w, z_dim)
        self.logvar = nn.Linear(32 * w, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(x)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    """p(x|z), also the GAN's generator: (B, z_dim) -> (B, C, s, s) in [-1, 1]."""

    def __init__(self, z_dim: int, channels: int, image_size: int, w: int):
        super().__init__()
        _check_size(image_size)
        self.shape = (4 * w, image_size // 8, image_size // 8)
        self.fc = nn.Sequential(nn.Linear(z_dim, math.prod(self.shape), bias=False),
                                nn.BatchNorm1d(math.prod(self.shape)), nn.ReLU(True))
        self.net = nn.Sequential(
            *_up(4 * w, 4 * w), *_up(4 * w, 2 * w), *_up(2 * w, w // 2),  # (B, 4w, s/8, s/8) -> (B, w/2, s, s)
            nn.Conv2d(w // 2, channels, 5, 1, 2), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(z.shape[0], *self.shape))


class Discriminator(nn.Module):
    """Dis: (B, C, s, s) -> (one logit per image, Dis_l features (B, 4w, s/8, s/8))."""

    def __init__(self, channels: int, image_size: int, w: int):
        super().__init__()
        _check_size(image_size)
        side = image_size // 8
        # up to Dis_l: conv 32, then conv 128, 256 (stride 2, BatchNorm, ReLU), then the fourth conv
        self.to_l = nn.Sequential(
            nn.Conv2d(channels, w // 2, 5, 1, 2), nn.ReLU(True),
            *_down(w // 2, 2 * w), *_down(2 * w, 4 * w),
            nn.Conv2d(4 * w, 4 * w, 5, 2, 2, bias=False),  # Dis_l: (B, 4w, s/8, s/8)
        )
        self.head = nn.Sequential(
            nn.BatchNorm2d(4 * w), nn.ReLU(True), nn.Flatten(),
            nn.Linear(4 * w * side * side, 8 * w, bias=False), nn.BatchNorm1d(8 * w), nn.ReLU(True),
            nn.Linear(8 * w, 1),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.to_l(x)
        return self.head(feat).flatten(), feat


@register_model("vae_gan")
class VAEGAN(GANModel):
    paper = "Autoencoding beyond pixels using a learned similarity metric. Larsen et al., 2016. arXiv:1512.09300"
    year = 2016
    default_dataset = "mnist"
    Config = VAEGANConfig
    sampling_modules = ("G", "E")  # the decoder samples, the encoder encodes
    vector_data = False  # convolutional networks (the paper's table): images only
    augments_itself = True  # --augment: Dis_l's features of x and x~ are compared, under one transformation

    def __init__(self, cfg: VAEGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        c, s = data.channels, data.image_size
        self.E = Encoder(c, s, cfg.width, cfg.z_dim)  # Enc
        self.G = Decoder(cfg.z_dim, c, s, cfg.width)  # Dec
        self.D = Discriminator(c, s, cfg.width)  # Dis

    def optimizers(self):
        lr = self.cfg.lr
        return {
            "E": torch.optim.RMSprop(self.E.parameters(), lr=lr),
            "G": torch.optim.RMSprop(self.G.parameters(), lr=lr),
            "D": torch.optim.RMSprop(self.D.parameters(), lr=lr),
        }

    def noise(self, n: int, device=None) -> torch.Tensor:
        """z_p ~ p(z) = N(0, I)."""
        return torch.randn(n, self.cfg.z_dim, device=device if device is not None else self.device)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of q(z|x)."""
        return self.E(x)[0]

    def discriminate(self, x: torch.Tensor, x_tilde: torch.Tensor, x_p: torch.Tensor):
        """Dis on [x, x~, x_p] as one minibatch: logits and Dis_l features, each split in three.
        Under --augment x and x~ get the same transformation, so that Dis_l compares like with like."""
        x, x_tilde = self.augmented(x, x_tilde)
        logits, feat = self.D(torch.cat([x, x_tilde, self.augmented(x_p)]))
        return logits.chunk(3), feat.chunk(3)

    @staticmethod
    def dis_l_nll(feat_x: torch.Tensor, feat_tilde: torch.Tensor) -> torch.Tensor:
        """L_llike^Dis_l (eq. 7-8): -log N(Dis_l(x) | Dis_l(x~), I) up to a constant, summed over the
        features of an image and averaged over the batch."""
        return 0.5 * (feat_x - feat_tilde).pow(2).flatten(start_dim=1).sum(dim=1).mean()

    def train_step(self, batch, step):
        x = batch["x"]
        mu, logvar = self.E(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # reparameterization
        # L_prior = KL(q(z|x) || N(0, I)), summed over z's dimensions, averaged over the batch
        loss_prior = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(dim=1).mean()
        z_p = self.noise(x.shape[0], x.device)

        # Enc's and Dec's losses from one pass through Dec and Dis (Dis takes neither gradient)
        with frozen(self.D):
            x_tilde, x_p = self.G(z), self.G(z_p)
            (_, d_tilde, d_p), (f_x, f_tilde, _) = self.discriminate(x, x_tilde, x_p)
            loss_llike = self.dis_l_nll(f_x, f_tilde)
            loss_E = loss_prior + loss_llike
            loss_gan_G = (F.binary_cross_entropy_with_logits(d_tilde, torch.ones_like(d_tilde))
                          + F.binary_cross_entropy_with_logits(d_p, torch.ones_like(d_p)))
            loss_G = self.cfg.gamma * loss_llike + loss_gan_G
        # Dis's loss: -L_GAN as binary cross-entropy, data real, reconstructions and samples fake
        (d_x, d_tilde, d_p), _ = self.discriminate(x, x_tilde.detach(), x_p.detach())
        loss_D = (F.binary_cross_entropy_with_logits(d_x, torch.ones_like(d_x))
                  + F.binary_cross_entropy_with_logits(d_tilde, torch.zeros_like(d_tilde))
                  + F.binary_cross_entropy_with_logits(d_p, torch.zeros_like(d_p)))

        # algorithm 1: every gradient at the weights of this step, each network taking only the
        # gradient of its own loss: Enc's backward fills Enc's parameters alone (through Dec and
        # Dis), Dec's fills Dec's alone (it stops at z, before Enc, which has stepped by then).
        self.update("E", loss_E, shared_graph=True)
        self.update("G", loss_G, shared_graph=True)
        self.update("D", loss_D)
        return {"loss_prior": loss_prior.detach(), "loss_llike": loss_llike.detach(), "loss_G": loss_G.detach(),
                "loss_D": loss_D.detach()}
