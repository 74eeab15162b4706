"""Conditional Generative Adversarial Nets. Mirza, Osindero, 2014. arXiv:1411.1784

Both players see extra information y (here a one-hot class label): G(z|y) and D(x|y), and the game
of eq. 2 becomes min_G max_D E[log D(x|y)] + E[log(1 - D(G(z|y)|y))]. For MNIST (section 4.1) z and
y are each mapped to a hidden ReLU layer (200 and 1000 units), joined in a 1200-unit ReLU layer, then
mapped to the image; D maps x to 240 maxout units x 5 pieces and y to 50 units x 5 pieces, joins them
in a 240-unit x 4-piece maxout layer, with dropout 0.5, and outputs one logit.

The paper trained with the authors' pylearn2 GAN code and names no initialisation; we take that
code's MNIST one (see `gan`): weights uniform in +-0.05 in G and +-0.005 in D, biases 0, G's output
bias from the pixel marginals of the data. Departures, as in `gan`: Tanh output for our [-1, 1]
images (its bias the marginals' log-odds halved) and Adam instead of SGD with momentum (SGD, rate
0.1 decayed by 1.00004 per step to 1e-6, momentum 0.5 rising to 0.7); no dropout in G (section 4.1
applies dropout 0.5 "to both the generator and discriminator" without saying where in G); and
z ~ N(0, I) rather than uniform in the unit hypercube (section 4.1): with [0, 1] noise under Adam G
ignored z within 2000 steps (one fixed image per label; 5 min on MNIST: FD 619, 6 classes,
conditional accuracy 0.10).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import Maxout, marginal_bias_, uniform_init
from ..registry import register_model
from .base import WEIGHT_AVERAGE, DataInfo, GANModel, adam_or_sgd, frozen


@dataclass
class CGANConfig:
    z_dim: int = 100  # section 4.1: "noise prior z with dimensionality 100"
    g_z_hidden: int = 200  # section 4.1: z -> 200 ReLU units
    g_y_hidden: int = 1000  # section 4.1: y -> 1000 ReLU units
    g_hidden: int = 1200  # section 4.1: joint 1200-unit ReLU layer
    d_x_units: int = 240  # section 4.1: x -> 240 maxout units, 5 pieces
    d_y_units: int = 50  # section 4.1: y -> 50 maxout units, 5 pieces
    d_units: int = 240  # section 4.1: joint 240 units, 4 pieces
    dropout: float = 0.5  # section 4.1: dropout 0.5 on D's hidden layers
    optimizer: str = "adam"  # adam | sgd (section 4.1: SGD with momentum)
    lr: float = 2e-4  # Adam (section 4.1: SGD, initial rate 0.1, decayed to 1e-6)
    beta1: float = 0.5  # Adam beta1, as in DCGAN; SGD momentum when optimizer = sgd (section 4.1: 0.5 rising to 0.7)
    beta2: float = 0.999  # Adam beta2, as in DCGAN
    batch_size: int = 100  # section 4.1: minibatches of size 100
    init_g: float = 0.05  # G's weights uniform in +-init_g (the GAN code's mnist.yaml); 0: PyTorch's default
    init_d: float = 0.005  # D's weights uniform in +-init_d (the GAN code's mnist.yaml); 0: PyTorch's default
    marginal_bias: bool = True  # G's output bias from the data's pixel marginals (the GAN code's mnist.yaml)


class Generator(nn.Module):
    def __init__(self, cfg: CGANConfig, n_classes: int, out_shape: tuple[int, int, int]):
        super().__init__()
        self.out_shape = out_shape
        self.z_path = nn.Sequential(nn.Linear(cfg.z_dim, cfg.g_z_hidden), nn.ReLU(True))
        self.y_path = nn.Sequential(nn.Linear(n_classes, cfg.g_y_hidden), nn.ReLU(True))
        n_out = out_shape[0] * out_shape[1] * out_shape[2]
        self.joint = nn.Sequential(
            nn.Linear(cfg.g_z_hidden + cfg.g_y_hidden, cfg.g_hidden), nn.ReLU(True),
            nn.Linear(cfg.g_hidden, n_out), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, y_onehot: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.z_path(z), self.y_path(y_onehot)], dim=1)  # (B, 200 + 1000)
        return self.joint(h).view(z.shape[0], *self.out_shape)


class Discriminator(nn.Module):
    def __init__(self, cfg: CGANConfig, n_classes: int, in_shape: tuple[int, int, int]):
        super().__init__()
        n_in = in_shape[0] * in_shape[1] * in_shape[2]
        self.x_path = Maxout(n_in, cfg.d_x_units, 5)
        self.y_path = Maxout(n_classes, cfg.d_y_units, 5)
        self.joint = nn.Sequential(
            nn.Dropout(cfg.dropout), Maxout(cfg.d_x_units + cfg.d_y_units, cfg.d_units, 4),
            nn.Dropout(cfg.dropout), nn.Linear(cfg.d_units, 1),
        )

    def forward(self, x: torch.Tensor, y_onehot: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.x_path(x.flatten(start_dim=1)), self.y_path(y_onehot)], dim=1)
        return self.joint(h).flatten()


@register_model("cgan")
class CGAN(GANModel):
    paper = "Conditional Generative Adversarial Nets. Mirza & Osindero, 2014. arXiv:1411.1784"
    year = 2014
    conditions = ("y",)
    default_dataset = "mnist"
    train_defaults = WEIGHT_AVERAGE  # it helped this model at 5 minutes: FD 223 -> 206 (docs/results.md)
    Config = CGANConfig
    conv = False
    vector_data = False  # its networks produce and read images

    def __init__(self, cfg: CGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        if data.num_classes < 2:
            raise GanthologyError(f"cgan needs a labelled dataset; {data.name!r} has no class labels.")
        shape = (data.channels, data.image_size, data.image_size)
        self.G = Generator(cfg, data.num_classes, shape)
        self.D = Discriminator(cfg, data.num_classes, shape)
        uniform_init(self.G, cfg.init_g)
        uniform_init(self.D, cfg.init_d)

    def bind_data(self, dataset) -> None:
        """G's output bias from the training set's pixel marginals (as in `gan`)."""
        if self.cfg.marginal_bias:
            marginal_bias_(self.G.joint[-2], dataset.tensors[self.data.key("image")])

    def optimizers(self):
        c = self.cfg
        return {net: adam_or_sgd(getattr(self, net).parameters(), c.optimizer, c.lr, c.beta1, c.beta2)
                for net in ("G", "D")}

    def _onehot(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.data.num_classes).float()

    def train_step(self, batch, step):
        x, y = batch["x"], self._onehot(batch["y"])
        z = self.noise(x.shape[0], x.device)
        # G draws labels from the data's label distribution by reusing the batch's labels
        fake = self.G(z, y)
        loss_D = d_loss_bce(self.D(x, y), self.D(fake.detach(), y))
        self.update("D", loss_D)
        with frozen(self.D):
            loss_G = g_loss_nonsaturating(self.D(fake, y))
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach()}

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, **cond) -> torch.Tensor:
        """`y`: class labels (n,); by default one class per grid column (`class_labels`)."""
        return self.G(z, self._onehot(self.class_labels(z.shape[0], y)))
