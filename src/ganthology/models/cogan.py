"""Coupled Generative Adversarial Networks. Liu, Tuzel, 2016. arXiv:1606.07536

CoGAN learns the joint distribution of images in two domains from samples of each domain alone,
never from pairs. It trains two GANs, one per domain, and ties them by sharing weights (section 3):
the two generators share their *first* layers, which decode the high-level semantics of z, and keep
their last layers, which render it in each domain's low-level details; the two discriminators
share their *last* layers, which read high-level features, and keep their first ones. So one z
gives a pair of images, one per domain, that correspond (the same digit, its negative or its edge
map), though no corresponding pair was ever shown. The objective (section 3, eq. 4) is the sum of
the two GANs' losses, max over (g1, g2) and min over (f1, f2) with the shared weights tied.

Networks (section 5 and the supplementary material, digit experiments; the kernels adapted to
32x32 images): G's shared trunk maps z (100-d, uniform) through transposed convolutions with 1024,
512, 256, 128 filters (4x4 -> 32x32, batch norm and PReLU) and each domain has its own last layer, a
convolution to its channels with Tanh (the paper: sigmoid on [0, 1] images). Each D has its own
first layer, conv5-20 then max-pool, and they share conv5-50, max-pool, fc500 (PReLU) and fc1. The
PyTorch-GAN script shares the *first* D convolutions and splits the last linear layer, the reverse
of the paper (its issue #62); here the shared part is exactly the paper's.

Training (section 5): Adam with lr 0.0002, beta1 0.5, beta2 0.999, batch 128, weight decay 0.0005,
the standard GAN loss of each domain, D step then G step; batches of the two domains are drawn
independently (`digits2negatives`, `digits2edges`, `mnist2negatives`, `mnist2edges`: disjoint halves;
`mnist2mnistm`: two domains of the same digits, as in PyTorch-GAN).

What the model claims: its pairs correspond. On a dataset whose domain B is a known transformation
of domain A (data/halves.py), `held_out_metrics` applies that transformation to G1(z) and compares
it with G2(z): pixel agreement (the paper's measure: the share of pixels that agree after
thresholding at mid-grey) and mean absolute difference, beside the same for unrelated pairs
(G1(z) against G2(z') with the z shuffled), which is what a pair of independent GANs would score.
`sample(n)` shows each pair side by side: (n, C, H, 2W).

Domain adaptation (section 5, `classify=True`): a softmax layer on the discriminators' shared last
hidden layer is trained with domain A's labels through D1, in D's step; because the layer and the
ones below it are shared, it classifies domain-B images through D2, whose labels it never saw.
`held_out_metrics` then adds its accuracy on the held-out B images (`target_acc`) and A images
(`source_acc`): the number of the domain-adaptation table (MNIST -> mnistm).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.halves import pair_transform
from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import dcgan_init
from ..registry import register_model
from .base import DataInfo, GANModel, frozen
from .pixelda import to_channels


@dataclass
class CoGANConfig:
    z_dim: int = 100  # supplementary material: z is 100-dimensional
    noise: str = "uniform"  # supplementary material: z ~ U[-1, 1]
    ngf: int = 128  # supplementary material: G's shared layers have 1024, 512, 256, 128 filters (the last = ngf)
    ndf: int = 20  # supplementary material: each D's own first layer is conv5-20 + max-pool
    ndf_shared: int = 50  # supplementary material: the shared D layers: conv5-50 + max-pool ...
    d_fc: int = 500  # ... then fc500 (PReLU) and fc1
    lr: float = 2e-4  # section 5: Adam, learning rate 0.0002
    beta1: float = 0.5  # section 5: beta1 = 0.5
    beta2: float = 0.999  # section 5: beta2 = 0.999
    weight_decay: float = 5e-4  # section 5: weight decay 0.0005
    classify: bool = False  # section 5 (adaptation): a softmax layer on D's shared last hidden layer, trained with domain A's labels, applied to domain B through D2
    batch_size: int = 128  # section 5: batch size 128 (per domain)


class CoupledGenerators(nn.Module):
    """G1, G2: z (B, z_dim) -> (x_A (B, C_A, s, s), x_B (B, C_B, s, s)) in [-1, 1]. The trunk (every
    layer but the last) is shared; each domain has its own last layer (section 3)."""

    def __init__(self, z_dim: int, ngf: int, size: int, channels: tuple[int, int]):
        super().__init__()
        n_up = (size // 4).bit_length() - 1  # 4x4 -> s x s: log2(s / 4) doublings
        ch = ngf * 2**n_up  # 1024 at 32x32
        layers = [nn.ConvTranspose2d(z_dim, ch, 4, 1, 0), nn.BatchNorm2d(ch), nn.PReLU(ch)]  # (B, z, 1, 1) -> (B, ch, 4, 4)
        for _ in range(n_up):  # (B, ch, h, h) -> (B, ch/2, 2h, 2h)
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.BatchNorm2d(ch // 2), nn.PReLU(ch // 2)]
            ch //= 2
        self.shared = nn.Sequential(*layers)  # high-level semantics: shared by G1 and G2
        # low-level details: one last layer per domain, (B, ngf, s, s) -> (B, C, s, s)
        self.head_A = nn.Sequential(nn.Conv2d(ch, channels[0], 3, 1, 1), nn.Tanh())
        self.head_B = nn.Sequential(nn.Conv2d(ch, channels[1], 3, 1, 1), nn.Tanh())

    def layers(self, domain: str) -> list[nn.Module]:
        """G1's (domain "A") or G2's ("B") layers, first to last: the shared trunk, then its own."""
        return [*self.shared, *getattr(self, f"head_{domain}")]

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.shared(z.view(*z.shape, 1, 1))
        return self.head_A(h), self.head_B(h)


class CoupledDiscriminators(nn.Module):
    """D1, D2: images of domain A / B -> (B, 1) logits. Each has its own first layer; the last
    layers are shared (section 3), the reverse of the PyTorch-GAN script."""

    def __init__(self, size: int, channels: tuple[int, int], ndf: int, ndf_shared: int, fc: int, n_classes: int = 0):
        super().__init__()

        def own(c):  # conv5-20, max-pool: (B, C, s, s) -> (B, ndf, s/2, s/2)
            return nn.Sequential(nn.Conv2d(c, ndf, 5, 1, 2), nn.MaxPool2d(2))

        self.own_A, self.own_B = own(channels[0]), own(channels[1])
        self.shared = nn.Sequential(  # (B, ndf, s/2, s/2) -> (B, 1)
            nn.Conv2d(ndf, ndf_shared, 5, 1, 2), nn.MaxPool2d(2),  # -> (B, 50, s/4, s/4)
            nn.Flatten(), nn.Linear(ndf_shared * (size // 4) ** 2, fc), nn.PReLU(fc),
            nn.Linear(fc, 1),  # one logit: the sigmoid is in the loss
        )
        # section 5: class logits on the shared last hidden layer (fc500), so D1 and D2 share them too
        self.classifier = nn.Linear(fc, n_classes) if n_classes else None

    def layers(self, domain: str) -> list[nn.Module]:
        """D1's ("A") or D2's ("B") layers, first to last: its own, then the shared ones."""
        return [*getattr(self, f"own_{domain}"), *self.shared]

    def features(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """The shared last hidden layer (B, fc) of D1 (domain "A") or D2 ("B")."""
        return self.shared[:-1](getattr(self, f"own_{domain}")(x))

    def forward(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.shared(getattr(self, f"own_{domain}")(x))


@register_model("cogan")
class CoGAN(GANModel):
    paper = "Coupled Generative Adversarial Networks. Liu and Tuzel, 2016. arXiv:1606.07536"
    year = 2016
    default_dataset = "mnist2negatives"
    Config = CoGANConfig
    vector_data = False  # images only
    requires = ("domain A", "domain B")  # two domains, drawn independently
    #: the pairs' agreement under the dataset's known transformation (where it has one), first
    scores = {"pair_agreement": "max", "pair_l1": "min"}

    def __init__(self, cfg: CoGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        self.key_A, self.key_B = data.key("domain A"), data.key("domain B")
        part_A, part_B = data.parts[self.key_A], data.parts[self.key_B]
        size = part_A.shape[-1]
        if part_B.shape[-1] != size:
            raise GanthologyError(f"cogan draws pairs of one size: domain A is {size}x{size} and B "
                                  f"{part_B.shape[-1]}x{part_B.shape[-1]}; choose --image-size.")
        if size < 8 or size & (size - 1):
            raise GanthologyError(f"cogan's generators double 4x4 up to the image side: it must be a power of two "
                                  f"of at least 8, not {size}; choose --image-size 32.")
        self.channels = (part_A.shape[0], part_B.shape[0])
        labels = {p.group: k for k, p in reversed(data.parts.items()) if p.role == "label"}
        self.key_y, self.key_y_B = labels.get(part_A.group), labels.get(part_B.group)
        if cfg.classify and (self.key_y is None or data.num_classes < 2):
            raise GanthologyError(f"cogan --classify trains a classifier with domain A's labels; {data.name!r} has "
                                  "none. Use mnist2mnistm or digits2photo.")
        self.G = CoupledGenerators(cfg.z_dim, cfg.ngf, size, self.channels)
        self.D = CoupledDiscriminators(size, self.channels, cfg.ndf, cfg.ndf_shared, cfg.d_fc,
                                       data.num_classes if cfg.classify else 0)
        self.G.apply(dcgan_init)
        self.D.apply(dcgan_init)

    def optimizers(self):
        c = self.cfg
        adam = lambda net: torch.optim.Adam(net.parameters(), lr=c.lr, betas=(c.beta1, c.beta2),  # noqa: E731
                                            weight_decay=c.weight_decay)
        return {"D": adam(self.D), "G": adam(self.G)}  # shared weights are one tensor: one update each

    def train_step(self, batch, step):
        x_A, x_B = batch[self.key_A], batch[self.key_B]
        fake_A, fake_B = self.G(self.noise(x_A.shape[0], x_A.device))  # one z, a pair
        # D1 and D2 (eq. 4): each tells its domain's real images from its generator's
        loss_D_A = d_loss_bce(self.D(x_A, "A"), self.D(fake_A.detach(), "A"))
        loss_D_B = d_loss_bce(self.D(x_B, "B"), self.D(fake_B.detach(), "B"))
        logs = {}
        loss_cls = 0.0
        if self.cfg.classify:  # section 5: the source labels train the softmax on D1's shared layers
            loss_cls = F.cross_entropy(self.D.classifier(self.D.features(x_A, "A")), batch[self.key_y])
            logs["loss_cls"] = loss_cls.detach()
        self.update("D", loss_D_A + loss_D_B + loss_cls)
        # G1 and G2: fool their discriminators (the non-saturating form)
        with frozen(self.D):
            loss_G_A = g_loss_nonsaturating(self.D(fake_A, "A"))
            loss_G_B = g_loss_nonsaturating(self.D(fake_B, "B"))
        self.update("G", loss_G_A + loss_G_B)
        return {"loss_D": (loss_D_A + loss_D_B).detach(), "loss_G_A": loss_G_A.detach(),
                "loss_G_B": loss_G_B.detach(), **logs}

    # --- pairs ----------------------------------------------------------------------------------
    def generate_pair(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G1(z), G2(z)): one image per domain for each code."""
        return self.G(z)

    def generate(self, z: torch.Tensor, **cond) -> torch.Tensor:
        """Each pair side by side, (B, C, s, 2s): G1(z) left, G2(z) right (a grey domain repeated
        to the other's colour channels)."""
        a, b = self.G(z)
        c = max(self.channels)
        return torch.cat([to_channels(a, c), to_channels(b, c)], dim=3)

    @property
    def sample_shape(self):
        c, s = max(self.channels), self.data.parts[self.key_A].shape[-1]
        return (c, s, 2 * s)

    @torch.no_grad()
    def held_out_metrics(self, test, n: int = 2000, seed: int = 0):
        """Where the dataset's domain B is a known transformation T of domain A (data/halves.py):
        for n codes z, pixel agreement (share of pixels on the same side of mid-grey) and mean
        absolute difference (on [0, 1]) between T(G1(z)) and G2(z); the same for unrelated pairs,
        T(G1(z)) against G2(z') with the codes shuffled: what two independent GANs would score.
        With `classify`: the classifier's accuracy on the held-out domain-B images through D2
        (`target_acc`, with B's labels, which training never reads) and on domain A through D1."""
        out = self._classifier_accuracy(test) if self.cfg.classify else {}
        t = pair_transform(self.data.name)
        if t is None:
            return out
        g = torch.Generator(device="cpu").manual_seed(seed)
        z = (torch.rand(n, self.cfg.z_dim, generator=g) * 2 - 1).to(self.device)
        perm = torch.randperm(n, generator=g).to(self.device)
        was = self.G.training
        self.G.eval()
        try:
            pairs = [self.G(zb) for zb in z.split(500)]
        finally:
            self.G.train(was)
        a = t(torch.cat([p[0] for p in pairs]).float())
        b = torch.cat([p[1] for p in pairs]).float()

        def agree(u, v):
            return float(((u > 0) == (v > 0)).float().mean()), float(((u - v).abs() / 2).mean())

        out["pair_agreement"], out["pair_l1"] = agree(a, b)
        out["pair_agreement_unrelated"], out["pair_l1_unrelated"] = agree(a, b[perm])
        return out

    @torch.no_grad()
    def classify_domain(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """Class logits (N, K) of images of `domain` ("A" through D1, "B" through D2)."""
        return self.D.classifier(self.D.features(x.to(self.device), domain))

    def _classifier_accuracy(self, test) -> dict[str, float]:
        from ..metrics.scores import held_out_accuracy  # on use: `ganthology list` needs no metrics

        out = {}
        for key, y_key, domain, name in ((self.key_B, self.key_y_B, "B", "target_acc"),
                                         (self.key_A, self.key_y, "A", "source_acc")):
            if y_key in test:
                out[name] = held_out_accuracy(lambda xb, d=domain: self.classify_domain(xb, d), test[key], test[y_key])
        return out
