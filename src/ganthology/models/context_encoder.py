"""Context Encoders: Feature Learning by Inpainting. Pathak, Krähenbühl, Donahue, Darrell, Efros, 2016.
arXiv:1604.07379

A context encoder is an encoder-decoder G trained to fill a hole: the encoder reads the image
around the missing region (the hole itself "set to zero, assuming zero-centered inputs", section
3.3: the data mean), a channel-wise fully connected layer carries information across the whole
feature map (section 3.1: every unit of a channel sees every unit of that channel, with m*n^4
weights instead of an fc layer's m^2*n^4, then a stride-1 convolution mixes the channels), and the
decoder's up-convolutions paint the missing pixels. It is trained on a joint loss (eq. 3): a reconstruction loss, the L2 distance to
the original inside the hole only (eq. 1), which alone gives blurry fills (the mean of the
plausible ones), and 0.001 times an adversarial loss (eq. 2) from a discriminator D that sees the
filled region alone and tells it from real regions, which sharpens them. Masks (section 3.3) are a
central square, or squares at random positions (the random-block masks: the network can then no
longer learn the hole's border as a feature).

From the authors' training code (github.com/pathak22/context-encoder, train.lua and README): the
hole's pixels are set to the ImageNet mean colour; D is DCGAN's discriminator on the predicted
patch, G's learning rate is 10 times D's when the two losses are mixed, and the prediction
overlaps the context by a band of 4 pixels whose L2 weight is 10 times the hole's (overlapPred=4,
center masks only; random-region training runs without it). The random-region script
(train_random.lua) predicts the whole image and its D sees the whole image.

Here G always paints the whole image, so one network fills a hole of any shape (`inpaint` accepts
any mask: a model trained on central holes fills a user's hole the same way, the hole set to the
fill value, the result composited); the loss sees only the hole and its overlap band (eq. 1, the
regression test), and D sees the hole's patch for central masks (the paper's D) or the whole
composite image for random ones (the random-region script's D, with the known pixels real). The
overlap band lies outside the hole, in the known context, so the pixels inside the hole never reach
G, whatever they are (the PyTorch-GAN script filled them with 1.0, white, issue #165: here the
value is a setting). The widths adapt to the image size as the official code does between 64 and
128 (one stride-2 layer per halving down to 4x4); 64x64 photographs with a 32x32 hole keep the
paper's quarter of the area (128 with 64) at a quarter of the cost.

Defects of the PyTorch-GAN script not carried over: L1 instead of the paper's L2; a 1x1 convolution
to 4000 channels at 4x4 in place of the bottleneck (it widens rather than narrows); no overlap
weighting; BatchNorm eps 0.8; masks from np.random; the hole filled with 1.0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.masks import composite, fill_hole
from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn.init import dcgan_init
from ..registry import register_model
from .base import DataInfo, GANModel, frozen

#: the official code's hole value, the ImageNet mean colour (117, 104, 123) / 255 on [-1, 1] (train.lua)
IMAGENET_MEAN = (117 / 255 * 2 - 1, 104 / 255 * 2 - 1, 123 / 255 * 2 - 1)


@dataclass
class ContextEncoderConfig:
    hole: int = 0  # section 3.3 / train.lua: the hole's side in pixels, a quarter of the area (64 of 128); 0: half the image side
    mask: str = "center"  # section 3.3: center (central region) or random (a hole at a random place per image)
    fill: str = "dataset"  # section 3.3 (zero on zero-centred inputs): the hole's value in G's input: dataset (mean colour of the training images), imagenet (train.lua) or a number in [-1, 1]
    bottleneck: str = "channelwise"  # section 3.1: channelwise (channel-wise fully connected + stride-1 conv) or fc (train.lua's n_bottleneck-d layer)
    n_bottleneck: int = 4000  # official README: nBottleneck=4000 (the fc bottleneck only)
    nef: int = 64  # train.lua: encoder filters in the first conv (64), doubling to 8x at 4x4
    ngf: int = 64  # train.lua: decoder filters in the last up-conv (64), from 8x at 4x4
    ndf: int = 64  # train.lua: D's filters in the first conv (64), doubling to 8x at 4x4
    lambda_rec: float = 0.999  # section 4: lambda_rec = 0.999 (eq. 3)
    lambda_adv: float = 0.001  # section 4: lambda_adv = 0.001 (eq. 3)
    overlap: int = 4  # train.lua overlapPred=4: the prediction overlaps the context by this band (center masks only)
    overlap_weight: float = 10.0  # train.lua: the band's L2 weight is 10x the hole's
    lr: float = 2e-4  # train.lua: Adam, learning rate 0.0002 (D)
    lr_G_scale: float = 10.0  # train.lua: "LR of Gen is 10 times Adv" when the losses are mixed (2e-3)
    beta1: float = 0.5  # train.lua: Adam beta1 = 0.5 (DCGAN's)
    beta2: float = 0.999  # Adam's default; train.lua sets only beta1
    batch_size: int = 64  # train.lua: batchSize = 64


def _widths(n_down: int, base: int) -> list[int]:
    """Filters of each of n_down stride-2 layers, as train.lua sizes them: the last layer (at 4x4)
    has 8x base, each one before it half as many, never fewer than base (128: 1,1,2,4,8 x base)."""
    return [base * 2 ** max(0, min(3, i - (n_down - 4))) for i in range(n_down)]


def _halvings(side: int, what: str) -> int:
    """How many stride-2 layers take a side down to 4 (side must be 8, 16, 32, ...)."""
    n = int(round(math.log2(side / 4))) if side >= 8 else 0
    if n < 1 or 4 * 2 ** n != side:
        raise GanthologyError(f"context_encoder needs {what} whose side is a power of 2 of at least 8, not {side}.")
    return n


class ChannelwiseFC(nn.Module):
    """Section 3.1: a fully connected layer within each channel of a (B, m, n, n) map, no weights
    across channels (m*n^4 parameters), then a stride-1 1x1 convolution that mixes the channels."""

    def __init__(self, channels: int, out_channels: int, side: int):
        super().__init__()
        k = side * side
        self.weight = nn.Parameter(torch.randn(channels, k, k) * 0.02)
        self.bias = nn.Parameter(torch.zeros(channels, k))
        self.mix = nn.Conv2d(channels, out_channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c, s, _ = h.shape
        flat = h.reshape(b, c, s * s)  # (B, m, n^2)
        out = torch.einsum("bci,cij->bcj", flat, self.weight) + self.bias  # (B, m, n^2)
        return self.mix(out.reshape(b, c, s, s))  # (B, m', n, n)


class Generator(nn.Module):
    """train.lua's encoder (4x4 stride-2 convs, BatchNorm but not on the first, LeakyReLU 0.2) down to
    4x4, the bottleneck, and its decoder (4x4 stride-2 up-convs, BatchNorm, ReLU, Tanh) back up to
    the whole image: (B, C, S, S) -> (B, C, S, S)."""

    def __init__(self, channels: int, size: int, nef: int, ngf: int, bottleneck: str, n_bottleneck: int,
                 fill_value: torch.Tensor):
        super().__init__()
        # (C,): the value of the hole's pixels in G's input; a buffer of G, so exports carry it
        self.register_buffer("fill_value", fill_value)
        n = _halvings(size, "images (--image-size)")
        enc, dec = _widths(n, nef), _widths(n, ngf)
        layers: list[nn.Module] = []
        c_in = channels
        for i, c in enumerate(enc):  # (B, C, S, S) -> (B, 8 nef, 4, 4)
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1))
            if i > 0:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c
        self.encoder = nn.Sequential(*layers)
        if bottleneck == "channelwise":  # (B, 8 nef, 4, 4) -> (B, 8 ngf, 4, 4)
            self.bottleneck = nn.Sequential(ChannelwiseFC(c_in, dec[-1], 4), nn.BatchNorm2d(dec[-1]), nn.ReLU(True))
        elif bottleneck == "fc":  # (B, 8 nef, 4, 4) -> (B, n_bottleneck, 1, 1) -> (B, 8 ngf, 4, 4)
            self.bottleneck = nn.Sequential(
                nn.Conv2d(c_in, n_bottleneck, 4), nn.BatchNorm2d(n_bottleneck), nn.LeakyReLU(0.2, True),
                nn.ConvTranspose2d(n_bottleneck, dec[-1], 4), nn.BatchNorm2d(dec[-1]), nn.ReLU(True))
        else:
            raise GanthologyError(f"--bottleneck must be channelwise or fc, not {bottleneck!r}.")
        layers = []
        for c_in, c in zip(dec[::-1], dec[::-1][1:]):  # (B, 8 ngf, 4, 4) -> (B, ngf, S/2, S/2)
            layers += [nn.ConvTranspose2d(c_in, c, 4, 2, 1), nn.BatchNorm2d(c), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(dec[0], channels, 4, 2, 1), nn.Tanh()]  # -> (B, C, S, S)
        self.decoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.bottleneck(self.encoder(x)))


class Discriminator(nn.Module):
    """train.lua's D (DCGAN's): 4x4 stride-2 convs, LeakyReLU 0.2, BatchNorm but not on the first,
    down to 4x4, then a 4x4 conv to one logit: (B, C, s, s) -> (B,)."""

    def __init__(self, channels: int, side: int, ndf: int):
        super().__init__()
        n = _halvings(side, "holes (--hole; D judges the hole) and images")
        layers: list[nn.Module] = []
        c_in = channels
        for i, c in enumerate(_widths(n, ndf)):
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1))
            if i > 0:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c
        layers.append(nn.Conv2d(c_in, 1, 4))  # (B, 8 ndf, 4, 4) -> (B, 1, 1, 1): a logit (BCE with logits)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


@register_model("context_encoder")
class ContextEncoder(GANModel):
    paper = "Context Encoders: Feature Learning by Inpainting. Pathak et al., 2016. arXiv:1604.07379"
    year = 2016
    default_dataset = "photos"
    Config = ContextEncoderConfig
    vector_data = False
    requires = ("image",)
    scores = {"psnr": "max", "l1": "min"}  # inside the hole, on held-out images (metrics.inpainting)

    def __init__(self, cfg: ContextEncoderConfig, data: DataInfo):
        super().__init__(cfg, data)
        size, c = data.image_size, data.channels
        if cfg.mask not in ("center", "random"):
            raise GanthologyError(f"--mask must be center or random, not {cfg.mask!r}.")
        if cfg.hole == 0:  # a quarter of the image's area, as the paper's 64x64 hole in 128x128 images
            cfg.hole = size // 2  # written into the run's config, so a reloaded run keeps it
        if not 0 < cfg.hole < size:
            raise GanthologyError(f"--hole {cfg.hole} must lie between 1 and {size - 1} pixels (the image side "
                                  f"is {size}); 0 takes half the side ({size // 2}).")
        if cfg.overlap < 0:
            raise GanthologyError(f"--overlap must be 0 or more pixels, not {cfg.overlap}.")
        self.G = Generator(c, size, cfg.nef, cfg.ngf, cfg.bottleneck, cfg.n_bottleneck, self._fill(cfg.fill, c))
        # D judges the hole's patch (center masks: train.lua's D) or the whole image (random masks)
        self.D = Discriminator(c, cfg.hole if cfg.mask == "center" else size, cfg.ndf)
        self.G.apply(dcgan_init)
        self.D.apply(dcgan_init)

    @staticmethod
    def _fill(fill: str, channels: int) -> torch.Tensor:
        if fill == "dataset":
            return torch.zeros(channels)  # replaced by the training images' mean colour in bind_data
        if fill == "imagenet":
            v = torch.tensor(IMAGENET_MEAN)
            return v if channels == 3 else v.mean().repeat(channels)
        try:
            value = float(fill)
        except ValueError:
            value = math.nan
        if not -1 <= value <= 1:
            raise GanthologyError(f"--fill must be dataset, imagenet or a number in [-1, 1], not {fill!r}.")
        return torch.full((channels,), value)

    def bind_data(self, dataset) -> None:
        """fill = dataset: the hole's value is the mean colour of the training images (section 3.3:
        zero on zero-centred inputs), kept as a buffer of G, so checkpoints and exports carry it."""
        if self.cfg.fill == "dataset":
            x = dataset.tensors[self.data.key("image")]
            mean = torch.stack([x[:, c].float().mean() for c in range(x.shape[1])]) / 127.5 - 1
            self.G.fill_value.copy_(mean)

    def optimizers(self):
        c = self.cfg
        betas = (c.beta1, c.beta2)
        return {"G": torch.optim.Adam(self.G.parameters(), lr=c.lr * c.lr_G_scale, betas=betas),
                "D": torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=betas)}

    # --- the losses ---------------------------------------------------------------------------
    def patch(self, images: torch.Tensor) -> torch.Tensor:
        """What D sees: the central hole's patch (center masks), or the whole image (random masks)."""
        if self.cfg.mask != "center":
            return images
        t, h = (self.data.image_size - self.cfg.hole) // 2, self.cfg.hole
        return images[..., t:t + h, t:t + h]

    def reconstruction_weights(self, mask: torch.Tensor) -> torch.Tensor:
        """Eq. 1's mask M with train.lua's overlap: 1 inside the hole, overlap_weight on the band of
        `overlap` pixels around it (center masks), 0 elsewhere: the loss sees nothing else."""
        o = self.cfg.overlap
        if self.cfg.mask != "center" or o == 0:
            return mask
        band = F.max_pool2d(mask, 2 * o + 1, stride=1, padding=o) - mask  # the ring just outside the hole
        return mask + self.cfg.overlap_weight * band

    def reconstruction_loss(self, out: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Eq. 1: the weighted squared error inside the hole (and its overlap band), averaged over the
        pixels it covers, as train.lua's MSE over the predicted patch."""
        w = self.reconstruction_weights(mask)
        covered = (w > 0).float().sum() * x.shape[1]
        return (w * (out - x) ** 2).sum() / covered.clamp_min(1)

    def train_step(self, batch, step):
        c = self.cfg
        x = batch[self.data.key("image")]
        m = self.masks(len(x)).to(x)  # (B, 1, S, S), 1 in the hole; random ones from torch's RNG
        out = self.G(fill_hole(x, m, self.G.fill_value))  # (B, C, S, S): the whole image, painted
        fake = self.patch(composite(out, x, m))
        # D: eq. 2, real patches against filled ones (BCE on logits)
        loss_D = d_loss_bce(self.D(self.patch(x)), self.D(fake.detach()))
        self.update("D", loss_D)
        # G: eq. 3, lambda_rec * L_rec + lambda_adv * L_adv, with the non-saturating L_adv (train.lua)
        with frozen(self.D):
            loss_adv = g_loss_nonsaturating(self.D(fake))
        loss_rec = self.reconstruction_loss(out, x, m)
        self.update("G", c.lambda_rec * loss_rec + c.lambda_adv * loss_adv)
        return {"loss_D": loss_D.detach(), "loss_G": loss_adv.detach(), "loss_rec": loss_rec.detach()}

    # --- using it -----------------------------------------------------------------------------
    @torch.no_grad()
    def inpaint(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Images x (B, C, S, S) in [-1, 1] with holes where mask (B or 1, 1, S, S) is 1 -> the filled
        images: G's pixels inside the hole, x's outside. Whatever x holds inside the hole is replaced by
        the fill value first, so it cannot reach the output. Any mask works; BatchNorm uses its running
        statistics (eval mode), so each image's fill does not depend on the others in the batch."""
        c, s = self.data.channels, self.data.image_size
        if x.dim() != 4 or x.shape[1:] != (c, s, s):
            raise GanthologyError(f"{self.name} fills {c}x{s}x{s} images but got shape {tuple(x.shape)}.")
        if mask.dim() != 4 or mask.shape[1:] != (1, s, s) or mask.shape[0] not in (1, len(x)):
            raise GanthologyError(f"masks must have shape ({len(x)}, 1, {s}, {s}), not {tuple(mask.shape)}.")
        x = x.to(self.device).float()
        mask = (mask.to(x) > 0.5).float().expand(x.shape[0], -1, -1, -1)  # x.shape[0]: a traced export keeps the batch free
        was_training = self.G.training
        self.G.eval()
        try:
            out = self.G(fill_hole(x, mask, self.G.fill_value))
        finally:
            self.G.train(was_training)
        return composite(out, x, mask)
