"""ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks. Wang, Yu, Wu, Gu, Liu, Dong,
Loy, Qiao, Tang, 2018. arXiv:1809.00219

ESRGAN revisits SRGAN's three parts (section 3). The generator keeps SRResNet's layout but its
blocks become Residual-in-Residual Dense Blocks without BatchNorm, with residual scaling and a
smaller initialisation (nn/rrdb.py). The discriminator becomes relativistic average (RaGAN,
Jolicoeur-Martineau 2018; eq. 1-2): it estimates whether a real image is more realistic than the
fakes on average, D_Ra(x_r, x_f) = sigmoid(C(x_r) - E[C(x_f)]), and G's adversarial loss uses
*both* terms,

    L_G^Ra = -E_{x_r}[log(1 - D_Ra(x_r, x_f))] - E_{x_f}[log D_Ra(x_f, x_r)],

so G gains from the gradients of real images too (the PyTorch-GAN script keeps only the second
term). The perceptual loss takes VGG19's conv5_4 features *before* the ReLU (section 3.3: sparser
after it, and brightness shifts), compared with L1. G's total loss is (eq. 3)

    L_G = L_percep + lambda L_G^Ra + eta L_1,   lambda = 5e-3, eta = 1e-2,

with L_1 = E|G(x_i) - y| the pixel loss. Training (section 4.1) first fits a PSNR-oriented model with
L_1 alone (Adam 2e-4, halved every 2e5 updates), then starts the GAN from it (1e-4, halved at 50k,
100k, 200k, 300k updates). Network interpolation (section 3.4) then trades perception for PSNR
without retraining: theta_G^INTERP = (1 - alpha) theta_G^PSNR + alpha theta_G^GAN.

Here one run does both phases: `psnr_steps` updates of L_1 alone, then the GAN. At the switch G's
weights are copied into `G_psnr`, a frozen generator that travels in checkpoints and exports, and
`translate(x, alpha=...)` upscales with the interpolated network (alpha 1, the default: the GAN
model; 0: the PSNR model). A run stopped before the switch holds only the PSNR model, and every
alpha gives it. `ganthology upscale RUN --alpha A` serves the interpolation to users.

Departures, for our data. Images are in [-1, 1] (as in srresnet.py); the L1 pixel loss is taken on
the paper's [0, 1] scale (half the [-1, 1] distance) so that eta weighs what it weighs in the paper.
`photo_sr` has 96x96 crops (the paper: 128x128); the discriminator adapts to the size. The VGG19
weights come from `vgg_weights` or torch's cache, with the random-init fallback of nn/perceptual.py
when offline (recorded in the run's config).
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import GanthologyError
from ..losses import relativistic_average_d_loss, relativistic_average_g_loss
from ..nn.perceptual import CONV5_4, VGGFeatures, resolve_vgg_weights
from ..nn.rrdb import RRDBNet, VGGStyleDiscriminator
from ..registry import register_model
from .base import DataInfo, GANModel, frozen
from .srresnet import SCALE, SRResNet


@dataclass
class ESRGANConfig:
    nf: int = 64  # section 4.1 / official RRDBNet: 64 feature channels
    n_rrdb: int = 23  # section 4.1: 23 RRDBs in G
    gc: int = 32  # official RRDBNet: growth of 32 channels per dense-block conv
    ndf: int = 64  # official VGGStyleDiscriminator: 64 channels at the first stage, up to 512
    lambda_ra: float = 5e-3  # eq. 3: lambda, the weight of the relativistic adversarial loss
    eta_l1: float = 1e-2  # eq. 3: eta, the weight of the L1 pixel loss
    vgg_weights: str = "auto"  # torchvision's vgg19-dcbb9e9d.pth: a path, or auto (torch's cache; random-init fallback)
    psnr_steps: int = 1_000_000  # section 4.1: L1-only PSNR-oriented updates before the GAN (official config: 10^6)
    psnr_lr: float = 2e-4  # section 4.1: the PSNR-oriented model's learning rate, 2e-4
    psnr_lr_halve_every: int = 200_000  # section 4.1: that rate halves every 2x10^5 updates
    lr: float = 1e-4  # section 4.1: the GAN phase's learning rate (G and D), 1e-4
    lr_milestones: str = "50000,100000,200000,300000"  # section 4.1: GAN updates after which the rate halves
    beta1: float = 0.9  # section 4.1: Adam beta1 = 0.9
    beta2: float = 0.999  # section 4.1: Adam beta2 = 0.999
    batch_size: int = 16  # section 4.1: mini-batches of 16 (128x128 HR crops)


@register_model("esrgan")
class ESRGAN(SRResNet):
    """SRResNet's data handling, scores and preview; the RRDB generator, RaGAN, both training phases
    and network interpolation."""

    paper = ("ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks. Wang et al., 2018. "
             "arXiv:1809.00219")
    year = 2018
    Config = ESRGANConfig
    # the GAN generator and the PSNR-oriented one: an export interpolates between them as a run does
    sampling_modules = ("G", "G_psnr")

    def __init__(self, cfg: ESRGANConfig, data: DataInfo):
        GANModel.__init__(self, cfg, data)  # not SRResNet's: another generator
        if data.image_size % SCALE:
            fit = data.image_size // SCALE * SCALE or SCALE
            raise GanthologyError(f"esrgan needs high-resolution images whose side is a multiple of {SCALE}, not "
                                  f"{data.image_size}; pass --image-size {fit}.")
        self.milestones = _milestones(cfg.lr_milestones)
        if cfg.psnr_steps < 0 or cfg.psnr_lr_halve_every < 1:
            raise GanthologyError("--psnr-steps must be 0 or more and --psnr-lr-halve-every at least 1.")
        self.G = RRDBNet(data.channels, cfg.nf, cfg.n_rrdb, cfg.gc, SCALE)
        # the PSNR-oriented generator, copied from G at the switch (section 3.4): no gradients, no optimizer
        self.G_psnr = RRDBNet(data.channels, cfg.nf, cfg.n_rrdb, cfg.gc, SCALE).requires_grad_(False)
        self.G_psnr.register_buffer("ready", torch.zeros((), dtype=torch.bool))  # set at the switch
        self.D = VGGStyleDiscriminator(data.channels, data.image_size, cfg.ndf)
        cfg.vgg_weights = resolve_vgg_weights(cfg.vgg_weights)  # recorded in the run's config
        self.vgg = VGGFeatures(cfg.vgg_weights, CONV5_4)  # section 3.3: conv5_4 before its ReLU; frozen
        self.__dict__["_interpolated"] = {}  # alpha -> (fingerprint, network): outside the module tree

    # --- the two phases ---------------------------------------------------------------------------
    def optimizers(self):
        c = self.cfg
        betas = (c.beta1, c.beta2)
        # the GAN phase starts a fresh Adam from the PSNR model, as the paper's second training does
        return {"G_pretrain": torch.optim.Adam(self.G.parameters(), lr=c.psnr_lr, betas=betas),
                "G": torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=betas),
                "D": torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=betas)}

    def schedulers(self):
        # in steps of the run (the trainer steps every schedule every step), so a continued run keeps them
        c, ms = self.cfg, self.milestones
        if self.total_steps is not None and self.total_steps <= c.psnr_steps:
            warnings.warn(f"this run of {self.total_steps} steps ends in the PSNR-oriented phase (--psnr-steps "
                          f"{c.psnr_steps}; the paper's is 10^6), so it trains no GAN and --alpha changes nothing; pass "
                          "--psnr-steps below --steps for both phases.", stacklevel=2)
        pre = torch.optim.lr_scheduler.LambdaLR(self.opt["G_pretrain"], lambda s: 0.5 ** (s // c.psnr_lr_halve_every))

        def gan(s: int) -> float:  # halved at each milestone, counted from the start of the GAN phase
            return 0.5 ** sum(s - c.psnr_steps >= m for m in ms)

        return {"G_pretrain": pre} | {k: torch.optim.lr_scheduler.LambdaLR(self.opt[k], gan) for k in ("G", "D")}

    def pixel_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """L_1 = E|G(x_i) - y| on the paper's [0, 1] scale: half the distance of our [-1, 1] images."""
        return 0.5 * F.l1_loss(sr, hr)

    def perceptual_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """Section 3.3: L1 between VGG19 conv5_4 features (before the activation) of G(x) and y."""
        with torch.no_grad():
            target = self.vgg(hr)
        return F.l1_loss(self.vgg(sr), target)

    @staticmethod
    def generator_adversarial_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Eq. 2, both terms, averaged as the official code does:
        1/2 [BCE(C(x_f) - E C(x_r), 1) + BCE(C(x_r) - E C(x_f), 0)]."""
        return 0.5 * relativistic_average_g_loss(real_logits, fake_logits)

    def take_psnr_snapshot(self) -> None:
        """The switch (section 3.4): the PSNR-oriented weights, kept for interpolation."""
        with torch.no_grad():
            for p, q in zip(self.G_psnr.parameters(), self.G.parameters()):
                p.copy_(q)
            self.G_psnr.ready.fill_(True)

    def train_step(self, batch, step):
        hr, lr = self.pair(batch)
        if step < self.cfg.psnr_steps:  # section 4.1: the PSNR-oriented model, L1 alone
            loss = self.pixel_loss(self.G(lr), hr)
            self.update("G_pretrain", loss)
            return {"loss_l1": loss.detach()}
        if step == self.cfg.psnr_steps:  # the switch; a resumed run finds the snapshot in its checkpoint
            self.take_psnr_snapshot()
        sr = self.G(lr)  # (B, C, H/4, W/4) -> (B, C, H, W)
        # G (eq. 3): perceptual + lambda x relativistic average (both terms) + eta x L1
        with frozen(self.D):
            loss_ra = self.generator_adversarial_loss(self.D(hr), self.D(sr))
        loss_percep = self.perceptual_loss(sr, hr)
        loss_l1 = self.pixel_loss(sr, hr)
        self.update("G", loss_percep + self.cfg.lambda_ra * loss_ra + self.cfg.eta_l1 * loss_l1)
        # D (eq. 1): real more realistic than the average fake, fake less than the average real; the
        # gradient flows through both means as eq. 1 reads (the official code detaches the other
        # side's scores in each term), halved as the official code does (Adam ignores the scale)
        loss_D = 0.5 * relativistic_average_d_loss(self.D(hr), self.D(sr.detach()))
        self.update("D", loss_D)
        return {"loss_D": loss_D.detach(), "loss_G": loss_ra.detach(), "loss_percep": loss_percep.detach(),
                "loss_l1": loss_l1.detach()}

    # --- network interpolation (section 3.4) ------------------------------------------------------
    def generator(self, alpha: float = 1.0) -> torch.nn.Module:
        """The network with theta = (1 - alpha) theta_PSNR + alpha theta_GAN: G itself at alpha 1 (and
        before the switch, when G is the PSNR model), G_psnr at 0, else an interpolated copy, cached
        per alpha until either network's weights change."""
        if alpha == 1 or not bool(self.G_psnr.ready):
            return self.G
        if alpha == 0:
            return self.G_psnr
        gan, psnr = list(self.G.parameters()), list(self.G_psnr.parameters())
        fingerprint = tuple((p.data_ptr(), p._version) for p in gan + psnr)
        cache = self.__dict__["_interpolated"]
        hit = cache.get(alpha)
        if hit is not None and hit[0] == fingerprint:
            return hit[1]
        net = copy.deepcopy(self.G_psnr)
        with torch.no_grad():
            for p, a, b in zip(net.parameters(), psnr, gan):
                p.copy_((1 - alpha) * a + alpha * b)
        if len(cache) > 8:
            cache.clear()
        cache[alpha] = (fingerprint, net)
        return net

    @torch.no_grad()
    def translate(self, x: torch.Tensor, alpha: float | None = None) -> torch.Tensor:
        """(N, C, h, w) LR images in [-1, 1], any size -> (N, C, 4h, 4w) in [-1, 1], by the network
        interpolated with weight `alpha` in [0, 1] (section 3.4): 1 (default) the GAN model, 0 the
        PSNR-oriented one, between them a blend of their weights."""
        alpha = 1.0 if alpha is None else alpha
        try:
            alpha = float(alpha)
        except (TypeError, ValueError):
            raise GanthologyError(f"--alpha {alpha!r}: give a number from 0 (the PSNR model) to 1 (the GAN model).") from None
        if not 0 <= alpha <= 1:
            raise GanthologyError(f"--alpha {alpha:g} lies outside [0, 1]: 0 is the PSNR model, 1 the GAN model.")
        c = self.data.channels
        if x.dim() != 4 or x.shape[1] != c:
            raise GanthologyError(f"{self.name} upscales {c}-channel images but got shape {tuple(x.shape)}.")
        return self.generator(alpha)(x.to(self.device)).clamp(-1, 1)  # no BatchNorm: no train/eval difference

    @torch.no_grad()
    def interpolation_curve(self, test: dict[str, torch.Tensor], alphas=(0, 0.2, 0.4, 0.6, 0.8, 1)) -> dict:
        """held_out_metrics at each alpha (section 3.4, figure 7: the perception-distortion trade)."""
        return {float(a): self.held_out_metrics(test, alpha=float(a)) for a in alphas}


def _milestones(spec: str) -> tuple[int, ...]:
    try:
        ms = tuple(sorted(int(s) for s in str(spec).replace(" ", "").split(",") if s))
    except ValueError:
        raise GanthologyError(f"--lr-milestones {spec!r}: give GAN-phase step counts separated by commas, "
                              "such as 50000,100000,200000,300000.") from None
    if any(m < 1 for m in ms):
        raise GanthologyError(f"--lr-milestones {spec!r}: the step counts must be positive.")
    return ms
