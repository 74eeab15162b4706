"""Unsupervised Pixel-Level Domain Adaptation with Generative Adversarial Networks. Bousmalis,
Silberman, Dohan, Erhan, Krishnan, 2017. arXiv:1612.05424

A classifier trained on labelled images of one domain (the source: grey MNIST digits) fails on
another (the target: the same kind of digits over colour photographs, MNIST-M). PixelDA adapts the
source images themselves: a generator G(x_s, z) restyles each source image so that a discriminator
D cannot tell it from real target images, while a task classifier T, trained on the adapted images
(and on the source images, section 3) with the source labels, keeps G from losing the digit. The
objective (section 3, eq. 1-3) is

    min_{G, T} max_D  alpha * L_d(D, G) + beta * L_t(G, T)
    L_d = E_{x_t}[log D(x_t)] + E_{x_s, z}[log(1 - D(G(x_s, z)))]
    L_t = E_{x_s, y_s, z}[-y_s . log T(G(x_s, z)) - y_s . log T(x_s)]

optimized in two alternating steps (section 3): D and T with G fixed, then G with D and T fixed.
T is what is scored: its accuracy on held-out *target* images, which it never saw a label of. The
content-similarity loss of section 3 needs foreground masks (rendered objects, LineMod) and is
not part of the MNIST -> MNIST-M setting, so it is not here.

Networks (Figure 2 and section 4 / appendix, as reimplemented): G maps z ~ U[-1, 1]^10 through a
fully connected layer to one image-sized channel that is concatenated with the source image, then
a 3x3 convolution with 64 filters and ReLU, six residual blocks (64 filters, batch norm), and a
3x3 convolution to the target's channels with Tanh. D is n64s1-lrelu, then n128s2, n256s2, n512s2
(each BN-lrelu), a fully connected layer to one logit; its layers get dropout 0.1 (keep
probability 0.9) and Gaussian noise on their inputs, the image included. T is the MNIST classifier
of Ganin et al. (DANN), the task tower the authors' released code has for MNIST: conv5-32,
max-pool, conv5-48, max-pool, fc100, fc100, fc10. It returns logits into cross-entropy (the PyTorch-GAN
script put a Softmax before CrossEntropyLoss).

Grey sources and colour targets: T classifies target-style images, so a source image is shown to
T with its channel repeated (as the authors' code tiles grey images to RGB). A source of another
size than the target is resized to the target's size inside G.

`source_only=True` is the baseline of the paper's tables: the same T trained on the source images
alone, with the same optimizer, steps and evaluation; G and D are left as built and never stepped.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import ResidualBlock, dcgan_init
from ..registry import register_model
from .base import DataInfo, GANModel, frozen


@dataclass
class PixelDAConfig:
    alpha: float = 0.13  # eq. 3: weight of the domain (adversarial) loss L_d (appendix, as reimplemented)
    beta: float = 0.011  # eq. 3: weight of the task loss L_t (appendix, as reimplemented)
    z_dim: int = 10  # section 4: z ~ U[-1, 1]^10, projected by a fully connected layer to one image channel
    ngf: int = 64  # Figure 2: G's convolutions and residual blocks have 64 filters
    n_blocks: int = 6  # Figure 2: six residual blocks in G
    ndf: int = 64  # Figure 2: D's first layer n64s1, doubled at each stride-2 layer
    d_dropout: float = 0.1  # appendix: dropout in D (keep probability 0.9)
    d_noise: float = 0.2  # appendix: std of the Gaussian noise added to the input of D's layers (0.2 in the authors' release)
    ntf: int = 32  # T: the DANN MNIST classifier, conv5-32 then conv5-48 (1.5 x ntf)
    t_fc: int = 100  # T: its two hidden fully connected layers of 100 units
    lr: float = 1e-3  # appendix: Adam, learning rate 0.001
    beta1: float = 0.5  # appendix: Adam beta1 = 0.5
    beta2: float = 0.999  # Adam beta2 (the default)
    lr_decay: float = 0.95  # appendix: the learning rate is multiplied by 0.95 ...
    lr_decay_every: int = 20000  # appendix: ... every 20,000 steps
    source_only: bool = False  # the baseline: train T on the source images alone (G and D never stepped)
    batch_size: int = 32  # appendix: batch size 32


class GaussianNoise(nn.Module):
    """x + N(0, std^2) while training, x unchanged in eval mode: D's input noise (appendix)."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Images with `channels` channels: a grey image repeated to colour, a colour image averaged to
    grey, any other image as it is (channel counts checked when the model is built)."""
    if x.shape[1] == channels:
        return x
    return x.expand(-1, channels, -1, -1) if x.shape[1] == 1 else x.mean(dim=1, keepdim=True)


class PixelDAGenerator(nn.Module):
    """G(x_s, z): (B, C_s, h, w) source images and (B, z_dim) noise -> (B, C_t, s, s) in [-1, 1]."""

    def __init__(self, in_channels: int, out_channels: int, size: int, z_dim: int, ngf: int, n_blocks: int):
        super().__init__()
        self.size = size
        self.fc = nn.Linear(z_dim, size * size)  # z -> one image-sized channel (section 4)
        self.head = nn.Sequential(nn.Conv2d(in_channels + 1, ngf, 3, 1, 1), nn.ReLU(True))  # n64s1, ReLU
        self.blocks = nn.Sequential(*[ResidualBlock(ngf, norm="batch", padding="zeros") for _ in range(n_blocks)])
        self.tail = nn.Sequential(nn.Conv2d(ngf, out_channels, 3, 1, 1), nn.Tanh())  # n3s1, tanh

    def forward(self, x_s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if x_s.shape[-2:] != (self.size, self.size):  # a source of another size: to the target's
            x_s = F.interpolate(x_s, size=(self.size, self.size), mode="bilinear", align_corners=False,
                                antialias=x_s.shape[-1] > self.size)
        z_img = self.fc(z).view(-1, 1, self.size, self.size)  # (B, z_dim) -> (B, 1, s, s)
        h = self.head(torch.cat([x_s, z_img], dim=1))  # (B, C_s + 1, s, s) -> (B, ngf, s, s)
        return self.tail(self.blocks(h))  # (B, ngf, s, s) -> (B, C_t, s, s)


class PixelDADiscriminator(nn.Module):
    """D: (B, C_t, s, s) -> (B, 1) logit of "real target image"; s a multiple of 8."""

    def __init__(self, channels: int, size: int, ndf: int, dropout: float, noise: float):
        super().__init__()

        def block(c_in, c_out, stride, bn):
            return [GaussianNoise(noise), nn.Conv2d(c_in, c_out, 3, stride, 1),
                    *([nn.BatchNorm2d(c_out)] if bn else []), nn.LeakyReLU(0.2, True), nn.Dropout(dropout)]

        layers = block(channels, ndf, 1, bn=False)  # n64s1, lrelu (no BN on the first layer)
        ch = ndf
        for _ in range(3):  # n128s2, n256s2, n512s2: (B, ch, s, s) -> (B, 2ch, s/2, s/2)
            layers += block(ch, ch * 2, 2, bn=True)
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(ch * (size // 8) ** 2, 1)  # FC -> one logit (the sigmoid is in the loss)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).flatten(start_dim=1))


class TaskClassifier(nn.Module):
    """T: (B, C_t, s, s) -> (B, K) LOGITS. The DANN MNIST network (Ganin et al. 2016)."""

    def __init__(self, channels: int, size: int, n_classes: int, ntf: int, fc: int):
        super().__init__()
        c2 = ntf * 3 // 2  # 32 -> 48
        self.features = nn.Sequential(
            nn.Conv2d(channels, ntf, 5, 1, 2), nn.ReLU(True), nn.MaxPool2d(2),  # (B, 32, s/2, s/2)
            nn.Conv2d(ntf, c2, 5, 1, 2), nn.ReLU(True), nn.MaxPool2d(2),  # (B, 48, s/4, s/4)
        )
        self.head = nn.Sequential(
            nn.Linear(c2 * (size // 4) ** 2, fc), nn.ReLU(True),
            nn.Linear(fc, fc), nn.ReLU(True),
            nn.Linear(fc, n_classes),  # logits: no Softmax here, cross-entropy applies log-softmax
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(start_dim=1))


@register_model("pixelda")
class PixelDA(GANModel):
    paper = ("Unsupervised Pixel-Level Domain Adaptation with Generative Adversarial Networks. "
             "Bousmalis et al., 2017. arXiv:1612.05424")
    year = 2017
    default_dataset = "mnist2mnistm"
    Config = PixelDAConfig
    vector_data = False  # images only
    requires = ("domain A", "domain B", "label")  # labelled source A, unlabelled target B
    scores = {"target_acc": "max", "source_acc": "max"}  # T on held-out target, then source images
    sampling_modules = ("G", "T")  # translate needs G, classify and the scores need T

    def __init__(self, cfg: PixelDAConfig, data: DataInfo):
        super().__init__(cfg, data)
        self.key_A, self.key_B = data.key("domain A"), data.key("domain B")
        part_A, part_B = data.parts[self.key_A], data.parts[self.key_B]
        labels = {p.group: k for k, p in reversed(data.parts.items()) if p.role == "label"}
        self.key_y = labels.get(part_A.group)  # the source labels: the only ones training reads
        # the target's labels (y_B) score T on held-out target images; training never reads them
        self.key_y_B = labels.get(part_B.group, f"y_{self.key_B}")
        if self.key_y is None or data.num_classes < 2:
            raise GanthologyError(f"pixelda needs labels for the source domain (A); {data.name!r} has none "
                                  "in A's part. Use mnist2mnistm or digits2photo.")
        c_s, c_t, size = part_A.shape[0], part_B.shape[0], part_B.shape[-1]
        if c_s != c_t and 1 not in (c_s, c_t):
            raise GanthologyError(f"pixelda shows source images to T as target images: {c_s} source and {c_t} "
                                  "target channels cannot be matched; use grey or equal channel counts.")
        if size % 8:
            raise GanthologyError(f"pixelda's D halves the image three times: the target side ({size}) must be a "
                                  "multiple of 8; choose --image-size 32.")
        self.source_channels, self.source_size = c_s, part_A.shape[-1]
        self.G = PixelDAGenerator(c_s, c_t, size, cfg.z_dim, cfg.ngf, cfg.n_blocks)
        self.D = PixelDADiscriminator(c_t, size, cfg.ndf, cfg.d_dropout, cfg.d_noise)
        self.G.apply(dcgan_init)  # N(0, 0.02) (the authors' release: normal_init_std 0.02)
        self.D.apply(dcgan_init)
        self.T = TaskClassifier(c_t, size, data.num_classes, cfg.ntf, cfg.t_fc)  # PyTorch's default init

    # --- optimization (appendix: Adam 1e-3, beta1 0.5, x0.95 every 20k steps) -------------------
    def optimizers(self):
        c = self.cfg
        adam = lambda net: torch.optim.Adam(net.parameters(), lr=c.lr, betas=(c.beta1, c.beta2))  # noqa: E731
        if c.source_only:  # the baseline steps T alone
            return {"T": adam(self.T)}
        # D's optimizer is named "D": the adversary (the tests' ascent sabotage spares it)
        return {"D": adam(self.D), "T": adam(self.T), "G": adam(self.G)}

    def schedulers(self):
        c = self.cfg
        return {k: torch.optim.lr_scheduler.StepLR(o, step_size=c.lr_decay_every, gamma=c.lr_decay)
                for k, o in self.opt.items()}

    def noise(self, n: int, device: torch.device | None = None) -> torch.Tensor:
        """z ~ U[-1, 1]^z_dim (section 4), from torch's RNG."""
        return torch.rand(n, self.cfg.z_dim, device=device if device is not None else self.device) * 2 - 1

    def as_target(self, x: torch.Tensor) -> torch.Tensor:
        """Source images as T sees them: the target's channels (a grey image repeated) and size."""
        x = to_channels(x, self.data.channels)
        s = self.data.image_size
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=x.shape[-1] > s)
        return x

    def task_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """-y . log T(x): cross-entropy on T's logits (log-softmax inside, no Softmax before it)."""
        return F.cross_entropy(logits, y)

    def train_step(self, batch, step):
        c = self.cfg
        x_s, y_s, x_t = batch[self.key_A], batch[self.key_y], batch[self.key_B]
        x_s_t = self.as_target(x_s)
        if c.source_only:  # the baseline: T on source images alone
            loss_T = self.task_loss(self.T(x_s_t), y_s)
            self.update("T", c.beta * loss_T)
            return {"loss_T": loss_T.detach()}
        fake = self.G(x_s, self.noise(x_s.shape[0], x_s.device))  # (B, C_t, s, s)

        # Step 1 (section 3): D and T with G fixed. With one Adam per network the weights alpha and
        # beta only rescale each one's gradients here; they matter in G's step, where both terms meet.
        loss_D = d_loss_bce(self.D(x_t), self.D(fake.detach()))  # -L_d
        self.update("D", c.alpha * loss_D)
        # T learns from both the adapted and the source images (section 3): one batch, T has no BatchNorm
        logits = self.T(torch.cat([fake.detach(), x_s_t]))
        n = x_s.shape[0]
        loss_T_adapted, loss_T_source = self.task_loss(logits[:n], y_s), self.task_loss(logits[n:], y_s)
        loss_T = loss_T_adapted + loss_T_source  # L_t
        self.update("T", c.beta * loss_T)

        # Step 2: G with D and T fixed: fool D (non-saturating form of L_d) and keep the class for T
        with frozen(self.D, self.T):
            loss_G_adv = g_loss_nonsaturating(self.D(fake))
            loss_G_task = self.task_loss(self.T(fake), y_s)
        self.update("G", c.alpha * loss_G_adv + c.beta * loss_G_task)
        acc = (logits[:n].argmax(dim=1) == y_s).float().mean()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G_adv.detach(), "loss_T": loss_T.detach(),
                "loss_T_adapted": loss_T_adapted.detach(), "acc_adapted_train": acc.detach()}

    # --- using the trained model ---------------------------------------------------------------
    @torch.no_grad()
    def translate(self, x: torch.Tensor) -> torch.Tensor:
        """Source images (N, C_s, h, w) in [-1, 1] -> their target-style adaptations (N, C_t, s, s),
        one z ~ U[-1, 1]^10 per image drawn from torch's RNG (seed it for repeatable outputs)."""
        if x.dim() != 4 or x.shape[1] != self.source_channels:
            raise GanthologyError(f"pixelda adapts {self.source_channels}-channel source images but got shape "
                                  f"{tuple(x.shape[1:])}; give {self.source_channels}-channel images.")
        x = x.to(self.device)
        return self.G(x, self.noise(x.shape[0], x.device))

    def input_spec(self, **options):
        return self.source_channels, self.source_size

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """T's class logits (N, K) for images in [-1, 1]: target-style images (or source images,
        shown to T as it saw them in training), in eval mode."""
        was = self.T.training
        self.T.eval()
        try:
            x = x.to(self.device)
            x = self.as_target(x) if x.shape[1] != self.data.channels or x.shape[-1] != self.data.image_size else x
            return self.T(x)
        finally:
            self.T.train(was)

    @torch.no_grad()
    def held_out_metrics(self, test):
        """T's accuracy (eval mode) on the held-out target images with their labels (`y_B`), which
        training never sees, and on the held-out source images."""
        from ..metrics.scores import held_out_accuracy  # on use: `ganthology list` needs no metrics

        out = {}
        y_t = test.get(self.key_y_B)
        if y_t is not None:
            out["target_acc"] = held_out_accuracy(self.classify, test[self.key_B], y_t)
        if self.key_y in test:
            out["source_acc"] = held_out_accuracy(self.classify, test[self.key_A], test[self.key_y])
        return out

    def preview(self, batch):
        x_s, x_t = batch[self.key_A][:8], batch[self.key_B][:8]
        fake = self.translate(x_s)
        rows = torch.cat([self.as_target(x_s), fake, x_t])  # source | adapted | target
        return rows, len(x_s)
