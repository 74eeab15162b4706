"""Differentiable augmentation of everything the discriminator sees (`--augment POLICY`).

Zhao, Liu, Lin, Zhu, Han. "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS
2020, arXiv:2006.10738. With little data D memorises the training images and its feedback to G
degrades. Augmenting only the real images would teach G to draw augmented images (section 3.1); so
the same random transformations T are applied to real AND generated images, in D's update and in
G's (eq. 3-4), and since T is differentiable G's gradient flows through it.

The policy names the transformations of section 3.2, applied in this order, each with fresh
randomness per image:
    color        brightness in [-0.5, 0.5], saturation x[0, 2], contrast x[0.5, 1.5]
    translation  shift by up to 1/8 of the image size, zero padding
    cutout       a square of half the image size set to 0, at a random place
"color,translation,cutout" is the paper's recommendation for small data (tables 1-4).

It is applied through a forward pre-hook on each of the model's `discriminators` (in training mode
only), to the first input when that is a batch of images of one of the data's image shapes (either
domain of a translation); a model file needs to know nothing about it. A model whose discriminator
does more than judge one batch of images sets `augments_itself` and calls `self.augmented(...)` on
what its D sees: an autoencoder D (BEGAN, EBGAN) reconstructs the transformed image and is scored
against it, |T(x) - D(T(x))|, not against x; a D called in parts (InfoGAN's body and heads) gets
every batch transformed, fakes included; features compared between two images (VAE/GAN's
Dis_l(x) against Dis_l(x~)) are taken under the same transformation of both. Its randomness comes
from torch's generator, so a resumed run draws the same transformations.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import GanthologyError


def color(x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    r = lambda: torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype)  # noqa: E731
    x = x + (r() - 0.5)  # brightness
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * (r() * 2) + m  # saturation (a no-op on one channel)
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * (r() + 0.5) + m  # contrast


def _grid(x: torch.Tensor):
    b, _, h, w = x.shape
    iy = torch.arange(h, device=x.device).view(1, h, 1).expand(b, h, w)
    ix = torch.arange(w, device=x.device).view(1, 1, w).expand(b, h, w)
    return torch.arange(b, device=x.device).view(b, 1, 1).expand(b, h, w), iy, ix


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device)
    tx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device)
    n, iy, ix = _grid(x)
    # read each pixel from (y - ty, x - tx) of the image framed by one row/column of zeros: a
    # source outside the image lands on that frame
    padded = F.pad(x, [1, 1, 1, 1])
    src_y = (iy - ty + 1).clamp(0, h + 1)
    src_x = (ix - tx + 1).clamp(0, w + 1)
    return padded.permute(0, 2, 3, 1)[n, src_y, src_x].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    _, iy, ix = _grid(x)
    dy, dx = iy - cy + ch // 2, ix - cx + cw // 2  # position inside the square centred at (cy, cx)
    inside = (dy >= 0) & (dy < ch) & (dx >= 0) & (dx < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


OPS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> list[str]:
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in names if p not in OPS]
    if unknown:
        raise GanthologyError(f"--augment: unknown transformation {unknown[0]!r}; use a comma-separated "
                              f"list of {', '.join(OPS)} (e.g. color,translation,cutout).")
    return names


def diff_augment(x: torch.Tensor, names: list[str]) -> torch.Tensor:
    for name in names:
        x = OPS[name](x)
    return x


class DiffAugment:
    """Hooks `diff_augment` onto the model's discriminators, or hands it to a model that applies it
    itself (`augments_itself`); `seen` counts augmented batches."""

    def __init__(self, model, policy: str):
        self.names = parse_policy(policy)
        self.shapes = {tuple(p.shape) for p in model.data.parts.values() if len(p.shape) == 3}
        self.seen = 0
        self.judged = 0  # calls of the hooked discriminators in training mode, of any input
        nets = [] if model.augments_itself else [getattr(model, n) for n in model.discriminators if hasattr(model, n)]
        if model.data.is_vector or not (nets or model.augments_itself):
            raise GanthologyError(f"--augment needs a discriminator that looks at images; {model.name} "
                                  "on this data has none.")
        if model.augments_itself:
            model.diff_augment = self
        self.handles = [net.register_forward_pre_hook(self._hook) for net in nets]

    def __call__(self, *xs: torch.Tensor):
        """The same random transformations applied to each of the batches given (of one size and
        device): the torch generator is rewound to the same state before each."""
        self.seen += 1
        if len(xs) == 1:
            return diff_augment(xs[0], self.names)
        device = xs[0].device
        cuda = device.type == "cuda"
        state = torch.cuda.get_rng_state(device) if cuda else torch.get_rng_state()
        out = []
        for i, x in enumerate(xs):
            if i and cuda:
                torch.cuda.set_rng_state(state, device)
            elif i:
                torch.set_rng_state(state)
            out.append(diff_augment(x, self.names))
        return tuple(out)

    def _hook(self, module, args):
        x = args[0] if args else None
        self.judged += module.training
        if not module.training or not torch.is_tensor(x) or x.dim() != 4 or tuple(x.shape[1:]) not in self.shapes:
            return None
        return (self(x), *args[1:])

    def check(self) -> None:
        """After each step until an image batch has been augmented (ESRGAN's first steps pretrain G
        alone): refuse a model whose discriminators judge something other than image batches."""
        if not self.seen and self.judged:
            raise GanthologyError("--augment: this model's discriminator never receives images of the data's "
                                  "shape (it judges codes, pairs or features), so there is nothing to augment.")
