"""Toward Multimodal Image-to-Image Translation. Zhu, Zhang, Pathak, Darrell, Efros, Wang, Shechtman,
2017. arXiv:1711.11586

pix2pix maps an input A to one output; when many outputs B fit one A (a sketch of a shoe, many
colours), its noise is ignored and it collapses to one mode. BicycleGAN gives the generator a
low-dimensional latent code z and makes the mapping between z and the output invertible, so that
z cannot be ignored and different z give different, realistic B. It trains two branches at once
(section 3.4, fig. 2):

- cVAE-GAN (section 3.2, B -> z -> B'): an encoder E maps the ground truth B to a Gaussian
  q(z|B) = N(mu, sigma^2); G(A, z) with z drawn from it must reconstruct B (L1, weight lambda = 10)
  and fool a discriminator; a KL term (lambda_KL = 0.01) keeps q(z|B) near N(0, I), so that z can be
  drawn from the prior at test time (eq. 3-4).
- cLR-GAN (section 3.3, z -> B' -> z'): a random z ~ N(0, I) is given to G; D2 judges the output and
  E must recover z from it (L1 on the mean, weight lambda_latent = 0.5, eq. 5). This latent loss
  updates G only (the paper's implementation details; the official code freezes E for it): trained
  on it jointly, G and E learn to hide z in the output instead of making it a visible mode.

The hybrid objective is eq. 6: G*, E* = arg min max L_GAN^VAE(G, D, E) + lambda L_1^VAE(G, E) +
L_GAN(G, D2) + lambda_latent L_1^latent(G, E) + lambda_KL L_KL(E). As in the official code
(junyanz/BicycleGAN, models/bicycle_gan_model.py) each batch is split in two halves: the first
feeds the cVAE-GAN branch (A1, B1 -> z = E(B1)) and, with the same inputs A1 and a random z, the
cLR-GAN branch, whose discriminator D2 sees the second half's targets B2 as its real images.
At test time z ~ N(0, I): `translate` draws a new z on every call (`multimodal`).

Networks (section 3.5, official code defaults): G is the U-Net of pix2pix with z tiled over
H x W and concatenated to the input ("add_to_input"; the paper also injects z into every encoder
layer, "add_to_all", the official code's default, and compares the two); instance normalisation
as the official --norm instance; E is a ResNet whose last 8x8 map is
averaged (at 256x256 its first convolution and four residual stages end at 8x8; at other sizes the
stage count follows the size, so it always ends at 8x8); each D is a two-scale PatchGAN with
least-squares loss (Mao et al.).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..nn import PatchGANDiscriminator, UNetGenerator
from ..registry import register_model
from .base import DataInfo, GANModel, constant_then_linear_decay, frozen
from .two_domain import to_channels


@dataclass
class BicycleGANConfig:
    z_dim: int = 8  # section 3.5 / official --nz 8: |z| = 8
    lambda_L1: float = 10.0  # section 3.5 / official --lambda_L1: lambda = 10, ||B - G(A, E(B))||_1
    lambda_latent: float = 0.5  # section 3.5 / official --lambda_z: lambda_latent = 0.5, ||z - E(G(A, z))||_1
    lambda_KL: float = 0.01  # section 3.5 / official --lambda_kl: lambda_KL = 0.01
    ngf: int = 64  # official --ngf 64: U-Net C64-C128-C256-C512-...
    nef: int = 64  # official --nef 64: E's first convolution; its stages widen to 4x at most
    ndf: int = 64  # official --ndf 64: each D's full-scale PatchGAN; the half-scale one has ndf/2
    d_layers: int = 3  # official netD basic_256_multi: 3 stride-2 layers (70x70 patches at full scale)
    num_Ds: int = 2  # official --num_Ds 2: PatchGANs on the image and on it downsampled by 2
    dropout: float = 0.0  # official --use_dropout is off by default (the edges2shoes script turns it on)
    lr: float = 2e-4  # official --lr 0.0002 (Adam, as pix2pix)
    beta1: float = 0.5  # official --beta1 0.5
    beta2: float = 0.999  # official: Adam betas (beta1, 0.999)
    decay_from: float = 0.5  # official --niter 100 --niter_decay 100: constant, then linear decay to 0
    batch_size: int = 2  # official --batch_size 2: one pair for each branch (must be even)


def _instance_norm(net: nn.Module) -> nn.Module:
    """Swap every BatchNorm of `net` for an InstanceNorm without affine parameters, the official
    code's --norm instance (get_norm_layer: affine=False, no running statistics)."""
    for module in net.modules():
        for name, child in module.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, name, nn.InstanceNorm2d(child.num_features))
    return net


class Generator(nn.Module):
    """G(A, z): z (B, |z|) tiled to (B, |z|, H, W) and concatenated to A, then the pix2pix U-Net
    (official G_Unet_add_input, section 3.5 "add_to_input")."""

    def __init__(self, c_in: int, c_out: int, z_dim: int, size: int, ngf: int, dropout: float):
        super().__init__()
        self.unet = _instance_norm(UNetGenerator(c_in + z_dim, c_out, size, ngf, dropout=dropout))

    @staticmethod
    def with_z(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # (B, C, H, W) ++ (B, |z|) -> (B, C + |z|, H, W): every pixel sees all of z
        return torch.cat([x, z[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])], dim=1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.unet(self.with_z(x, z))


class BasicBlock(nn.Module):
    """E's residual stage (official BasicBlock): norm-LReLU-conv3-norm-LReLU-conv3-avgpool2 plus an
    avgpool2-conv1 shortcut; (B, c_in, H, W) -> (B, c_out, H/2, W/2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.InstanceNorm2d(c_in), nn.LeakyReLU(0.2, True), nn.Conv2d(c_in, c_in, 3, 1, 1),
            nn.InstanceNorm2d(c_in), nn.LeakyReLU(0.2, True), nn.Conv2d(c_in, c_out, 3, 1, 1), nn.AvgPool2d(2))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


class Encoder(nn.Module):
    """E(B) -> (mu, logvar) of q(z|B) (official E_ResNet, vaeLike). A 4x4 stride-2 convolution, then
    residual stages that halve the map until it is 8x8, LeakyReLU, the mean over the 8x8 map and
    two linear heads. The official code hard-wires AvgPool2d(8) to the map of a 256x256 (resnet_256,
    4 stages) or 128x128 image (resnet_128, 3 stages); here the stage count follows the image size
    (32x32: 1 stage, 64x64: 2), and images smaller than 16x16 are averaged over what is left."""

    def __init__(self, c_in: int, z_dim: int, size: int, nef: int = 64):
        super().__init__()
        n_stages = max(0, int(math.log2(size)) - 4)  # size/2 -> 8: 256 -> 4, 128 -> 3, 32 -> 1
        layers: list[nn.Module] = [nn.Conv2d(c_in, nef, 4, 2, 1)]  # (B, C, s, s) -> (B, nef, s/2, s/2)
        ch = nef
        for n in range(1, n_stages + 1):
            out = nef * min(4, n + 1)  # max_ndf = 4 in the official code
            layers.append(BasicBlock(ch, out))
            ch = out
        layers += [nn.LeakyReLU(0.2, True), nn.AdaptiveAvgPool2d(1), nn.Flatten()]  # (B, ch, 8, 8) -> (B, ch)
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(ch, z_dim)
        self.fc_var = nn.Linear(ch, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(x)
        return self.fc(h), self.fc_var(h)


class MultiScaleDiscriminator(nn.Module):
    """Official D_NLayersMulti: a PatchGAN on the image and, for each further scale, one with half
    the width on the image average-pooled by 2 (3x3, stride 2, padding excluded). Returns the list of
    patch-score maps. PyTorch-GAN's MultiDiscriminator used an undefined `in_channels` and could not
    be built; here the channel count is the argument. A scale too small for `n_layers` stride-2
    layers gets fewer (at least 1), so 32x32 images work."""

    def __init__(self, c_in: int, size: int, ndf: int = 64, n_layers: int = 3, num_Ds: int = 2):
        super().__init__()
        self.scales = nn.ModuleList()
        for i in range(num_Ds):
            s = size // 2**i
            layers = max(1, min(n_layers, int(math.log2(s)) - 2))  # 2x2 patch scores at least
            self.scales.append(PatchGANDiscriminator(c_in, max(1, round(ndf / 2**i)), layers, norm="instance"))
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, D in enumerate(self.scales):
            if i:
                x = self.down(x)
            out.append(D(x))
        return out


def xavier_init(module: nn.Module) -> None:
    """Official init_weights('xavier', gain 0.02): xavier_normal_ weights, zero biases."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.xavier_normal_(module.weight, gain=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def ls_d_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN for D (official GANLoss('lsgan')): MSE to 1 on real and to 0 on fake, summed over scales."""
    return sum(((r - 1) ** 2).mean() + (f**2).mean() for r, f in zip(real, fake))


def ls_g_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN for G: MSE of the fake scores to the real label 1, summed over scales."""
    return sum(((f - 1) ** 2).mean() for f in fake)


@register_model("bicyclegan")
class BicycleGAN(GANModel):
    paper = "Toward Multimodal Image-to-Image Translation. Zhu et al., 2017. arXiv:1711.11586"
    year = 2017
    default_dataset = "edges2mnistm"
    Config = BicycleGANConfig
    follows_run_length = True  # the learning rates decay linearly from decay_from of the run on
    vector_data = False  # translates images
    requires = ("input", "target")  # aligned pairs (A, B)
    sampling_modules = ("G", "E")  # E gives z from a target image (encode_target)
    discriminators = ("D", "D2")  # cVAE-GAN's and cLR-GAN's (both judge B images; both are --augment's)
    multimodal = True  # translate draws z ~ N(0, I) on every call
    # against the held-out targets; *_encoded: G(A, E(B)), the cVAE reconstruction; z_recovery:
    # mean |E(G(A, z)) - z| (its baseline: an unrelated z', z_recovery_baseline)
    scores = {"l1_encoded": "min", "psnr_encoded": "max", "z_recovery": "min", "diversity": "max",
              "psnr": "max", "ssim": "max", "l1": "min", "digit_kept": "max", "fd": "min"}

    def __init__(self, cfg: BicycleGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        if cfg.batch_size < 2 or cfg.batch_size % 2:
            raise GanthologyError(f"bicyclegan splits each batch between its two branches: use an even "
                                  f"--batch-size of at least 2, not {cfg.batch_size}.")
        s, c_a, c_b = data.image_size, data.in_channels, data.channels
        self.G = Generator(c_a, c_b, cfg.z_dim, s, cfg.ngf, cfg.dropout)
        self.E = Encoder(c_b, cfg.z_dim, s, cfg.nef)
        # one D per branch (official: D for the cVAE-GAN, D2 for the cLR-GAN); they see B alone
        # (the official --conditional_D is off)
        self.D = MultiScaleDiscriminator(c_b, s, cfg.ndf, cfg.d_layers, cfg.num_Ds)
        self.D2 = MultiScaleDiscriminator(c_b, s, cfg.ndf, cfg.d_layers, cfg.num_Ds)
        self.apply(xavier_init)

    def optimizers(self):
        c = self.cfg
        adam = dict(lr=c.lr, betas=(c.beta1, c.beta2))
        # G and E take one step together on one backward pass (official update_G_and_E: both
        # optimizers step after the hybrid loss and the latent loss, the latter with E frozen);
        # Adam is per parameter, so one Adam over both is the official pair of Adams
        return {"G": torch.optim.Adam([*self.G.parameters(), *self.E.parameters()], **adam),
                "D": torch.optim.Adam(self.D.parameters(), **adam),
                "D2": torch.optim.Adam(self.D2.parameters(), **adam)}

    def schedulers(self):
        if self.total_steps is None or self.cfg.decay_from >= 1:
            return {}
        return {k: constant_then_linear_decay(o, self.total_steps, self.cfg.decay_from) for k, o in self.opt.items()}

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The terms of eq. 6 for G and E on one batch, and the fakes D and D2 are trained on.
        Discriminators are frozen here; the latent term is computed with E frozen, so that its
        gradient reaches G only (official update_G_and_E)."""
        c = self.cfg
        A, B = batch[self.data.key("input")], batch[self.data.key("target")]
        h = A.shape[0] // 2
        A1, B1, B2 = A[:h], B[:h], B[h:]  # official: A1, B1 for the encoded branch, B2 real for D2
        # cVAE-GAN (section 3.2): z = mu + sigma * eps from E(B1), reparameterised
        mu, logvar = self.E(B1)
        z_encoded = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        fake_encoded = self.G(A1, z_encoded)
        # cLR-GAN (section 3.3): random z on the same inputs A1
        z_random = torch.randn(h, c.z_dim, device=A.device)
        fake_random = self.G(A1, z_random)
        with frozen(self.D, self.D2):
            gan = ls_g_loss(self.D(fake_encoded))
            gan2 = ls_g_loss(self.D2(fake_random))
        # KL(q(z|B) || N(0, I)), summed over z and averaged over the batch (official: summed over
        # the half batch of 1)
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
        l1 = F.l1_loss(fake_encoded, B1)
        with frozen(self.E):  # the latent loss updates G, not E (official backward_G_alone)
            mu2, _ = self.E(fake_random)  # official: the mean is the point estimate of z
        latent = F.l1_loss(mu2, z_random)
        return {"gan": gan, "gan2": gan2, "kl": kl, "l1": l1, "latent": latent,
                "fake_encoded": fake_encoded, "fake_random": fake_random, "B1": B1, "B2": B2}

    def train_step(self, batch, step):
        c = self.cfg
        t = self.losses(batch)
        loss_G = (t["gan"] + t["gan2"] + c.lambda_L1 * t["l1"] + c.lambda_KL * t["kl"]
                  + c.lambda_latent * t["latent"])
        self.update("G", loss_G)
        # then each D on its branch (official update_D, after G and E): real B against the fakes
        loss_D = ls_d_loss(self.D(t["B1"]), self.D(t["fake_encoded"].detach()))
        self.update("D", loss_D)
        loss_D2 = ls_d_loss(self.D2(t["B2"]), self.D2(t["fake_random"].detach()))
        self.update("D2", loss_D2)
        return {"loss_D": loss_D.detach(), "loss_D2": loss_D2.detach(), "loss_G": t["gan"].detach(),
                "loss_G2": t["gan2"].detach(), "loss_L1": t["l1"].detach(), "loss_kl": t["kl"].detach(),
                "loss_latent": t["latent"].detach()}

    # --- use ---------------------------------------------------------------------------------
    def _check(self, x: torch.Tensor, c: int, what: str) -> torch.Tensor:
        s = self.data.image_size
        if x.dim() != 4 or x.shape[1] != c or x.shape[2:] != (s, s):
            raise GanthologyError(f"bicyclegan was trained on {c}-channel {s}x{s} {what} but got an image of "
                                  f"shape {tuple(x.shape[1:])}; resize it to {s}x{s} (or pass --resize).")
        return x.to(self.device)

    @torch.no_grad()
    def translate_with(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """G(x, z) for inputs x (N, C_A, H, W) in [-1, 1] and codes z (N, |z|)."""
        return self.G(self._check(x, self.data.in_channels, "inputs"), z.to(self.device))

    @torch.no_grad()
    def translate(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        """Translations of input images `x` (N, C_A, H, W) in [-1, 1]: each with a new z ~ N(0, I)
        (from torch's RNG) on every call (section 3.3: at test time z comes from the prior), or, given
        `style` (a reference target image, see `style_code`), all with the z that E reads from it."""
        if style is not None:
            return self.translate_with(x, self.style_code(style).expand(x.shape[0], -1))
        return self.translate_with(x, torch.randn(x.shape[0], self.cfg.z_dim, device=self.device))

    @torch.no_grad()
    def encode_target(self, b: torch.Tensor) -> torch.Tensor:
        """The code of target images b (N, C_B, H, W): the mean of q(z|b). G(a, encode_target(b))
        translates a in the style of b. (Not `encode`: that name makes a model a latent-space model.)"""
        return self.E(self._check(b, self.data.channels, "targets"))[0]

    @torch.no_grad()
    def style_code(self, image: torch.Tensor) -> torch.Tensor:
        """z (1, |z|) of one reference image as read: (1, C, H, W) in [-1, 1], C 1 or 3, any size; its
        channels are converted to the target's and it is resized to the training size."""
        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3):
            raise GanthologyError(f"the style image must be one grey or colour image; got shape {tuple(image.shape)}.")
        s = self.data.image_size
        image = to_channels(image.to(self.device).float(), self.data.channels)
        if image.shape[-2:] != (s, s):
            image = F.interpolate(image, size=(s, s), mode="bilinear", antialias=True, align_corners=False)
        return self.encode_target(image)

    @torch.no_grad()
    def held_out_metrics(self, test):
        """The paired defaults (psnr, ssim, l1 of translate(A) against B, content and realism where B
        has an evaluator, diversity), plus fidelity with the encoded z (psnr_encoded, l1_encoded:
        G(A, E(B)) against B) and z recovery: mean |E(G(A, z)) - z| for z ~ N(0, I) (z_recovery),
        against the same distance to an unrelated z' ~ N(0, I) (z_recovery_baseline)."""
        from ..metrics.scores import paired_scores

        out = super().held_out_metrics(test)
        A, B = test[self.data.key("input")], test[self.data.key("target")]
        enc, rec, base = [], [], []
        for a, b in zip(A.split(100), B.split(100)):
            enc.append(self.translate_with(a, self.encode_target(b)).float())
            z = torch.randn(a.shape[0], self.cfg.z_dim, device=self.device)
            z_hat = self.encode_target(self.translate_with(a, z))
            rec.append((z_hat - z).abs().mean(1))
            base.append((z_hat - torch.randn_like(z)).abs().mean(1))
        fid = paired_scores(torch.cat(enc), B.float())
        return out | {"psnr_encoded": fid["psnr"], "ssim_encoded": fid["ssim"], "l1_encoded": fid["l1"],
                      "z_recovery": float(torch.cat(rec).mean()), "z_recovery_baseline": float(torch.cat(base).mean())}

    def preview(self, batch):
        from ..viz import match_channels  # on use: viz imports torchvision, which `list` never needs

        A, B = batch[self.data.key("input")][:8], batch[self.data.key("target")][:8]
        outs = [self.translate(A) for _ in range(3)]  # three random z per input
        rows = torch.stack([match_channels(A, B), *outs, B], dim=1).flatten(0, 1)  # (N, 5, C, H, W) -> (5N, ...)
        return rows, 5  # one example per row: input | three outputs | target
