"""Multimodal Unsupervised Image-to-Image Translation. Huang, Liu, Belongie, Kautz, 2018.
arXiv:1804.04732

An image is split into a content code, shared by both domains, and a style code, specific to its
domain (section 3.1). Each domain has an auto-encoder: a content encoder E^c (downsampling and
residual blocks with instance normalisation, so the code keeps the spatial layout and loses the
style statistics), a style encoder E^s (downsampling, global average pooling, a linear layer to an
8-D code; no normalisation) and a decoder G whose residual blocks use adaptive instance
normalisation (section 4) with parameters given by an MLP of the style code (section 4). To translate
a from A to B, its content is decoded with a style drawn from the prior p(s_B) = N(0, I): each
draw gives another output, so one input has many translations; or with the style of a reference
image of B, E^s_B(b) (example-guided translation, section 3.1).

Training (section 3.2, eq. 5) combines: image reconstruction within each domain,
||G_A(E^c_A(a), E^s_A(a)) - a||_1 (eq. 1); latent reconstruction after a translation, the content
||E^c_B(G_B(c_A, s_B)) - c_A||_1 and the style ||E^s_B(G_B(c_A, s_B)) - s_B||_1 for a random s_B
(eq. 2-3); and the adversarial loss of translations against each domain's multi-scale
discriminator (eq. 4, least squares in the official code). Weights of the official config, used
for section 5.1: gan 1, x 10, c 1, s 1, and the explicit cycle loss (section 3.2's style-augmented
cycle consistency) 0.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.folders import check_direction
from ..errors import GanthologyError
from ..nn import dcgan_init
from ..nn.adain import AdaINDecoder, ContentEncoder, MultiScaleDiscriminator, StyleEncoder, kaiming_init
from ..registry import register_model
from .base import DataInfo, frozen
from .two_domain import TwoDomainModel, labels_of, to_channels


@dataclass
class MUNITConfig:
    lambda_gan: float = 1.0  # eq. 5 / official config gan_w: weight of the adversarial loss
    lambda_x: float = 10.0  # eq. 5 (lambda_x) / official recon_x_w: image reconstruction within each domain
    lambda_c: float = 1.0  # eq. 5 (lambda_c) / official recon_c_w: content reconstruction after translation
    lambda_s: float = 1.0  # eq. 5 (lambda_s) / official recon_s_w: style reconstruction after translation
    lambda_x_cyc: float = 0.0  # section 3.2 style-augmented cycle loss / official recon_x_cyc_w: 0 (off) in section 5.1
    style_dim: int = 8  # official config style_dim: 8-dimensional style codes
    dim: int = 64  # official config gen dim: width of the first conv of the encoders
    mlp_dim: int = 256  # official config mlp_dim: hidden width of the MLP from the style to the AdaIN parameters
    n_down: int = 2  # official config n_downsample: the content encoder halves the image twice
    style_down: int = 4  # official StyleEncoder(4, ...): its stride-2 convs, at most log2(size) - 1 (>= 2x2 remain)
    n_res: int = 4  # official config n_res: residual blocks in the content encoder and in the decoder
    ndf: int = 64  # official config dis dim: width of the first conv of each discriminator scale
    d_layers: int = 4  # official config n_layer: stride-2 convs per scale (fewer on copies too small for them)
    d_scales: int = 3  # official config num_scales: the discriminator sees the image at 3 scales
    lr: float = 1e-4  # official config lr: Adam, learning rate 0.0001
    beta1: float = 0.5  # official config: beta1
    beta2: float = 0.999  # official config: beta2
    weight_decay: float = 1e-4  # official config weight_decay (Adam's L2 penalty)
    lr_step: int = 100_000  # official config step_size: the learning rate is halved every 100k iterations
    lr_gamma: float = 0.5  # official config gamma: the factor of each step
    batch_size: int = 1  # official config batch_size: 1


class AutoEncoder(nn.Module):
    """One domain's content encoder, style encoder and AdaIN decoder (the official `AdaINGen`)."""

    def __init__(self, channels: int, size: int, cfg: MUNITConfig):
        super().__init__()
        self.content = ContentEncoder(channels, cfg.dim, cfg.n_down, cfg.n_res)
        # the official code's four stride-2 convs leave 16x16 of a 256x256 image; at 32x32 four
        # leave 2x2, and smaller images get fewer so that the pooled map is never below 2x2
        style_down = max(1, min(cfg.style_down, int(math.log2(size)) - 1))
        self.style = StyleEncoder(channels, cfg.dim, style_down, cfg.style_dim)
        self.dec = AdaINDecoder(channels, self.content.out_channels, cfg.n_down, cfg.n_res, cfg.style_dim, cfg.mlp_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.content(x), self.style(x)  # (B, 256, H/4, W/4), (B, style_dim)

    def decode(self, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return self.dec(c, s)


def gen_adv_loss(outs: list[torch.Tensor]) -> torch.Tensor:
    """The generator's least-squares loss summed over the scales: E[(D(x) - 1)^2] (official calc_gen_loss)."""
    return sum(((o - 1) ** 2).mean() for o in outs)


def dis_adv_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """The discriminator's least-squares loss summed over the scales: E[D(x)^2] + E[(D(x') - 1)^2]
    for fakes x' and reals x (official calc_dis_loss)."""
    return sum((f**2).mean() + ((r - 1) ** 2).mean() for r, f in zip(real, fake))


@register_model("munit")
class MUNIT(TwoDomainModel):
    paper = "Multimodal Unsupervised Image-to-Image Translation. Huang et al., 2018. arXiv:1804.04732"
    year = 2018
    default_dataset = "edges2mnistm"  # one-to-many, as the paper's edges2shoes (section 5.1)
    Config = MUNITConfig
    sampling_modules = ("G_A", "G_B")
    multimodal = True
    scores = {**TwoDomainModel.scores, "diversity_AtoB": "max", "diversity_BtoA": "max",
              "guided_digit_kept_AtoB": "max", "guided_digit_kept_BtoA": "max", "guided_fd_AtoB": "min",
              "guided_fd_BtoA": "min"}

    def __init__(self, cfg: MUNITConfig, data: DataInfo):
        super().__init__(cfg, data)  # the domains' keys, channels and size (models/two_domain.py)
        if self.size % 2**cfg.n_down:
            raise GanthologyError(f"munit's content encoder halves the image {cfg.n_down} times; use an image size "
                                  f"that is a multiple of {2**cfg.n_down}, not {self.size}.")
        self.G_A = AutoEncoder(self.c_A, self.size, cfg)  # official gen_a
        self.G_B = AutoEncoder(self.c_B, self.size, cfg)
        self.D_A = MultiScaleDiscriminator(self.c_A, self.size, cfg.ndf, cfg.d_layers, cfg.d_scales)
        self.D_B = MultiScaleDiscriminator(self.c_B, self.size, cfg.ndf, cfg.d_layers, cfg.d_scales)
        # official trainer: everything Kaiming (config init: kaiming), then the discriminators N(0, 0.02)
        self.apply(kaiming_init)
        self.D_A.apply(dcgan_init)
        self.D_B.apply(dcgan_init)

    @property
    def size_multiple(self) -> int:  # the content encoder's downsampling (4 with the paper's n_down 2)
        return 2**self.cfg.n_down

    def optimizers(self):
        c = self.cfg
        kw = dict(lr=c.lr, betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)
        # one Adam for both auto-encoders and one for both discriminators, as the official trainer
        return {"G": torch.optim.Adam(itertools.chain(self.G_A.parameters(), self.G_B.parameters()), **kw),
                "D": torch.optim.Adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), **kw)}

    def schedulers(self):
        # official config: lr_policy "step": halved every lr_step iterations
        c = self.cfg
        return {k: torch.optim.lr_scheduler.StepLR(opt, c.lr_step, c.lr_gamma) for k, opt in self.opt.items()}

    def random_style(self, n: int) -> torch.Tensor:
        """Style codes from the prior p(s) = N(0, I) (section 3.1), used alike in training and in
        translation (PyTorch-GAN trained with N(0, I) but sampled U(-1, 1))."""
        return torch.randn(n, self.cfg.style_dim, device=self.device)

    # --- training ---------------------------------------------------------------------------------
    def generator_losses(self, real_A, real_B, s_A, s_B) -> dict[str, torch.Tensor]:
        """The unweighted terms of eq. 5 for the random styles s_A, s_B (official gen_update)."""
        c_A, s_A_own = self.G_A.encode(real_A)
        c_B, s_B_own = self.G_B.encode(real_B)
        # eq. 1: reconstruct each image from its own codes
        loss_x = F.l1_loss(self.G_A.decode(c_A, s_A_own), real_A) + F.l1_loss(self.G_B.decode(c_B, s_B_own), real_B)
        # translate each content with a random style of the other domain
        fake_A, fake_B = self.G_A.decode(c_B, s_A), self.G_B.decode(c_A, s_B)
        c_B_rec, s_A_rec = self.G_A.encode(fake_A)
        c_A_rec, s_B_rec = self.G_B.encode(fake_B)
        # eq. 2: the content codes are targets, not detached: the gradient reaches the source's
        # content encoder from both sides, as in the official code (PyTorch-GAN detached them)
        loss_c = F.l1_loss(c_A_rec, c_A) + F.l1_loss(c_B_rec, c_B)
        loss_s = F.l1_loss(s_A_rec, s_A) + F.l1_loss(s_B_rec, s_B)  # eq. 3
        loss_gan = gen_adv_loss(self.D_A(fake_A)) + gen_adv_loss(self.D_B(fake_B))  # eq. 4, least squares
        out = {"loss_gan": loss_gan, "loss_x": loss_x, "loss_c": loss_c, "loss_s": loss_s}
        if self.cfg.lambda_x_cyc > 0:  # section 3.2: back to the source with its own style
            out["loss_x_cyc"] = (F.l1_loss(self.G_A.decode(c_A_rec, s_A_own), real_A)
                                 + F.l1_loss(self.G_B.decode(c_B_rec, s_B_own), real_B))
        return out

    def train_step(self, batch, step):
        c = self.cfg
        real_A, real_B = batch[self.key_A], batch[self.key_B]
        n = real_A.shape[0]
        # --- discriminators first, as the official loop: real against translations with random styles ---
        with torch.no_grad():
            fake_A = self.G_A.decode(self.G_B.content(real_B), self.random_style(n))
            fake_B = self.G_B.decode(self.G_A.content(real_A), self.random_style(n))
        loss_D_A = dis_adv_loss(self.D_A(real_A), self.D_A(fake_A))
        loss_D_B = dis_adv_loss(self.D_B(real_B), self.D_B(fake_B))
        self.update("D", c.lambda_gan * (loss_D_A + loss_D_B))
        # --- auto-encoders: eq. 5 ---
        with frozen(self.D_A, self.D_B):
            losses = self.generator_losses(real_A, real_B, self.random_style(n), self.random_style(n))
            total = (c.lambda_gan * losses["loss_gan"] + c.lambda_x * losses["loss_x"] + c.lambda_c * losses["loss_c"]
                     + c.lambda_s * losses["loss_s"] + c.lambda_x_cyc * losses.get("loss_x_cyc", 0.0))
        self.update("G", total)
        out = {k: v.detach() for k, v in losses.items()}
        return out | {"loss_D_A": loss_D_A.detach(), "loss_D_B": loss_D_B.detach()}

    # --- use --------------------------------------------------------------------------------------
    def map(self, x: torch.Tensor, direction: str, style: torch.Tensor | None = None) -> torch.Tensor:
        """x's content decoded in the other domain with `style` ((B, style_dim) or (1, style_dim)),
        by default a new random style per image from the prior."""
        src, dst = (self.G_A, self.G_B) if direction == "AtoB" else (self.G_B, self.G_A)
        s = self.random_style(x.shape[0]) if style is None else style.expand(x.shape[0], -1)
        return dst.decode(src.content(x), s)

    @torch.no_grad()
    def style_of(self, image: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """The style code (1, style_dim) of a reference image of the target domain of `direction`,
        as read: (1, C, H, W) in [-1, 1], any C in {1, 3}, any size; its channels are converted
        to the domain's and it is resized to the training size."""
        check_direction(direction)
        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3):
            raise GanthologyError(f"the style image must be one grey or colour image; got shape {tuple(image.shape)}.")
        c_dst, enc = (self.c_B, self.G_B) if direction == "AtoB" else (self.c_A, self.G_A)
        image = to_channels(image.to(self.device).float(), c_dst)
        if image.shape[-2:] != (self.size, self.size):
            image = F.interpolate(image, size=(self.size, self.size), mode="bilinear", antialias=True,
                                  align_corners=False)
        return enc.style(image)

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AtoB", style: torch.Tensor | None = None) -> torch.Tensor:
        """Images of domain A (direction AtoB) or B (BtoA), in [-1, 1], translated to the other:
        each with a new random style from N(0, I) (torch's RNG), or, given `style` (a reference
        image of the target domain, see `style_of`), all with that image's style."""
        self.check_input(x, direction)
        s = None if style is None else self.style_of(style, direction)
        return self.map(x.to(self.device), direction, s)

    @torch.no_grad()
    def held_out_metrics(self, test):
        """The two-domain numbers (models/two_domain.py: cycle error, digits kept, FD, their identity
        baselines, and the diversity of 4 translations with random styles), and for example-guided
        translation (section 3.1, Fig. 1): guided_digit_kept_* and guided_fd_*, the same scores for
        translations that each take the style of a held-out image of the target domain (another
        image than the one at the input's position, so that no pairing can leak)."""
        from ..metrics.evaluators import evaluator_for
        from ..metrics.translation import content_and_realism

        out = super().held_out_metrics(test)
        for name, src, dst in (("AtoB", self.key_A, self.key_B), ("BtoA", self.key_B, self.key_A)):
            ev = evaluator_for(self.data.parts[dst].dataset)
            if ev is None:
                continue
            G_src, G_dst = (self.G_A, self.G_B) if name == "AtoB" else (self.G_B, self.G_A)
            n = min(len(test[src]), len(test[dst]))
            x, refs = test[src][:n], test[dst][:n].roll(1, 0)
            fake = torch.cat([G_dst.decode(G_src.content(xb), G_dst.style(rb))
                              for xb, rb in zip(x.split(100), refs.split(100))])
            labels = labels_of(test, self.data, src)
            scores = content_and_realism(fake, None if labels is None else labels[:n], test[dst], ev)
            out |= {f"guided_{k}_{name}": v for k, v in scores.items()}
        return out
