"""Walking, doing arithmetic in and inverting a generator's latent space.

The figures the documents teach, for any model that maps noise to images (`noise()` and
`generate()` of the model contract):

- `interpolate`: rows of images along a path between two latent codes, linear or spherical. A
  Gaussian prior puts almost all its mass near a sphere of radius sqrt(d), and the midpoint of a
  straight line between two codes lies well inside it, where the generator saw few codes in
  training; slerp (White, "Sampling Generative Networks", 2016) keeps the path at that radius.
  Smooth transitions are DCGAN's evidence that the model did not memorize (Radford et al. 2015,
  section 6.1).
- `traverse`: vary one named code and keep the rest (InfoGAN, Chen et al. 2016, figure 2): each
  category of a categorical code, or a continuous code from -span to span (the paper goes to +-2,
  past the [-1, 1] it trained on, to show the code generalizes).
- `arithmetic`: z(A) - z(B) + z(C), each concept the *mean* code of a few examples (DCGAN section
  6.3: single samples were unstable, averages of three were not), shown with the result and a few
  neighbours of it.
- `invert`: the z whose image is closest to a given image, found by optimization (gradient descent
  on the pixel error from the best of several prior draws), by a trained encoder (AAE, VAE-GAN,
  BiGAN, ...), or by the encoder as the starting point of the optimization; `attribute_direction` and
  `edit` then move an image's code along "mean code with an attribute minus mean code without it".

Every function returns the images (and `nrow` for a grid); the CLI (`ganthology latent ...`) writes
them as PNGs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .errors import GanthologyError
from .seeding import seeded


# --- helpers ---------------------------------------------------------------------------------------
def check_latent(model) -> None:
    """Refuse, in one sentence, a model without a latent space of images (translation models, the
    2-D toys)."""
    if model.data.is_vector:
        raise GanthologyError(f"{model.name} was trained on 2-D points; the latent tools draw images.")
    if not model.has_latent_space:
        raise GanthologyError(f"{model.name} maps input images to images and has no latent space to explore.")


def _labels(model, n: int, labels: torch.Tensor | None) -> dict:
    """The `y` a conditional model needs (one label per code), nothing for other models."""
    if "y" not in model.conditions:
        if labels is not None:
            raise GanthologyError(f"{model.name} is unconditional; drop --labels.")
        return {}
    if labels is None:
        labels = torch.arange(n) % model.data.num_classes
    labels = torch.as_tensor(labels).long().flatten()
    return {"y": labels.repeat(math.ceil(n / len(labels)))[:n].to(model.device)}


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between the rows of a and b (each row flattened): the angle moves
    linearly and the norm linearly from |a| to |b|. Falls back to linear for parallel rows."""
    fa, fb = a.flatten(1), b.flatten(1)
    na, nb = fa.norm(dim=1, keepdim=True), fb.norm(dim=1, keepdim=True)
    cos = ((fa / na.clamp_min(1e-12)) * (fb / nb.clamp_min(1e-12))).sum(1, keepdim=True).clamp(-1, 1)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    unit_a, unit_b = fa / na.clamp_min(1e-12), fb / nb.clamp_min(1e-12)
    direction = torch.where(
        so > 1e-6,
        (torch.sin((1 - t) * omega) * unit_a + torch.sin(t * omega) * unit_b) / so.clamp_min(1e-6),
        (1 - t) * unit_a + t * unit_b,
    )
    direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (direction * ((1 - t) * na + t * nb)).view_as(a)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return (1 - t) * a + t * b


# --- walks -----------------------------------------------------------------------------------------
@torch.no_grad()
def interpolate(model, rows: int = 8, steps: int = 10, mode: str = "slerp", seed: int = 0,
                labels: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """`rows` paths of `steps` images each between pairs of prior codes (a conditional model keeps
    one label per row)."""
    check_latent(model)
    if mode not in ("slerp", "lerp"):
        raise GanthologyError(f"--mode must be slerp or lerp, not {mode!r}.")
    if rows < 1 or steps < 2:
        raise GanthologyError("interpolation needs at least 1 row and 2 steps.")
    with seeded(seed, model.device):
        z0, z1 = model.noise(rows), model.noise(rows)
    mix = slerp if mode == "slerp" else lerp
    z = torch.stack([mix(z0, z1, float(t)) for t in torch.linspace(0, 1, steps)], 1).flatten(0, 1)
    cond = _labels(model, rows, labels)
    if cond:
        cond["y"] = cond["y"].repeat_interleave(steps)
    return model.generate(z, **cond), steps


@torch.no_grad()
def traverse(model, code: str, rows: int = 8, steps: int = 10, span: float = 2.0,
             seed: int = 0) -> tuple[torch.Tensor, int]:
    """One row per prior draw; along the row only `code` changes: every category of a categorical
    code, or a continuous code from -span to span."""
    check_latent(model)
    codes = getattr(model, "latent_codes", {}) or {}
    if not codes:
        raise GanthologyError(f"{model.name} has no named latent codes; use 'ganthology latent interpolate'.")
    if code not in codes:
        raise GanthologyError(f"{model.name} has no code {code!r}; its codes are {', '.join(codes)}.")
    start, stop, kind = codes[code]
    with seeded(seed, model.device):
        z = model.noise(rows)
    if kind == "categorical":
        values = list(torch.eye(stop - start, device=z.device))
    else:
        values = [torch.full((stop - start,), float(v), device=z.device) for v in torch.linspace(-span, span, steps)]
    grid = []
    for v in values:
        zv = z.clone()
        zv[:, start:stop] = v
        grid.append(zv)
    z = torch.stack(grid, 1).flatten(0, 1)  # row-major: one prior draw per row
    return model.generate(z), len(values)


# --- inversion ---------------------------------------------------------------------------------------
METHODS = ("optimize", "encoder", "hybrid")


def invert(model, x: torch.Tensor, method: str = "optimize", steps: int = 300, lr: float = 0.05,
           candidates: int = 16, seed: int = 0, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """Latent codes z with generate(z) close to the images x (in [-1, 1]); returns (z, report).

    optimize: start from the best (lowest pixel error) of `candidates` prior draws per image and
              descend the mean squared pixel error with Adam for `steps` steps;
    encoder:  z = model.encode(x), one forward pass;
    hybrid:   the encoder's z as the starting point of the optimization.
    The report holds the mean squared error and PSNR of the reconstructions and the method."""
    check_latent(model)
    if method not in METHODS:
        raise GanthologyError(f"--method must be one of {', '.join(METHODS)}, not {method!r}.")
    if method != "optimize" and model.encode is None:
        raise GanthologyError(f"{model.name} has no encoder; use --method optimize.")
    shape = (model.data.channels, model.data.image_size, model.data.image_size)
    if x.dim() != 4 or tuple(x.shape[1:]) != shape:
        raise GanthologyError(f"{model.name} makes {shape[0]}x{shape[1]}x{shape[2]} images; the input is "
                              f"{tuple(x.shape[1:])} (resize it, or pass --resize).")
    x = x.to(model.device)
    cond = _labels(model, len(x), labels)
    with torch.no_grad(), seeded(seed, model.device):
        if method == "optimize":  # the best of several prior draws per image
            z, err = None, None
            for _ in range(candidates):
                cand = model.noise(len(x))
                e = (model.generate(cand, **cond) - x).pow(2).flatten(1).mean(1)
                if z is None:
                    z, err = cand, e
                else:
                    better = (e < err).view(-1, *([1] * (cand.dim() - 1)))
                    z, err = torch.where(better, cand, z), torch.minimum(e, err)
        else:
            z = model.encode(x)
    if method != "encoder" and steps > 0:
        z = _descend(model, z, x, cond, steps, lr)
    with torch.no_grad():
        mse = (model.generate(z, **cond) - x).pow(2).flatten(1).mean(1)
    # PSNR on the [0, 1] scale: images in [-1, 1] have 4x the squared error
    psnr = (10 * torch.log10(1.0 / (mse / 4).clamp_min(1e-12))).mean()
    return z.detach(), {"method": method, "mse": float(mse.mean()), "psnr": float(psnr)}


def _descend(model, z: torch.Tensor, x: torch.Tensor, cond: dict, steps: int, lr: float) -> torch.Tensor:
    uniform = model.z_in_unit_box
    z = z.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:  # only z moves; no weight gradients are computed
        p.requires_grad_(False)
    try:
        for _ in range(steps):
            loss = F.mse_loss(model.generate(z, **cond), x, reduction="sum") / len(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if uniform:
                with torch.no_grad():
                    z.clamp_(-1, 1)
    finally:
        for p in params:
            p.requires_grad_(True)
    return z.detach()


@torch.no_grad()
def reconstruct(model, x: torch.Tensor, z: torch.Tensor, labels=None) -> tuple[torch.Tensor, int]:
    """Pairs input | reconstruction, four pairs per row."""
    images = model.generate(z, **_labels(model, len(x), labels))
    return torch.stack([x.to(images.device), images], 1).flatten(0, 1), 8


# --- arithmetic and editing ----------------------------------------------------------------------------
def pool_codes(model, indices: list[int], n: int = 64, seed: int = 0) -> torch.Tensor:
    """The codes of images `indices` of the grid `ganthology sample RUN --n N --seed S` draws."""
    if not indices or min(indices) < 0 or max(indices) >= n:
        raise GanthologyError(f"sample indices must lie in 0..{n - 1} (the grid of --n {n} --seed {seed}).")
    with seeded(seed, model.device):  # as `ganthology sample` seeds before sampling
        return model.noise(n)[indices]


@torch.no_grad()
def arithmetic(model, za: torch.Tensor, zb: torch.Tensor, zc: torch.Tensor, neighbours: int = 7,
               scale: float = 0.25, seed: int = 0) -> tuple[torch.Tensor, dict]:
    """mean(za) - mean(zb) + mean(zc), as one row: the three concept means, the result and
    `neighbours` codes near it (the result plus `scale` x prior noise, as DCGAN's figure 7 shows
    that the result is a region, not a point). Returns (images, the result code)."""
    check_latent(model)
    if "y" in model.conditions:
        raise GanthologyError(f"{model.name} is conditioned on labels; arithmetic works on unconditional codes.")
    a, b, c = za.mean(0, keepdim=True), zb.mean(0, keepdim=True), zc.mean(0, keepdim=True)
    result = a - b + c
    with seeded(seed, model.device):
        near = result + scale * model.noise(neighbours)
    if model.z_in_unit_box:
        near = near.clamp(-1, 1)
    images = model.generate(torch.cat([a, b, c, result, near]))
    return images, {"result": result}


def attribute_direction(z_with: torch.Tensor, z_without: torch.Tensor) -> torch.Tensor:
    """Mean code of images with an attribute minus the mean code of images without it."""
    return z_with.mean(0, keepdim=True) - z_without.mean(0, keepdim=True)


@torch.no_grad()
def edit(model, x: torch.Tensor, z: torch.Tensor, direction: torch.Tensor, strengths: list[float],
         labels: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """One row per image: the input, then generate(z + s * direction) for each strength s."""
    check_latent(model)
    cond = _labels(model, len(z), labels)
    rows = [x.to(z.device).unsqueeze(1)]
    for s in strengths:
        rows.append(model.generate(z + s * direction, **cond).unsqueeze(1))
    return torch.cat(rows, 1).flatten(0, 1), 1 + len(strengths)
