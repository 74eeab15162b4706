"""Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks. Zhu, Park, Isola,
Efros, 2017. arXiv:1703.10593

Two generators translate between domains that have no aligned pairs: G_AB: A -> B and G_BA: B -> A,
each judged by a discriminator of its target domain (D_B, D_A). Adversarial losses alone would let G
map A onto any image of B; the cycle-consistency loss asks that a translation can be undone,
G_BA(G_AB(a)) ~ a and G_AB(G_BA(b)) ~ b (section 3.2, eq. 2), which ties each output to its input.
The full objective is eq. 3: L_GAN(G_AB, D_B) + L_GAN(G_BA, D_A) + lambda L_cyc. The adversarial loss
is least squares (section 4), D sees a history of 50 generated images instead of the latest only
(section 4, after Shrivastava et al.), and for photo <-> painting an identity loss keeps colours
(section 5.2): G_AB(b) ~ b when b already lies in B.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.folders import check_direction
from ..errors import GanthologyError
from ..losses import lsgan_d_loss
from ..nn import PatchGANDiscriminator, ResnetGenerator, dcgan_init
from ..registry import register_model
from .base import DataInfo, GANModel, constant_then_linear_decay, frozen


@dataclass
class CycleGANConfig:
    lambda_cyc: float = 10.0  # section 7.1: lambda = 10 in eq. 3
    lambda_id: float = 0.5  # section 7.1: identity loss weight 0.5 lambda (as a fraction of lambda_cyc); 0 turns it off
    pool_size: int = 50  # section 4: D is updated from a buffer of the 50 last generated images
    ngf: int = 64  # appendix 7.2: c7s1-64, d128, d256, R256, u128, u64
    ndf: int = 64  # appendix 7.2: C64-C128-C256-C512
    n_blocks: int = 0  # appendix 7.2: residual blocks in G; 0 = 6 below 256x256 images, 9 from 256 up
    d_layers: int = 3  # appendix 7.2: three stride-2 layers, a 70x70 PatchGAN
    lr: float = 2e-4  # section 7.1: Adam, learning rate 0.0002
    beta1: float = 0.5  # section 7.1 (the official code's Adam betas (0.5, 0.999))
    beta2: float = 0.999  # section 7.1
    decay_from: float = 0.5  # section 7.1: the lr is kept for the first 100 of 200 epochs, then lowered linearly to 0
    batch_size: int = 1  # section 7.1: batch size 1


class ImagePool(nn.Module):
    """The history of generated images D learns from (section 4; Shrivastava et al. 2017): the first
    `size` images are stored and returned as they come; after that each new image is, with
    probability 1/2, swapped for a random stored one (which D then sees) or passed through. Buffers,
    so the history travels in checkpoints and a resumed run sees the same images; randomness from
    torch, so seeding torch makes it repeatable."""

    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for img in batch.detach():
            n = int(self.count)
            if n < self.size:  # fill the pool first
                self.images[n] = img
                self.count += 1
                out.append(img)
            elif torch.rand(()) < 0.5:  # return an old image, keep the new one in its place
                j = int(torch.randint(self.size, ()))
                out.append(self.images[j].clone())
                self.images[j] = img
            else:
                out.append(img)
        return torch.stack(out)


@register_model("cyclegan")
class CycleGAN(GANModel):
    paper = "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks. Zhu et al., 2017. arXiv:1703.10593"
    year = 2017
    default_dataset = "mnist2mnistm"
    Config = CycleGANConfig
    vector_data = False
    requires = ("domain A", "domain B")
    sampling_modules = ("G_AB", "G_BA")
    #: held-out numbers (see held_out_metrics): the cycle error needs nothing; the others need
    #: the evaluators of the domains' datasets
    scores = {"cycle_l1": "min", "digit_kept_AtoB": "max", "digit_kept_BtoA": "max", "fd_AtoB": "min",
              "fd_BtoA": "min", "identity_digit_kept_AtoB": "max", "identity_digit_kept_BtoA": "max",
              "identity_fd_AtoB": "min", "identity_fd_BtoA": "min"}

    def __init__(self, cfg: CycleGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        self.key_A, self.key_B = data.key("domain A"), data.key("domain B")
        shape_A, shape_B = data.parts[self.key_A].shape, data.parts[self.key_B].shape
        if shape_A[1:] != shape_B[1:]:
            raise GanthologyError(f"cyclegan translates images of one size; the domains are {shape_A[1]}x{shape_A[2]} "
                                  f"and {shape_B[1]}x{shape_B[2]}. Pass --image-size.")
        self.c_A, self.c_B, size = shape_A[0], shape_B[0], shape_A[-1]
        if size % 4:
            raise GanthologyError(f"cyclegan's generator halves the image twice; use an image size that is a "
                                  f"multiple of 4, not {size}.")
        n_blocks = cfg.n_blocks or (9 if size >= 256 else 6)  # appendix 7.2
        self.G_AB = ResnetGenerator(self.c_A, self.c_B, cfg.ngf, n_blocks)
        self.G_BA = ResnetGenerator(self.c_B, self.c_A, cfg.ngf, n_blocks)
        self.D_A = PatchGANDiscriminator(self.c_A, cfg.ndf, cfg.d_layers, norm="instance")
        self.D_B = PatchGANDiscriminator(self.c_B, cfg.ndf, cfg.d_layers, norm="instance")
        self.pool_A = ImagePool(cfg.pool_size, shape_A)  # generated A's, for D_A
        self.pool_B = ImagePool(cfg.pool_size, shape_B)
        self.apply(dcgan_init)  # section 7.1: weights from N(0, 0.02)

    def optimizers(self):
        c = self.cfg
        betas = (c.beta1, c.beta2)
        # one Adam for both generators and one for both discriminators, as the official code steps them
        return {"G": torch.optim.Adam(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()), c.lr, betas=betas),
                "D": torch.optim.Adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), c.lr, betas=betas)}

    def schedulers(self):
        # section 7.1: constant for the first half of training, then linearly down to zero
        total = self.total_steps or 1
        return {k: constant_then_linear_decay(opt, total, self.cfg.decay_from) for k, opt in self.opt.items()}

    def train_step(self, batch, step):
        c = self.cfg
        real_A, real_B = batch[self.key_A], batch[self.key_B]
        # --- generators: fool both D (least squares, section 4), undo each other (eq. 2) ---
        with frozen(self.D_A, self.D_B):
            fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
            # G minimises E[(D(G(x)) - 1)^2] (section 4; only D's objective is halved, section 7.1)
            loss_gan = ((self.D_B(fake_B) - 1) ** 2).mean() + ((self.D_A(fake_A) - 1) ** 2).mean()
            loss_cyc = F.l1_loss(self.G_BA(fake_B), real_A) + F.l1_loss(self.G_AB(fake_A), real_B)  # eq. 2
            loss_G = loss_gan + c.lambda_cyc * loss_cyc
            out = {"loss_G": loss_gan.detach(), "loss_cyc": loss_cyc.detach()}
            if c.lambda_id > 0 and self.c_A == self.c_B:
                # section 5.2: a generator given an image of its own target domain should leave it be;
                # defined only when both domains have the same channels
                loss_id = F.l1_loss(self.G_AB(real_B), real_B) + F.l1_loss(self.G_BA(real_A), real_A)
                loss_G = loss_G + c.lambda_cyc * c.lambda_id * loss_id
                out["loss_id"] = loss_id.detach()
        self.update("G", loss_G)
        # --- discriminators: real against the pool's history of fakes, divided by 2 (section 7.1) ---
        loss_D_A = lsgan_d_loss(self.D_A(real_A), self.D_A(self.pool_A(fake_A)))
        loss_D_B = lsgan_d_loss(self.D_B(real_B), self.D_B(self.pool_B(fake_B)))
        self.update("D", loss_D_A + loss_D_B)
        return out | {"loss_D_A": loss_D_A.detach(), "loss_D_B": loss_D_B.detach()}

    # --- use ------------------------------------------------------------------------------------
    def input_spec(self, direction: str = "AtoB") -> tuple[int, int]:
        check_direction(direction)
        return (self.c_A if direction == "AtoB" else self.c_B), self.data.image_size

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Images of domain A (direction AtoB) or B (BtoA), in [-1, 1], translated to the other."""
        c, s = self.input_spec(direction)
        if x.dim() != 4 or x.shape[1] != c or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise GanthologyError(f"cyclegan {direction} takes {c}-channel images whose sides are multiples of 4; "
                                  f"got shape {tuple(x.shape[1:])}.")
        G = self.G_AB if direction == "AtoB" else self.G_BA
        return G(x.to(self.device))

    @torch.no_grad()
    def held_out_metrics(self, test):
        """On the held-out images of both domains:
        - cycle_l1: mean |G_BA(G_AB(a)) - a| and |G_AB(G_BA(b)) - b| (in [-1, 1]), the cycle loss;
        - digit_kept_AtoB / _BtoA: the share of translations that the evaluator of the target
          domain's dataset labels as the digit of their input (where the domain has labels and its
          dataset an evaluator, trained once on first use); identity_digit_kept_*: the same
          for the input itself, put into the target's channels (the identity mapping's score);
        - fd_AtoB / fd_BtoA: Fréchet distance, in that evaluator's features, from the translations
          to the target domain's held-out images; identity_fd_*: the same for the inputs."""
        from ..metrics import frechet_distance
        from ..metrics.evaluators import evaluator_for

        a, b = test[self.key_A], test[self.key_B]
        fake_B = torch.cat([self.G_AB(x) for x in a.split(100)])
        fake_A = torch.cat([self.G_BA(x) for x in b.split(100)])
        cyc_A = torch.cat([self.G_BA(x) for x in fake_B.split(100)])
        cyc_B = torch.cat([self.G_AB(x) for x in fake_A.split(100)])
        out = {"cycle_l1": float(((cyc_A - a).abs().mean() + (cyc_B - b).abs().mean()) / 2)}
        for name, src, fake, real, target_key in (("AtoB", self.key_A, fake_B, b, self.key_B),
                                                  ("BtoA", self.key_B, fake_A, a, self.key_A)):
            ev = evaluator_for(self.data.parts[target_key].dataset)
            if ev is None:
                continue  # no evaluator for this domain's images
            feats, probs = ev.run(fake.float().cpu())
            real_feats = ev.run(real.float().cpu())[0]
            same_feats, same_probs = ev.run(_to_channels(test[src].float().cpu(), fake.shape[1]))  # the identity
            out[f"fd_{name}"] = frechet_distance(feats, real_feats)
            out[f"identity_fd_{name}"] = frechet_distance(same_feats, real_feats)
            labels = _labels_of(test, self.data, src)
            if labels is not None:
                out[f"digit_kept_{name}"] = float((probs.argmax(1) == labels.cpu()).float().mean())
                out[f"identity_digit_kept_{name}"] = float((same_probs.argmax(1) == labels.cpu()).float().mean())
        return out

    def preview(self, batch):
        from ..viz import match_channels

        a, b = batch[self.key_A][:8], batch[self.key_B][:8]
        with torch.no_grad():
            fake_B, fake_A = self.G_AB(a), self.G_BA(b)
            rec_A = self.G_BA(fake_B)
        c = max(self.c_A, self.c_B)
        rows = [match_channels(t, torch.zeros(1, c, 1, 1)) for t in (a, fake_B, rec_A, b, fake_A)]
        n = min(len(a), len(b))
        return torch.stack([r[:n] for r in rows], 1).flatten(0, 1), 10  # A | G_AB(A) | cycle | B | G_BA(B)


def _labels_of(test: dict, data: DataInfo, key: str) -> torch.Tensor | None:
    """The labels aligned with `key` in the held-out batch (the label part of its group), if any."""
    group = data.parts[key].group
    label = next((k for k, p in data.parts.items() if p.role == "label" and p.group == group), None)
    return test.get(label) if label else None


def _to_channels(x: torch.Tensor, c: int) -> torch.Tensor:
    """Grey -> colour by repetition, colour -> grey by the channel mean."""
    if x.shape[1] == c:
        return x
    return x.expand(-1, c, -1, -1) if x.shape[1] == 1 else x.mean(1, keepdim=True)

