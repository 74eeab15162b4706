"""Semi-Supervised Learning with Context-Conditional Generative Adversarial Networks. Emily Denton,
Sam Gross, Rob Fergus, 2016. arXiv:1611.06430

A discriminator that must tell real images from images whose hole a generator has filled learns
features that help it classify; trained on that task and, at the same time, on the few labelled
images it has, it classifies better than the same network trained on those labels alone (the
paper's claim, section 4: STL-10 with 1,000 labels, 75.7% for CC-GAN against 61.2% for the same
VGG network trained on the labels alone; 77.8% for CC-GAN^2).

The generator G receives an image whose hole has been blanked out and outputs a whole image x_G;
the hole of the real image is filled from it and the rest is kept (section 3.3; the paper's mask m
is 1 on the *known* pixels, ours, data/masks.py, is 1 inside the hole, so with ours):

    x_I = m * x_G + (1 - m) * x            (paper: x_I = (1 - m) . x_G + m . x)

so the context pixels that D sees are exactly the real ones for real and fake images alike and D
can only judge the filled hole and how it fits its surroundings. The adversarial objective
(section 3.3, eq. 3) is

    min_G max_D  E_x[log D(x)] + E_{x, m}[log(1 - D(x_I))]

(G descends the non-saturating -log D(x_I), Goodfellow et al. 2014's advice that GAN papers
follow). CC-GAN^2 (section 3.4, `combined`) also shows D the whole generated image x_G as a fake,
a second, easier kind of negative: + E_{x, m}[log(1 - D(x_G))]. D has a second head, K class
logits, trained with cross-entropy on the labelled images beside the adversarial loss (the
semi-supervised objective of section 3.5: the adversarial task regularises the supervised one);
the logits go into the cross-entropy as they are (no Softmax before it, the defect of the
PyTorch-GAN ACGAN / Keras CCGAN code).

Networks (figure 3 and section 4.1, as remembered): G is a convolutional encoder-decoder, four
4x4 stride-2 convolutions (64, 128, 256, 512 filters) down and four 4x4 stride-2 transposed
convolutions up, batch norm and ReLU after each but the last (Tanh). Its dashed, optional pathway
(`low_res`) feeds a 4x downsampled copy of the whole image to the layer of the same resolution
(after the second convolution), which the paper uses to help with large holes; the PyTorch-GAN
script joins it at the same place. D is VGG-A' (section 4.1: VGG-A, Simonyan & Zisserman 2015,
3x3 convolutions 64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M, with batch norm) with two
linear heads instead of VGG's fully connected layers: one real/fake logit and K class logits.
On images smaller than 32x32 the last pooling stages that would go below 1x1 are left out (16x16:
four stages). The paper trains on 96x96 STL-10 with a 32x32 hole; our images are 16x16 or 32x32,
so the hole keeps the paper's ratio, a third of the side (`hole` = 0: 10 pixels at 32x32, 5 at
16x16), at a random position in each image (`mask`).

Few labels as in `sgan`: `n_labels` images drawn once per run, class-balanced, with `label_seed`
(`bind_data`), kept as buffers so that checkpoints carry them; each step takes `labelled_batch` of
them (with replacement) beside the data loader's batch, whose labels are never read.
`supervised_only=True` is the paper's baseline: the same D trained with the classification loss
alone on the same labelled minibatches (G is built but never stepped).

Batch norm (VGG-A' has it after every convolution but the first). D makes three forward passes
per step, each its own batch-norm batch: the labelled images alone (the very pass the supervised
baseline makes, so the two classifiers differ only by the adversarial term, as the paper's
comparison means), the unlabelled real images, then the fakes. The fakes' passes (D's and G's)
leave the running statistics alone (`real_statistics_only`), so eval mode, in which the test
accuracy is measured, never sees statistics of fakes; the test accuracy itself re-estimates them
on the labelled images under D's final weights (`classifier()`), because running averages lag
behind weights that the adversarial game keeps moving. The first version put the labelled and
unlabelled images into one batch-norm batch: on MNIST with 100 labels that alone, with the
adversarial weight at 0, cost 13 points against the baseline, and with the adversarial loss its
classifier fell 26-31 points below it. With separate batches D no longer wins the game within 200
steps and the gap is 1-5 points; with `combined` (CC-GAN^2) the classifier beats the baseline by
3-4 points, 84.9 / 86.2% against 82.1 / 81.9% (docs/results.md, "ccgan"). The paper does not say how its batches
are formed (as remembered); separate batches for real and generated images are DCGAN's practice.

Held-out numbers: `test_accuracy` of D's class head on the test split (the paper's claim), then
the inpainting scores every inpainting model reports (`metrics/inpainting.py`).

Section, figure and table numbers are as remembered: the paper could not be re-read offline. Our
notes (next-models.md) describe CC-GAN^2 as the model that also conditions on the low-resolution
image; as remembered here, CC-GAN^2 is the combined objective of section 3.4, and the
low-resolution input is figure 3's optional pathway. Both are options, off by default, so either
reading can be run.

Not carried over from the PyTorch-GAN script: its least-squares loss (the paper's is the GAN log
loss), no compositing (its D sees the raw output of G), no classifier or labels, BatchNorm with
eps 0.8, masks from np.random.
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.core import to_model_range
from ..data.masks import KINDS, composite, fill_hole, square_masks
from ..errors import GanthologyError
from ..nn import dcgan_init
from ..registry import register_model
from .base import DataInfo, frozen
from .few_labels import FewLabels


@dataclass
class CCGANConfig:
    n_labels: int = 100  # labelled training examples, class-balanced (the 100, as sgan; the paper's STL-10 folds hold 1,000)
    label_seed: int = 0  # which examples are labelled: a seeded draw per class
    labelled_batch: int = 64  # labelled examples per step, drawn with replacement from the n_labels (as sgan)
    supervised_only: bool = False  # the baseline of section 4: the same D trained on the labelled examples alone
    lambda_cls: float = 1.0  # section 3.5: weight of D's classification loss beside the adversarial one (a plain sum)
    combined: bool = False  # CC-GAN^2 (section 3.4): D also sees G's whole output x_G as a fake
    low_res: bool = False  # figure 3's optional pathway: G also gets the image downsampled 4x, joined after its 2nd layer
    hole: int = 0  # side of the square hole in pixels; 0: a third of the image side (section 4.1: 32 of 96)
    mask: str = "random"  # section 4.1: holes at random positions ("center": always in the middle)
    ngf: int = 64  # figure 3: G's first encoder layer has 64 filters, doubled at each of the 4 layers
    ndf: int = 64  # VGG-A's first layer has 64 filters (128, 256, 512, 512 after each pooling)
    lr: float = 2e-4  # Adam learning rate (DCGAN's, section 4.1 trains with Adam, as remembered)
    beta1: float = 0.5  # Adam beta1 (DCGAN's)
    beta2: float = 0.999  # Adam beta2 (the default)
    batch_size: int = 64  # unlabelled images per step (DCGAN's 128 halved, as sgan and the script)


LOW_RES_FACTOR = 4  # figure 3: the low-resolution copy is the image downsampled 4 times


class ContextGenerator(nn.Module):
    """G: (B, C, s, s) images with a blanked hole [+ (B, C, s/4, s/4) low-resolution copies] ->
    (B, C, s, s) whole images in [-1, 1]. s a multiple of 16 (four stride-2 layers)."""

    def __init__(self, channels: int, size: int, ngf: int, low_res: bool):
        super().__init__()
        if size % 16:
            raise GanthologyError(f"ccgan's generator halves the image four times; use an image size that is a "
                                  f"multiple of 16 (16, 32, 64, 96), not {size}.")
        self.low_res = low_res

        def down(c_in, c_out):  # (B, c_in, s, s) -> (B, c_out, s/2, s/2)
            return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True))

        def up(c_in, c_out):  # (B, c_in, s, s) -> (B, c_out, 2s, 2s)
            return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                                 nn.ReLU(True))

        extra = channels if low_res else 0  # the low-resolution copy joins the 2nd layer's output
        self.down1, self.down2 = down(channels, ngf), down(ngf, ngf * 2)
        self.down3, self.down4 = down(ngf * 2 + extra, ngf * 4), down(ngf * 4, ngf * 8)
        self.up = nn.Sequential(up(ngf * 8, ngf * 4), up(ngf * 4, ngf * 2), up(ngf * 2, ngf),
                                nn.ConvTranspose2d(ngf, channels, 4, 2, 1), nn.Tanh())

    def forward(self, x_context: torch.Tensor, x_low: torch.Tensor | None = None) -> torch.Tensor:
        h = self.down2(self.down1(x_context))  # (B, 2 ngf, s/4, s/4)
        if self.low_res:
            h = torch.cat([h, x_low], dim=1)  # (B, 2 ngf + C, s/4, s/4)
        return self.up(self.down4(self.down3(h)))  # (B, 8 ngf, s/16, s/16) -> (B, C, s, s)


#: VGG-A's convolutions per stage (Simonyan & Zisserman 2015, table 1, column A), as multiples of
#: the first layer's width; each stage ends in 2x2 max pooling
VGG_A = ((1,), (2,), (4, 4), (8, 8), (8, 8))


class VGGDiscriminator(nn.Module):
    """D (VGG-A'): (B, C, s, s) -> ((B,) real/fake logit, (B, K) class logits), raw logits both."""

    def __init__(self, channels: int, size: int, ndf: int, n_classes: int):
        super().__init__()
        stages = VGG_A[:min(len(VGG_A), int(math.log2(size)))]  # never pool below 1x1
        layers: list[nn.Module] = []
        c_in, first = channels, True
        for widths in stages:  # (B, c, s, s) -> (B, c', s/2, s/2)
            for w in widths:
                c_out = ndf * w
                layers += [nn.Conv2d(c_in, c_out, 3, 1, 1, bias=first),
                           *([] if first else [nn.BatchNorm2d(c_out)]),  # no BN on the input layer (DCGAN)
                           nn.LeakyReLU(0.2, True)]
                c_in, first = c_out, False
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = size // 2 ** len(stages)
        self.adv = nn.Linear(c_in * side * side, 1)  # real / fake (the sigmoid is in the loss)
        self.cls = nn.Linear(c_in * side * side, n_classes)  # class logits (the softmax is in the loss)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x).flatten(start_dim=1)
        return self.adv(h).squeeze(1), self.cls(h)


@contextmanager
def real_statistics_only(net: nn.Module):
    """Batch norm normalises with the batch's own statistics as usual, but the running statistics
    that eval mode (the test accuracy) uses are left as they are (momentum 0): they stay those of
    real images. Otherwise two of every three batches that update them would be fakes."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, mom in zip(norms, saved):
            m.momentum = mom


@register_model("ccgan")
class CCGAN(FewLabels):
    paper = ("Semi-Supervised Learning with Context-Conditional Generative Adversarial Networks. "
             "Denton, Gross, Fergus, 2016. arXiv:1611.06430")
    year = 2016
    default_dataset = "mnist"
    Config = CCGANConfig
    vector_data = False  # convolutional networks: images only
    sampling_modules = ("G", "D")  # D is the classifier: an export can fill holes and classify

    def __init__(self, cfg: CCGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        k = data.num_classes
        if k < 2:
            raise GanthologyError(f"ccgan needs a labelled dataset; {data.name!r} has no class labels.")
        if cfg.n_labels < k or cfg.n_labels % k:
            raise GanthologyError(f"n_labels must be a positive multiple of the {k} classes (the labelled set is "
                                  f"class-balanced), not {cfg.n_labels}.")
        if cfg.mask not in KINDS:
            raise GanthologyError(f"mask must be one of {', '.join(KINDS)}, not {cfg.mask!r}.")
        size = data.image_size
        if cfg.hole == 0:  # the paper's ratio: a 32x32 hole in a 96x96 image
            cfg.hole = size // 3  # written into the run's config (as context_encoder), so a reloaded run keeps it
        if not 0 < cfg.hole < size:
            raise GanthologyError(f"hole must be between 1 and {size - 1} pixels for {size}x{size} images "
                                  f"(0: a third of the side), not {cfg.hole}.")
        self.G = ContextGenerator(data.channels, size, cfg.ngf, cfg.low_res)
        self.D = VGGDiscriminator(data.channels, size, cfg.ndf, k)
        self.apply(dcgan_init)  # N(0, 0.02), as DCGAN
        self.keep_labelled((data.channels, size, size))  # the few labelled images (few_labels.py)

    # --- the generator's view ----------------------------------------------------------------------
    def fill(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """G's whole output x_G for images x with holes `mask` (1 inside): G sees m . x, the hole
        set to 0 (section 3.3), and with `low_res` the image downsampled 4x."""
        x_low = F.avg_pool2d(x, LOW_RES_FACTOR) if self.cfg.low_res else None
        return self.G(fill_hole(x, mask, 0.0), x_low)

    @torch.no_grad()
    def inpaint(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x with its holes filled by G: G's pixels inside the hole, x's outside it (x_I). A model
        trained with `low_res` reads the hole's pixels through the 4x downsampled copy (the paper's
        conditioning on a low-resolution image), so give it the whole image; otherwise they are
        ignored."""
        return composite(self.fill(x, mask), x, mask)

    # --- the update rule -----------------------------------------------------------------------------
    def train_step(self, batch, step):
        c = self.cfg
        x = batch["x"]  # the unlabelled stream: its labels are never read
        x_lab, y_lab = self._labelled_batch(x)
        if c.supervised_only:
            loss_cls = F.cross_entropy(self.D(x_lab)[1], y_lab)
            self.update("D", loss_cls)
            return {"loss_cls": loss_cls.detach()}
        m = square_masks(c.mask, x.shape[0], x.shape[-1], c.hole, device=x.device)  # torch's RNG
        x_G = self.fill(x, m)
        x_I = composite(x_G, x, m)  # eq. 3: the context is the real image's own
        fakes = torch.cat([x_I, x_G]) if c.combined else x_I  # CC-GAN^2: the whole x_G too (section 3.4)

        # three forward passes, three batch-norm batches (see "Batch norm" in the module docstring):
        # the labelled images alone, exactly as the supervised baseline sees them; the unlabelled
        # real images; the fakes, which leave the running statistics alone
        cls_lab = self.D(x_lab)[1]
        adv_real, _ = self.D(x)
        with real_statistics_only(self.D):
            adv_fake, _ = self.D(fakes.detach())
        loss_adv = (F.binary_cross_entropy_with_logits(adv_real, torch.ones_like(adv_real))
                    + F.binary_cross_entropy_with_logits(adv_fake, torch.zeros_like(adv_fake)))
        loss_cls = F.cross_entropy(cls_lab, y_lab)  # raw logits into cross-entropy
        loss_D = loss_adv + c.lambda_cls * loss_cls
        self.update("D", loss_D)

        with frozen(self.D), real_statistics_only(self.D):
            adv, _ = self.D(fakes)
            loss_G = F.binary_cross_entropy_with_logits(adv, torch.ones_like(adv))  # non-saturating
        self.update("G", loss_G)
        acc = (cls_lab.argmax(dim=1) == y_lab).float().mean()
        return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(), "loss_cls": loss_cls.detach(),
                "acc_labelled": acc.detach()}

    # --- the claim -------------------------------------------------------------------------------------
    @torch.no_grad()
    def classifier(self) -> nn.Module:
        """A copy of D in eval mode whose batch-norm statistics are those of the labelled images
        under D's final weights ("precise BN", Wu & Johnson 2021, "Rethinking 'Batch' in
        BatchNorm", section 3). D's running averages lag behind its weights, which the adversarial
        game keeps moving: on MNIST (100 labels, seed 0) they gave 71.5% where the same weights
        give 77.1% with these statistics. The supervised baseline is judged the same way; its
        weights settle, so it barely changes (82.4% -> 82.1%)."""
        D = copy.deepcopy(self.D)
        norms = [m for m in D.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if norms and self.labelled_y[0] >= 0:
            for m in norms:
                m.reset_running_stats()
                m.momentum = None  # a plain average over the batches below
            D.train()
            for xb in self.labelled_x.split(500):
                D(to_model_range(xb).to(self.device))
        return D.eval()

    @torch.no_grad()
    def classify(self, x: torch.Tensor, classifier: nn.Module | None = None) -> torch.Tensor:
        """Class logits (B, K) of images in [-1, 1]: D's class head, with the batch-norm
        statistics of `classifier()` (pass one to reuse it across batches)."""
        return (classifier or self.classifier())(x)[1]

    #: D's accuracy first (the paper's claim, and what --eval-every keeps the best checkpoint by), then
    #: the inpainting scores inside the hole (metrics.inpainting)
    scores = {"test_accuracy": "max", "psnr": "max", "l1": "min"}

    @torch.no_grad()
    def held_out_metrics(self, test: dict[str, torch.Tensor]) -> dict[str, float]:
        """`test_accuracy` of D's class head (argmax; batch-norm statistics of the labelled
        images, `classifier()`) on the held-out split, then the inpainting
        scores that every inpainting model reports."""
        from ..metrics.scores import held_out_accuracy  # on use: `ganthology list` needs no metrics

        x, y = test["x"], test.get("y")
        out = {}
        if y is not None:
            D = self.classifier()
            out["test_accuracy"] = held_out_accuracy(lambda xb: self.classify(xb, D), x, y)
        return out | super().held_out_metrics(test)
