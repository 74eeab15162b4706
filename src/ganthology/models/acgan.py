"""Conditional Image Synthesis with Auxiliary Classifier GANs. Odena, Olah, Shlens, 2017.
arXiv:1610.09585

Every generated sample has a class label c ~ p_c besides its noise z, and G uses both:
X_fake = G(c, z). The discriminator does not see the label; instead it has two heads on one shared
body and gives both a distribution over sources and one over classes, P(S | X), P(C | X) = D(X).
Section 3 writes the objective in two log-likelihoods,

    L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)]
    L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]

and D is trained to maximize L_S + L_C, G to maximize L_C - L_S. The auxiliary classifier makes D
useful to G beyond "real or fake": G is rewarded for samples that D recognizes as their class.

Here both heads return raw logits: the sigmoid lives in the BCE of `ganthology.losses` and the
softmax in `F.cross_entropy`. (The PyTorch-GAN script puts a Softmax layer before
`CrossEntropyLoss`, which applies log-softmax again to probabilities: with 10 classes that loss
cannot fall below about 1.46 and its gradients are weak. `tests/test_conditional_info.py` guards
against it.) G's source term uses the non-saturating form of Goodfellow et al. (maximize
log P(S = real | X_fake) instead of minimizing log P(S = fake | X_fake)), as the PyTorch
reimplementations do.

Departures: the networks are DCGAN's (`ganthology.nn.dcgan`), sized by the image, with the class
head a linear layer on D's last features; the paper's appendix tables give fixed CIFAR-10 / ImageNet
nets (a linear layer and 5x5 transposed convolutions in G; a six-layer D with dropout 0.5).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import DCGANDiscriminator, DCGANGenerator, dcgan_init
from ..registry import register_model
from .base import DataInfo, GANModel, frozen


@dataclass
class ACGANConfig:
    z_dim: int = 100  # noise size; appendix tables: G's input is 110 = 100 noise + 10-class one-hot (as remembered)
    ngf: int = 64  # G width (DCGAN's; the paper's CIFAR-10 G is a linear 384 then 192, 96 channels)
    ndf: int = 64  # D width (DCGAN's; the paper's CIFAR-10 D has 16 ... 512 channels and dropout 0.5)
    lr: float = 2e-4  # appendix tables: Adam, learning rate 0.0002 (as remembered)
    beta1: float = 0.5  # appendix tables: Adam beta1 = 0.5 (as remembered)
    beta2: float = 0.999  # appendix tables: Adam beta2 = 0.999 (as remembered)
    batch_size: int = 100  # section 4: "50000 mini-batches of size 100"


class Generator(nn.Module):
    """G(c, z): the one-hot class is concatenated to the noise, (B, z_dim + K) -> (B, C, s, s)."""

    def __init__(self, z_dim: int, n_classes: int, channels: int, image_size: int, ngf: int):
        super().__init__()
        self.net = DCGANGenerator(z_dim + n_classes, channels, image_size, ngf)

    def forward(self, z: torch.Tensor, y_onehot: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, y_onehot], dim=1))


class Discriminator(DCGANDiscriminator):
    """DCGAN's body with two heads: the source logit (B,) and the class logits (B, K), both raw."""

    def __init__(self, channels: int, image_size: int, ndf: int, n_classes: int):
        super().__init__(channels, image_size, ndf, norm="batch")
        self.aux = nn.Linear(self.feature_dim, n_classes)  # (B, ch * 4 * 4) -> (B, K): no softmax

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)  # (B, ch, 4, 4)
        return self.head(h).flatten(), self.aux(h.flatten(start_dim=1))


@register_model("acgan")
class ACGAN(GANModel):
    paper = "Conditional Image Synthesis with Auxiliary Classifier GANs. Odena, Olah, Shlens, 2017. arXiv:1610.09585"
    year = 2017
    conditions = ("y",)
    default_dataset = "mnist"
    Config = ACGANConfig
    vector_data = False  # convolutional networks: images only

    def __init__(self, cfg: ACGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        if data.num_classes < 2:
            raise GanthologyError(f"acgan needs a labelled dataset; {data.name!r} has no class labels.")
        k = data.num_classes
        self.G = Generator(cfg.z_dim, k, data.channels, data.image_size, cfg.ngf)
        self.D = Discriminator(data.channels, data.image_size, cfg.ndf, k)
        self.apply(dcgan_init)  # N(0, 0.02) as in DCGAN

    def _onehot(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.data.num_classes).float()

    def train_step(self, batch, step):
        x, y = batch["x"], batch["y"]
        # c ~ p_c: the batch's labels are a draw from the data's label distribution
        fake = self.G(self.noise(x.shape[0], x.device), self._onehot(y))
        # D maximizes L_S + L_C (section 3), i.e. minimizes both negative log-likelihoods. Real and
        # fake go through D as separate minibatches (BatchNorm statistics are not mixed).
        src_real, cls_real = self.D(x)
        src_fake, cls_fake = self.D(fake.detach())
        loss_S = d_loss_bce(src_real, src_fake)  # -L_S / 2
        nll_C_real = F.cross_entropy(cls_real, y)  # raw logits: the softmax is inside cross_entropy
        loss_C = (nll_C_real + F.cross_entropy(cls_fake, y)) / 2  # -L_C / 2, halved like L_S
        loss_D = loss_S + loss_C
        self.update("D", loss_D)
        # G maximizes L_C - L_S: the class term on its samples, and the non-saturating source term
        with frozen(self.D):
            src_gen, cls_gen = self.D(fake)
            loss_G = g_loss_nonsaturating(src_gen) + F.cross_entropy(cls_gen, y)
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(), "loss_C_real": nll_C_real.detach(),
                "acc_real": (cls_real.argmax(dim=1) == y).float().mean().detach()}

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, **cond) -> torch.Tensor:
        """`y`: class labels (n,); by default one class per grid column (`class_labels`)."""
        return self.G(z, self._onehot(self.class_labels(z.shape[0], y)))
