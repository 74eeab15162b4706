"""StarGAN: Unified Generative Adversarial Networks for Multi-Domain Image-to-Image Translation.
Choi, Choi, Kim, Ha, Kim, Choo, 2018. arXiv:1711.09020

One generator translates an image into any of several domains, here any combination of K binary
attributes (hair colour, gender, age on CelebA): G takes the image and the target attribute vector
c, tiled over the image as K extra input channels (section 3.1). D has two heads on one body: the
realness of each patch (D_src) and the attributes it sees (D_cls, an auxiliary classifier). D learns
to classify real images by their attributes (eq. 2) and G to produce images that D classifies as
the target (eq. 3); a cycle term L1(x, G(G(x, c), c')) keeps what the attributes do not describe
(eq. 4). The adversarial term is WGAN-GP (section 4, eq. 6), with five D steps per G step. During
training the targets are the real attribute vectors of the batch in shuffled order, as the
official code draws them, so a target is always a combination that occurs in the data.

Networks and training follow the official code (yunjey/stargan, model.py and solver.py), which
the paper's appendix describes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanthologyError
from ..losses import gradient_penalty
from ..nn import ResidualBlock, norm_layer
from ..registry import register_model
from .base import DataInfo, GANModel, constant_then_linear_decay, frozen


@dataclass
class StarGANConfig:
    g_conv_dim: int = 64  # appendix, table 4: the generator's first layer has 64 filters
    d_conv_dim: int = 64  # appendix, table 5: the discriminator's first layer has 64 filters
    g_repeat_num: int = 6  # appendix: six residual blocks in the generator
    d_repeat_num: int = 6  # appendix: six stride-2 layers in D at 128x128 (fewer on smaller images, to a 2x2 map)
    lambda_cls: float = 1.0  # section 3.1, eq. 5: lambda_cls = 1
    lambda_rec: float = 10.0  # section 3.1, eq. 5: lambda_rec = 10
    lambda_gp: float = 10.0  # section 4, eq. 6: lambda_gp = 10
    n_critic: int = 5  # section 5: one generator update after five discriminator updates
    g_lr: float = 1e-4  # section 5: Adam, learning rate 0.0001
    d_lr: float = 1e-4  # section 5: learning rate 0.0001
    beta1: float = 0.5  # section 5: Adam beta1 = 0.5
    beta2: float = 0.999  # section 5: Adam beta2 = 0.999
    decay_start: float = 0.5  # section 5: constant for the first 10 of 20 epochs, then linear decay to 0
    batch_size: int = 16  # section 5: batch size 16


#: CelebA's hair colours are exclusive (the official solver's create_labels): a target that turns
#: one on turns the others off
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


class Generator(nn.Module):
    """(B, C, H, W) image and (B, K) attributes -> (B, C, H, W) in [-1, 1]; H, W multiples of 4.
    Official model.py: c7s1-64 IN ReLU, two 4x4 stride-2 downsamplings, residual blocks, two 4x4
    stride-2 transposed convolutions, c7s1-C Tanh; convolutions before IN carry no bias."""

    def __init__(self, channels: int, c_dim: int, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels + c_dim, conv_dim, 7, 1, 3, bias=False),
                                   norm_layer("instance", conv_dim), nn.ReLU(True)]
        ch = conv_dim
        for _ in range(2):  # (B, ch, H, W) -> (B, 2ch, H/2, W/2)
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), norm_layer("instance", ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [ResidualBlock(ch, norm="instance", padding="zeros") for _ in range(repeat_num)]
        for _ in range(2):  # (B, ch, H, W) -> (B, ch/2, 2H, 2W)
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), norm_layer("instance", ch // 2),
                       nn.ReLU(True)]
            ch //= 2
        layers += [nn.Conv2d(ch, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # section 3.1: the target domain label is replicated spatially and concatenated with the image
        c = c.to(x.dtype).view(*c.shape, 1, 1).expand(-1, -1, *x.shape[2:])  # (B, K) -> (B, K, H, W)
        return self.main(torch.cat([x, c], dim=1))  # (B, C + K, H, W) -> (B, C, H, W)


def d_layers_for(image_size: int, repeat_num: int) -> int:
    """How many stride-2 layers D gets: the official `d_repeat_num` (6 at 128x128, leaving a 2x2
    map), but never so many that less than a 2x2 map remains: 4 at 32x32."""
    n = 0
    while n < repeat_num and image_size % 2 ** (n + 1) == 0 and image_size // 2 ** (n + 1) >= 2:
        n += 1
    return n


class Discriminator(nn.Module):
    """(B, C, H, W) -> (patch realness (B, 1, H/2^n, W/2^n), attribute logits (B, K)).
    Official model.py: n 4x4 stride-2 convolutions from conv_dim channels, doubling, LeakyReLU 0.01,
    no normalisation (the gradient penalty is per sample); D_src a 3x3 convolution to one channel,
    D_cls a convolution whose kernel covers the whole remaining map."""

    def __init__(self, channels: int, c_dim: int, image_size: int, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        n = d_layers_for(image_size, repeat_num)
        layers: list[nn.Module] = []
        ch_in, ch = channels, conv_dim
        for _ in range(n):  # (B, ch_in, S, S) -> (B, ch, S/2, S/2)
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.LeakyReLU(0.01)]
            ch_in, ch = ch, ch * 2
        self.main = nn.Sequential(*layers)
        k = image_size // 2**n  # 2 at 128x128 with six layers
        self.conv1 = nn.Conv2d(ch_in, 1, 3, 1, 1, bias=False)  # D_src
        self.conv2 = nn.Conv2d(ch_in, c_dim, k, bias=False)  # D_cls: (B, ch, k, k) -> (B, K, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.conv1(h), self.conv2(h).flatten(1)


def classification_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eqs. 2 and 3 for multi-label attributes (the official solver on CelebA): binary cross-entropy
    with logits, summed over the attributes and averaged over the batch."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.shape[0]


def permuted_targets(c_org: torch.Tensor) -> torch.Tensor:
    """The target attributes of a training batch as the official solver draws them: the batch's real
    vectors in a random order. Each target is a combination that occurs in the data, so exclusive
    attributes stay exclusive (PyTorch-GAN drew each attribute at random, giving several hair
    colours at once; yunjey/stargan #70)."""
    return c_org[torch.randperm(c_org.shape[0], device=c_org.device)]


def flipped_targets(c: torch.Tensor, names: list[str]) -> torch.Tensor:
    """(K, N, K): for each attribute k in turn, every item's vector with attribute k flipped; a hair
    colour turned on turns the other hair colours off (the official create_labels)."""
    hair = [i for i, n in enumerate(names) if n in HAIR_COLOURS]
    out = []
    for k in range(c.shape[1]):
        t = c.clone()
        t[:, k] = 1 - c[:, k]
        if k in hair:
            others = [i for i in hair if i != k]
            t[:, others] = torch.where(t[:, k : k + 1] > 0, torch.zeros_like(t[:, others]), t[:, others])
        out.append(t)
    return torch.stack(out)


@torch.no_grad()
def attribute_scores(data: DataInfo, test: dict[str, torch.Tensor], translate, classifier=None) -> dict[str, float]:
    """How well `translate(x, c)` (images in [-1, 1] and target vectors -> images) changes attributes
    on the held-out split `test`: every test image with each attribute flipped in turn
    (`flipped_targets`), then
      attr_acc        share of translations whose every target attribute a classifier of real
                      images reads (metrics/attributes.py; trained and cached on first use)
      classifier_acc  that classifier's own share on the real test images (what attr_acc can reach)
      psnr, ssim, l1  against the exact image with the target attributes, where the dataset can
                      render one (data.attribute_renderer: digit_attrs; not CelebA)
    The same function scores baselines: `translate=lambda x, c: x` is the identity."""
    from ..data import attribute_renderer
    from ..data.core import KEY_ROLES
    from ..metrics.attributes import attribute_classifier
    from ..metrics.scores import paired_scores

    x, c = test[data.key("image")], test[data.key("attributes")].float()
    if classifier is None:
        classifier, _ = attribute_classifier(data.name, data.image_size)
    classifier = classifier.to(x.device).eval()
    targets = flipped_targets(c, list(data.attributes))  # (K, N, K)
    fakes = torch.stack([torch.cat([translate(xb, tb) for xb, tb in zip(x.split(100), t.split(100))])
                         for t in targets])  # (K, N, C, H, W)
    flat_fake, flat_target = fakes.flatten(0, 1), targets.flatten(0, 1)
    logits = torch.cat([classifier(f.float()) for f in flat_fake.split(500)])
    real_logits = torch.cat([classifier(xb.float()) for xb in x.split(500)])
    out = {"attr_acc": float(((logits > 0).float() == flat_target).all(1).float().mean()),
           "classifier_acc": float(((real_logits > 0).float() == c).all(1).float().mean())}
    render = attribute_renderer(data.name)
    source = next((k for k in test if KEY_ROLES.get(k) == "source"), None)
    if render is not None and source is not None:
        truth = torch.cat([render(test[source], t) for t in targets])  # (K*N, C, H, W)
        out |= paired_scores(flat_fake, truth)
    return out


@register_model("stargan")
class StarGAN(GANModel):
    paper = ("StarGAN: Unified Generative Adversarial Networks for Multi-Domain Image-to-Image Translation. "
             "Choi et al., 2018. arXiv:1711.09020")
    year = 2018
    default_dataset = "digit_attrs"
    Config = StarGANConfig
    follows_run_length = True  # the learning rates decay linearly from decay_start of the run on
    vector_data = False  # translates images
    requires = ("image", "attributes")
    # translate reads the attributes the user leaves unnamed with D's classifier, so D travels too
    sampling_modules = ("G", "D")
    scores = {"attr_acc": "max", "psnr": "max", "ssim": "max"}  # psnr/ssim only where a ground truth exists

    def __init__(self, cfg: StarGANConfig, data: DataInfo):
        super().__init__(cfg, data)
        c_dim, channels = data.parts[data.key("attributes")].shape[0], data.channels
        if data.image_size % 4:
            raise GanthologyError(f"stargan downsamples twice, so the image side must be a multiple of 4, "
                                  f"not {data.image_size}; pass --image-size 128 (or another multiple of 4).")
        self.G = Generator(channels, c_dim, cfg.g_conv_dim, cfg.g_repeat_num)
        self.D = Discriminator(channels, c_dim, data.image_size, cfg.d_conv_dim, cfg.d_repeat_num)

    def optimizers(self):
        c = self.cfg
        return {"G": torch.optim.Adam(self.G.parameters(), lr=c.g_lr, betas=(c.beta1, c.beta2)),
                "D": torch.optim.Adam(self.D.parameters(), lr=c.d_lr, betas=(c.beta1, c.beta2))}

    def schedulers(self):
        if not self.total_steps:
            return {}
        return {k: constant_then_linear_decay(o, self.total_steps, self.cfg.decay_start) for k, o in self.opt.items()}

    def train_step(self, batch, step):
        cfg = self.cfg
        x_real = batch[self.data.key("image")]
        c_org = batch[self.data.key("attributes")].float()
        c_trg = permuted_targets(c_org)

        # D (eq. 5, D's side): realness of real and fake, attributes of real images (eq. 2), penalty (eq. 6)
        out_src, out_cls = self.D(x_real)
        d_loss_real = -out_src.mean()
        d_loss_cls = classification_loss(out_cls, c_org)
        with torch.no_grad():
            x_fake = self.G(x_real, c_trg)
        d_loss_fake = self.D(x_fake)[0].mean()
        d_loss_gp = gradient_penalty(lambda h: self.D(h)[0], x_real, x_fake)
        loss_D = d_loss_real + d_loss_fake + cfg.lambda_cls * d_loss_cls + cfg.lambda_gp * d_loss_gp
        self.update("D", loss_D)
        out = {"loss_D": loss_D.detach(), "d_loss_cls": d_loss_cls.detach(), "gp": d_loss_gp.detach()}

        # G every n_critic-th step (section 5): fool D, be classified as c_trg (eq. 3), and come back (eq. 4)
        if (step + 1) % cfg.n_critic == 0:
            with frozen(self.D):
                x_fake = self.G(x_real, c_trg)
                out_src, out_cls = self.D(x_fake)
                g_loss_fake = -out_src.mean()
                g_loss_cls = classification_loss(out_cls, c_trg)
            x_rec = self.G(x_fake, c_org)  # G(G(x, c_trg), c_org)
            g_loss_rec = (x_real - x_rec).abs().mean()
            loss_G = g_loss_fake + cfg.lambda_rec * g_loss_rec + cfg.lambda_cls * g_loss_cls
            self.update("G", loss_G)
            out |= {"loss_G": g_loss_fake.detach(), "g_loss_cls": g_loss_cls.detach(), "g_loss_rec": g_loss_rec.detach()}
        return out

    # --- using it ---------------------------------------------------------------------------------
    def parse_attributes(self, attributes: str) -> dict[int, float]:
        """"thick=1,red=0" -> {index: value}; an unknown name or a value other than 0/1 is refused."""
        names = list(self.data.attributes)
        valid = f"give NAME=0 or NAME=1 separated by commas, NAME one of {', '.join(names)}"
        chosen: dict[int, float] = {}
        for item in (s.strip() for s in attributes.split(",")):
            if not item:
                continue
            name, eq, value = (s.strip() for s in item.partition("="))
            if name not in names:
                raise GanthologyError(f"unknown attribute {name!r} for this {self.name} model; {valid}.")
            if not eq or value not in ("0", "1"):
                raise GanthologyError(f"attribute {name} needs the value 0 or 1, not {value!r}; {valid}.")
            chosen[names.index(name)] = float(value)
        return chosen

    @torch.no_grad()
    def read_attributes(self, x: torch.Tensor) -> torch.Tensor:
        """The attributes D's classifier (D_cls) reads in images x, as 0/1 (B, K)."""
        return (self.D(x)[1] > 0).to(x.dtype)

    @torch.no_grad()
    def translate(self, x: torch.Tensor, attributes: str | None = None) -> torch.Tensor:
        """Images x (N, C, H, W) in [-1, 1] with the attributes `attributes` ("thick=1,red=0").

        A user's image comes without an attribute vector, so the target starts from what D's
        attribute classifier reads in the input, and the named attributes overwrite it: unnamed
        attributes are kept as the input shows them. Turning one CelebA hair colour on turns the
        other hair colours off unless they are named too. Without `attributes` the target is the
        input's own reading (a reconstruction)."""
        s, ch = self.data.image_size, self.data.channels
        if x.dim() != 4 or x.shape[1] != ch or tuple(x.shape[2:]) != (s, s):
            raise GanthologyError(f"{self.name} was trained on {ch}-channel {s}x{s} images but got shape "
                                  f"{tuple(x.shape[1:])}; resize it to {s}x{s} (or pass --resize).")
        chosen = self.parse_attributes(attributes) if attributes else {}
        x = x.to(self.device)
        c = self.read_attributes(x)
        names = list(self.data.attributes)
        hair = [i for i, n in enumerate(names) if n in HAIR_COLOURS]
        for i, v in chosen.items():
            c[:, i] = v
            if v == 1 and i in hair:
                for j in hair:
                    if j != i and j not in chosen:
                        c[:, j] = 0
        return self.G(x, c)

    def held_out_metrics(self, test):
        return attribute_scores(self.data, test, self.G)

    def preview(self, batch):
        x = batch[self.data.key("image")][:8]
        c = batch[self.data.key("attributes")][:8].float()
        with torch.no_grad():
            fakes = [self.G(x, t) for t in flipped_targets(c, list(self.data.attributes))]
        rows = torch.stack([x, *fakes], dim=1).flatten(0, 1)  # (N, 1 + K, C, H, W) -> (N (1 + K), C, H, W)
        return rows, 1 + c.shape[1]  # one example per row: input | each attribute flipped
