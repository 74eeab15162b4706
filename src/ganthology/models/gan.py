"""Generative Adversarial Nets. Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair,
Courville, Bengio, 2014. arXiv:1406.2661

A generator G maps noise z to data space and a discriminator D estimates the probability that its
input came from the data rather than from G; the two play the minimax game of eq. 1,
min_G max_D E[log D(x)] + E[log(1 - D(G(z)))], trained by alternating one step of D and one step of
G (algorithm 1 with k = 1, the value used in the experiments). Both players are multilayer
perceptrons: G uses rectifier units, D maxout units with dropout (section 5).

Layer sizes and initialisation follow the authors' released MNIST configuration (mnist.yaml of
github.com/goodfeli/adversarial; G: 1200-1200 ReLU, D: two maxout layers of 240 units x 5 pieces,
dropout 0.8 keep on the input, 0.5 on hidden layers; weights uniform in +-0.05 in G and +-0.005 in
D, biases 0, and G's output bias set from the pixel marginals of the training set, so that an
untrained G already draws the mean digit's log-odds rather than flat grey). Departures, for speed
and for our [-1, 1] image convention: Tanh output instead of sigmoid (its bias is the same
log-odds halved: tanh(b) = 2 sigmoid(2b) - 1). The optimizer is the released code's SGD with
momentum (rate 0.1, momentum 0.5) without its slow schedules (the rate decays by 1.000004 per step,
the momentum rises to 0.7 over 250 epochs; both barely move in a short run). Five minutes on MNIST
gave FD 154 and recall 0.14 with it, 264 and 0.04 with Adam (2e-4, beta1 0.5), which stays a switch
away: --optimizer adam --lr 2e-4. On vector data (the 2-D toys
ring8 and grid25) the same MLPs take points, and G's output is linear: toy data is not bounded to
[-1, 1], and a Tanh would clip it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import Maxout, marginal_bias_, uniform_init
from ..registry import register_model
from .base import WEIGHT_AVERAGE, DataInfo, GANModel, adam_or_sgd, frozen


@dataclass
class GANConfig:
    BOUNDS: ClassVar[dict] = {"k": (1, 10**6)}  # at least one D step per G step (config_fields.bounds)
    z_dim: int = 100  # noise dimension (section 5: "noise as the input to the bottommost layer")
    g_hidden: int = 1200  # width of G's two ReLU layers
    d_units: int = 240  # maxout units per D layer
    d_pieces: int = 5  # linear pieces per maxout unit
    d_dropout_in: float = 0.2  # dropout on D's input (keep probability 0.8)
    d_dropout: float = 0.5  # dropout on D's hidden layers
    k: int = 1  # D steps per G step (algorithm 1; k = 1 in the experiments)
    optimizer: str = "sgd"  # sgd | adam; mnist.yaml: SGD with momentum
    lr: float = 0.1  # mnist.yaml: learning rate 0.1 (2e-4 for --optimizer adam)
    beta1: float = 0.5  # SGD momentum (mnist.yaml: init_momentum 0.5), or Adam's beta1
    batch_size: int = 100  # minibatch of m examples (algorithm 1; 100 in the released code)
    init_g: float = 0.05  # G's weights uniform in +-init_g (mnist.yaml: irange .05); 0: PyTorch's default
    init_d: float = 0.005  # D's weights uniform in +-init_d (mnist.yaml: irange .005); 0: PyTorch's default
    marginal_bias: bool = True  # G's output bias from the data's pixel marginals (mnist.yaml: init_sigmoid_bias_from_marginals)


class Generator(nn.Module):
    """z (B, z_dim) -> x (B, *out_shape); `bounded`: Tanh output for images in [-1, 1], linear
    output for vector data."""

    def __init__(self, z_dim: int, hidden: int, out_shape: tuple[int, ...], bounded: bool = True):
        super().__init__()
        self.out_shape = out_shape
        n_out = math.prod(out_shape)
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden), nn.ReLU(True),
            nn.Linear(hidden, hidden), nn.ReLU(True),
            nn.Linear(hidden, n_out), nn.Tanh() if bounded else nn.Identity(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)  # (B, z) -> (B, C, H, W) or (B, D)


class Discriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], units: int, pieces: int, p_in: float, p: float):
        super().__init__()
        n_in = math.prod(in_shape)
        self.net = nn.Sequential(
            nn.Dropout(p_in), Maxout(n_in, units, pieces),
            nn.Dropout(p), Maxout(units, units, pieces),
            nn.Dropout(p), nn.Linear(units, 1),  # logit of D(x)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(start_dim=1)).flatten()


@register_model("gan")
class GAN(GANModel):
    paper = "Generative Adversarial Nets. Goodfellow et al., 2014. arXiv:1406.2661"
    year = 2014
    default_dataset = "mnist"
    train_defaults = WEIGHT_AVERAGE  # it helped this model at 5 minutes: FD 198 -> 136 (docs/results.md)
    Config = GANConfig
    conv = False

    def __init__(self, cfg: GANConfig, data: DataInfo):
        super().__init__(cfg, data)
        shape = data.sample_shape  # (C, H, W) for images, (dim,) for vector data
        self.G = Generator(cfg.z_dim, cfg.g_hidden, shape, bounded=not data.is_vector)
        self.D = Discriminator(shape, cfg.d_units, cfg.d_pieces, cfg.d_dropout_in, cfg.d_dropout)
        uniform_init(self.G, cfg.init_g)
        uniform_init(self.D, cfg.init_d)

    def bind_data(self, dataset) -> None:
        """G's output bias from the training set's pixel marginals (the released mnist.yaml), for
        images: the log-odds of each pixel's mean, clipped to [1e-3, 1 - 1e-3] as pylearn2 does,
        halved for a Tanh."""
        if self.cfg.marginal_bias and not self.data.is_vector:
            marginal_bias_(self.G.net[-2], dataset.tensors[self.data.key("image")])

    def optimizers(self):
        c = self.cfg
        return {net: adam_or_sgd(getattr(self, net).parameters(), c.optimizer, c.lr, c.beta1) for net in ("G", "D")}

    def train_step(self, batch, step):
        x = batch["x"]
        # k steps of D: ascend log D(x) + log(1 - D(G(z))) (algorithm 1, inner loop)
        for _ in range(self.cfg.k):
            z = torch.randn(x.shape[0], self.cfg.z_dim, device=x.device)
            with torch.no_grad():
                fake = self.G(z)
            loss_D = d_loss_bce(self.D(x), self.D(fake))
            self.update("D", loss_D)
        # one step of G with the non-saturating loss (section 3)
        z = torch.randn(x.shape[0], self.cfg.z_dim, device=x.device)
        with frozen(self.D):
            loss_G = g_loss_nonsaturating(self.D(self.G(z)))
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}
