"""InfoGAN: Interpretable Representation Learning by Information Maximizing Generative Adversarial
Nets. Chen, Duan, Houthooft, Schulman, Sutskever, Abbeel, 2016. arXiv:1606.03657

G's input is split into incompressible noise z and a latent code c, and the game is regularized so
that c stays recoverable from G(z, c): high mutual information I(c; G(z, c)) forces G to put c's
information into its samples, and without labels the codes come to mean the data's salient
factors (on MNIST: digit class, rotation, stroke width). The mutual information is bounded from
below with an auxiliary distribution Q(c | x) (section 5, eq. 5),

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c) <= I(c; G(z, c))

and the game becomes min_{G, Q} max_D V(D, G) - lambda L_I(G, Q) (eq. 6). Q is one more head on D's
body (section 6), so the bound costs almost nothing. H(c) is a constant; what is minimized is the
negative log-likelihood of the codes under Q: a cross-entropy on raw logits for the categorical
code, and for each continuous code a factored Gaussian (section 6: "simply treating Q(c_j | x) as a
factored Gaussian is sufficient") whose mean Q predicts; its standard deviation is fixed at 1, as
in the authors' MNIST code (`fix_std`), or predicted (log-variance output) with `fix_std=False`.

The information term updates G, Q and D's shared body: D's optimizer holds D and Q and steps on
the GAN loss plus lambda (-L_I) on the generated batch, G's steps on its GAN loss plus lambda (-L_I)
(as the authors' code does). The MNIST setup (section 7.2, appendix C, table 1): 62 noise variables, one
10-way categorical code, two continuous codes uniform in [-1, 1]; z here is laid out as
[noise | one-hot code | continuous codes] (`latent_codes`). The noise is uniform in [-1, 1], as in
the authors' code.

Networks: table 1 (MNIST), sized by the image: D is conv 64 - conv 128 (BatchNorm) - FC 1024
(BatchNorm) with leaky ReLU, then FC 1 for D and FC 128 (BatchNorm, leaky ReLU) - FC for Q; G is
FC 1024 - FC (s/4)^2 x 128 - upconv 64 - upconv C, BatchNorm and ReLU in G's hidden layers.
Departures: G's output is Tanh for our [-1, 1] images (the authors model [0, 1] pixels with a
Bernoulli mean). lambda_cont = 1 as in the authors' MNIST code (with the std fixed at 1 the Gaussian
term cannot go negative, the scale problem for which section 6 suggests "a smaller lambda"); measured
on digits, 600 steps: at 0.1 the continuous-code NLL stayed at 2.16 (2.17 = nothing learned, 1.84 =
perfect), at 1.0 it reached 1.88.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn import dcgan_init
from ..nn.infogan import ConvFCDiscriminator, FCUpconvGenerator
from ..registry import register_model
from .base import DataInfo, GANModel, frozen


@dataclass
class InfoGANConfig:
    z_dim: int = 62  # table 1: G's input has 74 = 62 noise + 10 + 2 codes (as remembered; the authors' code: 62)
    n_cat: int = 10  # section 7.2: one categorical code c1 ~ Cat(K = 10, p = 0.1)
    n_cont: int = 2  # section 7.2: two continuous codes c2, c3 ~ Unif(-1, 1)
    fix_std: bool = True  # section 6: Q(c_j | x) a factored Gaussian; std 1 as in the authors' MNIST code
    lambda_cat: float = 1.0  # appendix C: lambda = 1 for discrete codes
    lambda_cont: float = 1.0  # the authors' MNIST code (section 6 asks for "a smaller lambda" but gives none; 0.1 left the codes unlearned here)
    ngf: int = 64  # table 1: G's upconv has 64 channels, the layer before it 2 x 64 = 128
    ndf: int = 64  # table 1: D's convs have 64 and 2 x 64 = 128 channels
    fc: int = 1024  # table 1: the FC 1024 layers of G and D
    q_fc: int = 128  # table 1: Q's FC 128 hidden layer
    lrelu_slope: float = 0.1  # appendix C: D's leaky ReLU "leaky rate 0.1" (as remembered; authors' code: 0.01)
    lr_g: float = 1e-3  # appendix C: learning rate 1e-3 for G
    lr_d: float = 2e-4  # appendix C: learning rate 2e-4 for D (and Q)
    beta1: float = 0.5  # Adam beta1 of the authors' code (DCGAN's)
    batch_size: int = 128  # the authors' MNIST code (the paper names none that we could confirm)


class Generator(FCUpconvGenerator):
    """Table 1: z (B, Z) -> FC fc -> FC (s/4)^2 x 2ngf -> upconv ngf -> upconv C -> (B, C, s, s)."""

    def __init__(self, cfg: InfoGANConfig, z_total: int, channels: int, image_size: int):
        super().__init__(z_total, channels, image_size, cfg.ngf, cfg.fc)


class Discriminator(ConvFCDiscriminator):
    """Table 1: `features` is the body D shares with Q, (B, C, s, s) -> (B, fc); `head` is D's logit."""

    def __init__(self, cfg: InfoGANConfig, channels: int, image_size: int):
        super().__init__(channels, image_size, cfg.ndf, cfg.fc, cfg.lrelu_slope, batch_norm=True)


class QHead(nn.Module):
    """Table 1: Q(c | x) on D's features: FC q_fc - BN - lReLU - FC to the codes' parameters:
    categorical logits (n_cat), continuous means (n_cont) and, unless fix_std, log-variances (n_cont)."""

    def __init__(self, cfg: InfoGANConfig):
        super().__init__()
        n_out = cfg.n_cat + cfg.n_cont * (1 if cfg.fix_std else 2)
        self.net = nn.Sequential(
            nn.Linear(cfg.fc, cfg.q_fc, bias=False), nn.BatchNorm1d(cfg.q_fc), nn.LeakyReLU(cfg.lrelu_slope, True),
            nn.Linear(cfg.q_fc, n_out),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


@register_model("infogan")
class InfoGAN(GANModel):
    paper = ("InfoGAN: Interpretable Representation Learning by Information Maximizing GANs. "
             "Chen et al., 2016. arXiv:1606.03657")
    year = 2016
    default_dataset = "mnist"
    Config = InfoGANConfig
    vector_data = False  # convolutional networks: images only
    # Q reads codes back from images (`predict_codes`), through D's body: exports keep all three
    sampling_modules = ("G", "D", "Q")

    def __init__(self, cfg: InfoGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        if cfg.n_cat < 2 or cfg.n_cont < 0:
            raise GanthologyError("infogan needs n_cat >= 2 categories and n_cont >= 0 continuous codes.")
        # z = [noise | one-hot categorical code | continuous codes]
        a, b = cfg.z_dim, cfg.z_dim + cfg.n_cat
        self.latent_codes = {"digit": (a, b, "categorical"),
                             **{f"c{i + 1}": (b + i, b + i + 1, "uniform") for i in range(cfg.n_cont)}}
        self.z_total = b + cfg.n_cont
        self.G = Generator(cfg, self.z_total, data.channels, data.image_size)
        self.D = Discriminator(cfg, data.channels, data.image_size)
        self.Q = QHead(cfg)
        self.apply(dcgan_init)  # N(0, 0.02), BatchNorm scales N(1, 0.02): as in the authors' code

    def optimizers(self):
        betas = (self.cfg.beta1, 0.999)
        return {
            "G": torch.optim.Adam(self.G.parameters(), lr=self.cfg.lr_g, betas=betas),
            # Q shares D's body and is trained with it (eq. 6 minimizes over Q; the authors' code
            # puts Q's variables in D's optimizer)
            "D": torch.optim.Adam([*self.D.parameters(), *self.Q.parameters()], lr=self.cfg.lr_d, betas=betas),
        }

    # --- the latent space ----------------------------------------------------------------------
    z_in_unit_box = True  # uniform noise and continuous codes, one-hot category
    augments_itself = True  # --augment: D is called in parts (body, then D's and Q's heads)

    def noise(self, n: int, device=None) -> torch.Tensor:
        """z (n, z_dim + n_cat + n_cont): uniform noise in [-1, 1], a one-hot category drawn
        uniformly, continuous codes uniform in [-1, 1]."""
        c = self.cfg
        device = device if device is not None else self.device
        noise = torch.rand(n, c.z_dim, device=device) * 2 - 1
        cat = F.one_hot(torch.randint(c.n_cat, (n,), device=device), c.n_cat).float()
        cont = torch.rand(n, c.n_cont, device=device) * 2 - 1
        return torch.cat([noise, cat, cont], dim=1)

    def generate(self, z: torch.Tensor, **cond) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_total:
            raise GanthologyError(f"infogan's z has {self.z_total} entries per sample, not shape {tuple(z.shape)}.")
        return self.G(z)

    def _split_codes(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(category index (B,), continuous codes (B, n_cont)) of a latent batch."""
        a = self.cfg.z_dim
        b = a + self.cfg.n_cat
        return z[:, a:b].argmax(dim=1), z[:, b:]

    def _q(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q's parameters from D's features: (logits (B, n_cat), means (B, n_cont), log-std (B, n_cont))."""
        c = self.cfg
        out = self.Q(h)
        logits, mu = out[:, :c.n_cat], out[:, c.n_cat:c.n_cat + c.n_cont]
        if c.fix_std:
            log_std = torch.zeros_like(mu)
        else:
            log_std = 0.5 * out[:, c.n_cat + c.n_cont:]  # the output is a log-variance
        return logits, mu, log_std

    def predict_codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q's reading of images: (categorical logits (B, n_cat), continuous means (B, n_cont)).
        For evaluation: argmax of the logits against true labels gives the (Hungarian-matched)
        accuracy of the categorical code."""
        logits, mu, _ = self._q(self.D.features(x))
        return logits, mu

    @torch.no_grad()
    def held_out_metrics(self, test: dict[str, torch.Tensor]) -> dict[str, float]:
        """How well the categorical code clusters real images: Q's argmax against the true labels,
        Hungarian-matched accuracy (cluster_acc), NMI and ARI. Also `code_mi`, which reads no labels:
        the mutual information between Q's category and the image on these images, in nats,
        I = E_x KL(Q(c|x) || mean_x Q(c|x)), at most log n_cat (balanced, confident categories):
        the log of the Inception score of Q's probabilities in one split. Over ten MNIST runs it
        stayed near that maximum and did not rank them by cluster_acc (docs/results.md), so it says
        whether the code is used, not whether it is the digit."""
        from ..metrics import cluster_metrics, inception_score

        x, y = test["x"], test.get("y")
        probs = torch.cat([F.softmax(self.predict_codes(xb)[0].float(), dim=1) for xb in x.split(500)])
        code_mi = math.log(inception_score(probs, splits=1)[0])
        return {"code_mi": code_mi} | cluster_metrics(probs.argmax(dim=1).cpu(), None if y is None else y.cpu())

    def info_nll(self, h: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-E[log Q(c | x)] for the codes in z, given D's features h of x = G(z): the terms of
        -L_I (eq. 5) without the constant H(c). (categorical, continuous), each averaged over the batch;
        the continuous one is summed over the codes."""
        c_cat, c_cont = self._split_codes(z)
        logits, mu, log_std = self._q(h)
        nll_cat = F.cross_entropy(logits, c_cat)  # raw logits: the softmax is inside cross_entropy
        # factored Gaussian: -log N(c; mu, sigma^2) = log sigma + (c - mu)^2 / (2 sigma^2) + log(2 pi) / 2
        nll = log_std + 0.5 * ((c_cont - mu) * torch.exp(-log_std)) ** 2 + 0.5 * math.log(2 * math.pi)
        return nll_cat, nll.sum(dim=1).mean()

    # --- the update rule -----------------------------------------------------------------------
    def train_step(self, batch, step):
        x = batch["x"]
        c = self.cfg
        z = self.noise(x.shape[0], x.device)
        fake = self.G(z)
        # D and Q: GAN loss on separate real / fake minibatches, plus lambda (-L_I) on the fakes
        d_real = self.D(self.augmented(x))  # --augment: every batch D's body sees, fakes included
        h_fake = self.D.features(self.augmented(fake.detach()))
        nll_cat, nll_cont = self.info_nll(h_fake, z)
        loss_info = c.lambda_cat * nll_cat + c.lambda_cont * nll_cont
        loss_D = d_loss_bce(d_real, self.D.head(h_fake).flatten()) + loss_info
        self.update("D", loss_D)
        # G: non-saturating GAN loss plus the same information term through the updated D and Q
        with frozen(self.D, self.Q):
            h = self.D.features(self.augmented(fake))
            g_cat, g_cont = self.info_nll(h, z)
            loss_G = g_loss_nonsaturating(self.D.head(h).flatten()) + c.lambda_cat * g_cat + c.lambda_cont * g_cont
        self.update("G", loss_G)
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(), "nll_cat": nll_cat.detach(),
                "nll_cont": nll_cont.detach()}

    @torch.no_grad()
    def preview(self, batch):
        """One value of the categorical code per column (the paper's figure 2), noise in rows."""
        n = next(iter(batch.values())).shape[0]
        z = self.noise(n)
        a = self.cfg.z_dim
        column = torch.arange(n, device=z.device) % self.cfg.n_cat
        z[:, a:a + self.cfg.n_cat] = F.one_hot(column, self.cfg.n_cat).float()
        return self.generate(z), self.cfg.n_cat
