"""Semi-Supervised Learning with Generative Adversarial Networks. Augustus Odena, 2016.
arXiv:1606.01583

The discriminator is also the classifier ("D/C"): instead of one real/fake output it has N + 1
outputs, the N classes of the data and one more for "generated" (section 2). It learns from three
kinds of examples at once: the few labelled ones (their class), the many unlabelled real ones (any
of the N real classes) and G's samples (class N + 1). The paper's claim (section 3, as remembered)
is that the classifier trained this way beats the same network trained on the labelled examples
alone when labels are scarce, and that G's samples improve too.

Losses, each the negative log-likelihood of what is known about an example (Algorithm 1: D/C
descends the NLL of its outputs on the combined minibatch, G the NLL on the generated one). With
logits l of D/C and p = softmax(l) over N + 1 outputs:

    labelled x, y:      -log p(y | x)                      (cross-entropy on raw logits)
    unlabelled real x:  -log (1 - p(N+1 | x)) = -(logsumexp(l_1..N) - logsumexp(l_1..N+1))
    generated x:        -log p(N+1 | x)
    G:                  -log (1 - p(N+1 | G(z)))           (non-saturating, as for GANs)

The unlabelled term is what "real, class unknown" means for N + 1 outputs (Salimans et al. 2016,
section 3.1 write the same loss with the fake logit fixed at 0). The labelled examples are
`n_labels` images drawn once per run, class-balanced, from the training set with `label_seed`
(`bind_data`); they are kept as buffers so checkpoints carry them and a resumed run uses the same
ones. Every step takes a labelled minibatch (with replacement) beside the data loader's batch, whose
labels are ignored: with 100 labels in 60,000 images a plain shuffled batch would hold one labelled
example every ten steps.

`supervised_only=True` trains the same D/C on the same labelled minibatches with the labelled term
alone (no G, no unlabelled data): the baseline the paper compares with.

Networks: DCGAN's (`ganthology.nn.dcgan`), as the paper ("we use the DCGAN architecture", as
remembered), with the real/fake head replaced by a linear layer to N + 1 logits. Held-out metric:
`test_accuracy`, the argmax over the N class outputs on the test split.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..nn import DCGANDiscriminator, DCGANGenerator, dcgan_init
from ..registry import register_model
from .base import DataInfo, frozen
from .few_labels import FewLabels


@dataclass
class SGANConfig:
    n_labels: int = 100  # labelled training examples, class-balanced (the default; the paper compares several counts on MNIST)
    label_seed: int = 0  # which examples are labelled: a seeded draw per class
    labelled_batch: int = 64  # labelled examples per step, drawn with replacement from the n_labels
    supervised_only: bool = False  # the baseline: the same D/C trained on the labelled examples alone
    z_dim: int = 100  # DCGAN's noise size
    ngf: int = 64  # G's width (DCGAN's)
    ndf: int = 64  # D/C's width (DCGAN's)
    lr: float = 2e-4  # DCGAN's Adam settings (the paper gives none that we could confirm)
    beta1: float = 0.5  # Adam beta1 (DCGAN's)
    beta2: float = 0.999  # Adam beta2 (DCGAN's)
    batch_size: int = 64  # unlabelled real and generated examples per step (DCGAN's is 128; the reference script's 64)


class Classifier(DCGANDiscriminator):
    """DCGAN's body with a linear head to N + 1 raw logits: (B, C, s, s) -> (B, N + 1)."""

    def __init__(self, channels: int, image_size: int, ndf: int, n_classes: int):
        super().__init__(channels, image_size, ndf, norm="batch")
        self.head = nn.Linear(self.feature_dim, n_classes + 1)  # the last output is "generated"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(start_dim=1))


def log_p_real(logits: torch.Tensor) -> torch.Tensor:
    """log(1 - p(generated | x)) for N + 1 logits: the log-probability of any real class."""
    return torch.logsumexp(logits[:, :-1], dim=1) - torch.logsumexp(logits, dim=1)


def log_p_generated(logits: torch.Tensor) -> torch.Tensor:
    """log p(generated | x), the last of the N + 1 outputs."""
    return logits[:, -1] - torch.logsumexp(logits, dim=1)


@register_model("sgan")
class SGAN(FewLabels):
    paper = "Semi-Supervised Learning with Generative Adversarial Networks. Odena, 2016. arXiv:1606.01583"
    year = 2016
    default_dataset = "mnist"
    Config = SGANConfig
    vector_data = False  # convolutional networks: images only
    sampling_modules = ("G", "D")  # D is the classifier: an export can classify

    def __init__(self, cfg: SGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        k = data.num_classes
        if k < 2:
            raise GanthologyError(f"sgan needs a labelled dataset; {data.name!r} has no class labels.")
        if cfg.n_labels < k or cfg.n_labels % k:
            raise GanthologyError(f"n_labels must be a positive multiple of the {k} classes (the labelled set is "
                                  f"class-balanced), not {cfg.n_labels}.")
        self.G = DCGANGenerator(cfg.z_dim, data.channels, data.image_size, cfg.ngf)
        self.D = Classifier(data.channels, data.image_size, cfg.ndf, k)
        self.apply(dcgan_init)  # N(0, 0.02) as in DCGAN
        self.keep_labelled((data.channels, data.image_size, data.image_size))  # the few labelled images (few_labels.py)

    def train_step(self, batch, step):
        x = batch["x"]  # the unlabelled stream: its labels are never read
        x_lab, y_lab = self._labelled_batch(x)
        n_lab = x_lab.shape[0]
        if self.cfg.supervised_only:
            loss_sup = F.cross_entropy(self.D(x_lab), y_lab)
            self.update("D", loss_sup)
            return {"loss_sup": loss_sup.detach()}
        fake = self.G(self.noise(x.shape[0], x.device))
        logits_real = self.D(torch.cat([x_lab, x]))  # one real minibatch, one generated (BatchNorm)
        logits_fake = self.D(fake.detach())
        loss_sup = F.cross_entropy(logits_real[:n_lab], y_lab)
        loss_unsup = -log_p_real(logits_real[n_lab:]).mean() - log_p_generated(logits_fake).mean()
        loss_D = loss_sup + loss_unsup
        self.update("D", loss_D)
        with frozen(self.D):
            loss_G = -log_p_real(self.D(fake)).mean()
        self.update("G", loss_G)
        acc = (logits_real[:n_lab, :-1].argmax(dim=1) == y_lab).float().mean()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(), "loss_sup": loss_sup.detach(),
                "acc_labelled": acc.detach()}

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, N) of images in [-1, 1]: D/C's outputs without the "generated" one."""
        return self.D(x)[:, :-1]

    @torch.no_grad()
    def held_out_metrics(self, test: dict[str, torch.Tensor]) -> dict[str, float]:
        from ..metrics.scores import held_out_accuracy  # on use: `ganthology list` needs no metrics

        x, y = test["x"], test.get("y")
        if y is None:
            return {}
        return {"test_accuracy": held_out_accuracy(self.classify, x, y)}
