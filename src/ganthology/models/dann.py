"""Domain-Adversarial Training of Neural Networks. Ganin, Ustinova, Ajakan, Germain, Larochelle,
Laviolette, Marchand, Lempitsky, JMLR 2016. arXiv:1505.07818

A classifier trained on labelled images of one domain (the source: grey MNIST digits) fails on
another (the target: MNIST-M, digits over colour photographs) whose labels are unknown. DANN learns
features that predict the source label and that a domain classifier cannot tell apart between the
domains: a feature extractor G_f feeds a label predictor G_y and, through a gradient reversal layer
(GRL), a domain classifier G_d (section 3, Figure 1). The GRL is the identity in the forward pass
and multiplies the gradient by -lambda in the backward pass (section 3.3, eq. 18-19), so one
descent step on L_y + L_d moves G_y and G_d to predict the label and the domain, and G_f to
predict the label while making the domain unpredictable: the saddle point of eq. 10

    E(f, y, d) = L_y(f, y) - lambda L_d(f, d),  min over (f, y), max over d.

There are no images to generate: what DANN claims is its label predictor's accuracy on held-out
*target* images, whose labels training never reads. `ganthology eval RUN` reports it (`target_acc`
first, then `source_acc` on held-out source images), in eval mode, on the whole test split.

Schedules (section 5.2.2): the adaptation factor rises from 0 to 1 as training progresses,
lambda_p = 2 / (1 + exp(-gamma p)) - 1 with gamma = 10, so that the domain classifier's noisy early
signal does not disturb the features; the learning rate falls as eta_p = eta_0 / (1 + alpha p)^beta
with eta_0 = 0.01, alpha = 10, beta = 0.75; SGD with momentum 0.9; p in [0, 1] is the training
progress (the trainer's `total_steps`). Each batch is half source, half target (section 5.2.2:
batches of 128).

Network (section 5.2.1 and appendix, MNIST -> MNIST-M, as reimplemented): G_f is conv5-32, ReLU,
max-pool 2, conv5-48, ReLU, max-pool 2 (the convolutions padded to keep the size, so it fits the
32x32 images here); G_y is fc100, fc100, fc10; G_d is fc100, fc1. G_f and G_y together are the
classifier T that pixelda uses (`models/pixelda.TaskClassifier`), so the numbers of the two models
and of their source-only baselines come from the same network. Grey source images are shown with
their channel repeated to the target's colour channels.

`mode` gives the baselines of the paper's Table 2 on the same network, optimizer and schedule:
"source_only" trains G_f and G_y on the source alone (lambda = 0, no domain branch, the lower bound)
and "target_only" trains them on the labelled *target* images (the "train on target" upper bound,
the only mode that reads the target's labels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..registry import register_model
from .base import DataInfo, GANModel
from .pixelda import TaskClassifier, to_channels

MODES = ("adapt", "source_only", "target_only")


@dataclass
class DANNConfig:
    mode: str = "adapt"  # "adapt" (DANN), "source_only" (no domain branch) or "target_only" (trained on target labels: the upper bound); Table 2
    gamma: float = 10.0  # section 5.2.2: lambda_p = 2 / (1 + exp(-gamma p)) - 1 with gamma = 10
    lambda_max: float = 1.0  # section 5.2.2: lambda_p rises to this value (1 in the paper); 0 switches adaptation off
    lr: float = 0.01  # section 5.2.2: eta_0 = 0.01 in eta_p = eta_0 / (1 + alpha p)^beta
    lr_alpha: float = 10.0  # section 5.2.2: alpha = 10
    lr_beta: float = 0.75  # section 5.2.2: beta = 0.75
    momentum: float = 0.9  # section 5.2.2: SGD with momentum 0.9
    schedule_steps: int = 0  # steps over which the progress p goes from 0 to 1 (0: the run's length, as in the paper)
    ntf: int = 32  # section 5.2.1 / appendix (MNIST): G_f is conv5-32 then conv5-48 (1.5 x ntf)
    t_fc: int = 100  # appendix (MNIST): G_y is fc100, fc100, fc10
    d_fc: int = 100  # appendix (MNIST): G_d is fc100, fc1
    batch_size: int = 64  # per domain: each batch of 128 is half source, half target (section 5.2.2)


class GradientReversal(torch.autograd.Function):
    """R_lambda (section 3.3, eq. 18-19): R(x) = x forward, dR/dx = -lambda I backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lambd: float) -> torch.Tensor:
        ctx.lambd = lambd
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.lambd * grad, None


def grad_reverse(x: torch.Tensor, lambd: float) -> torch.Tensor:
    return GradientReversal.apply(x, lambd)


def adaptation_factor(p: float, gamma: float = 10.0) -> float:
    """lambda_p = 2 / (1 + exp(-gamma p)) - 1 (section 5.2.2): 0 at p = 0, about 0.9999 at p = 1."""
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


def annealed_lr_factor(p: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """eta_p / eta_0 = 1 / (1 + alpha p)^beta (section 5.2.2)."""
    return 1.0 / (1.0 + alpha * p) ** beta


class DomainClassifier(nn.Module):
    """G_d: (B, features) -> (B, 1) logit of "target domain"; fc100-ReLU-fc1 (appendix, MNIST)."""

    def __init__(self, in_features: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(True), nn.Linear(hidden, 1))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.net(f)


@register_model("dann")
class DANN(GANModel):
    paper = ("Domain-Adversarial Training of Neural Networks. Ganin et al., JMLR 2016. "
             "arXiv:1505.07818")
    year = 2016
    default_dataset = "mnist2mnistm"
    Config = DANNConfig
    follows_run_length = True  # lambda_p and eta_p follow the run's progress p (section 5.2.2)
    vector_data = False  # images only
    generates = False  # a classifier: no images to sample; scored by its held-out accuracy
    requires = ("domain A", "domain B", "label")  # labelled source A, unlabelled target B
    scores = {"target_acc": "max", "source_acc": "max"}  # G_y(G_f(.)) on held-out target, then source images
    sampling_modules = ("T",)  # what the scores need: G_f and G_y; the export holds them

    def __init__(self, cfg: DANNConfig, data: DataInfo):
        super().__init__(cfg, data)
        if cfg.mode not in MODES:
            raise GanthologyError(f"mode must be one of {', '.join(MODES)}, not {cfg.mode!r}.")
        self.key_A, self.key_B = data.key("domain A"), data.key("domain B")
        part_A, part_B = data.parts[self.key_A], data.parts[self.key_B]
        labels = {p.group: k for k, p in reversed(data.parts.items()) if p.role == "label"}
        self.key_y = labels.get(part_A.group)  # the source labels: what "adapt" and "source_only" read
        # the target's labels score the model on held-out images; only "target_only" trains on them
        self.key_y_B = labels.get(part_B.group, f"y_{self.key_B}")
        if self.key_y is None or data.num_classes < 2:
            raise GanthologyError(f"dann needs labels for the source domain (A); {data.name!r} has none in A's "
                                  "part. Use mnist2mnistm or digits2photo.")
        if cfg.mode == "target_only" and self.key_y_B not in data.parts:
            raise GanthologyError(f"mode target_only trains on the target's labels; {data.name!r} has none.")
        c_s, c_t, size = part_A.shape[0], part_B.shape[0], part_B.shape[-1]
        if c_s != c_t and 1 not in (c_s, c_t):
            raise GanthologyError(f"dann shows both domains to one network: {c_s} source and {c_t} target "
                                  "channels cannot be matched; use grey or equal channel counts.")
        if size % 4:
            raise GanthologyError(f"dann's G_f halves the image twice: the side ({size}) must be a multiple of 4.")
        self.channels, self.size = max(c_s, c_t), size
        # G_f = T.features, G_y = T.head: the DANN MNIST network, as pixelda's T (PyTorch's default init)
        self.T = TaskClassifier(self.channels, size, data.num_classes, cfg.ntf, cfg.t_fc)
        self.D = DomainClassifier(cfg.ntf * 3 // 2 * (size // 4) ** 2, cfg.d_fc)  # G_d

    # --- the schedules (section 5.2.2) -----------------------------------------------------------
    @property
    def horizon(self) -> int | None:
        """The steps over which p goes from 0 to 1: `schedule_steps`, else the run's length."""
        return self.cfg.schedule_steps or self.total_steps

    def progress(self, step: int) -> float:
        """p in [0, 1]: the share of the schedule done. Outside a trainer (no total_steps) and without
        `schedule_steps` the run counts as already done, p = 1 (full adaptation, the final rate)."""
        return min(1.0, step / self.horizon) if self.horizon else 1.0

    def optimizers(self):
        c = self.cfg
        nets = [self.T] if c.mode != "adapt" else [self.T, self.D]  # the baselines have no domain branch
        params = [p for n in nets for p in n.parameters()]
        # one SGD for G_f, G_y and G_d: the GRL turns the one descent step into the saddle point of eq. 10
        return {"T": torch.optim.SGD(params, lr=c.lr, momentum=c.momentum)}

    def schedulers(self):
        c = self.cfg
        return {"T": torch.optim.lr_scheduler.LambdaLR(
            self.opt["T"], lambda s: annealed_lr_factor(self.progress(s), c.lr_alpha, c.lr_beta))}

    def as_input(self, x: torch.Tensor) -> torch.Tensor:
        """Images of either domain as the network takes them: grey repeated to colour."""
        return to_channels(x, self.channels)

    def train_step(self, batch, step):
        c = self.cfg
        x_s, x_t = self.as_input(batch[self.key_A]), self.as_input(batch[self.key_B])
        if c.mode == "source_only":  # the lower bound: G_y(G_f(x_s)) on the source labels alone
            loss_y = F.cross_entropy(self.T(x_s), batch[self.key_y])
            self.update("T", loss_y)
            return {"loss_y": loss_y.detach()}
        if c.mode == "target_only":  # the upper bound: trained on the labelled target images
            loss_y = F.cross_entropy(self.T(x_t), batch[self.key_y_B])
            self.update("T", loss_y)
            return {"loss_y": loss_y.detach()}
        lambd = c.lambda_max * adaptation_factor(self.progress(step), c.gamma)
        n_s = x_s.shape[0]
        f = self.T.features(torch.cat([x_s, x_t])).flatten(start_dim=1)  # G_f: half source, half target
        loss_y = F.cross_entropy(self.T.head(f[:n_s]), batch[self.key_y])  # L_y on the source half only
        d_logit = self.D(grad_reverse(f, lambd)).squeeze(1)  # G_d(R_lambda(G_f(x)))
        domain = torch.cat([torch.zeros(n_s), torch.ones(x_t.shape[0])]).to(d_logit)  # 0 source, 1 target
        loss_d = F.binary_cross_entropy_with_logits(d_logit, domain)  # L_d, the domain's log-loss
        self.update("T", loss_y + loss_d)
        d_acc = ((d_logit > 0).float() == domain).float().mean()
        return {"loss_y": loss_y.detach(), "loss_d": loss_d.detach(), "domain_acc": d_acc.detach(),
                "lambda": torch.tensor(lambd)}

    # --- using the trained model ---------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, **cond) -> torch.Tensor:
        raise GanthologyError("dann makes no images: it is a classifier adapted to an unlabelled domain. "
                              "Score it with 'ganthology eval RUN'.")

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """G_y(G_f(x)): class logits (N, K) of images of either domain in [-1, 1], in eval mode."""
        was = self.T.training
        self.T.eval()
        try:
            return self.T(self.as_input(x.to(self.device)))
        finally:
            self.T.train(was)

    @torch.no_grad()
    def held_out_metrics(self, test):
        """Accuracy (eval mode) on the held-out target images with their labels (`y_B`), then on the
        held-out source images."""
        from ..metrics.scores import held_out_accuracy  # on use: `ganthology list` needs no metrics

        out = {}
        if self.key_y_B in test:
            out["target_acc"] = held_out_accuracy(self.classify, test[self.key_B], test[self.key_y_B])
        if self.key_y in test:
            out["source_acc"] = held_out_accuracy(self.classify, test[self.key_A], test[self.key_y])
        return out

    def preview(self, batch):
        """No images of its own: the grid shows the fixed batch it classifies (source row, target row)."""
        x_s, x_t = batch[self.key_A][:8], batch[self.key_B][:8]
        return torch.cat([self.as_input(x_s), self.as_input(x_t)]), len(x_s)
