"""Real colour photographs that ship inside installed packages; MNIST-M and a super-resolution set
built from them.

The photographs: scikit-image's bundled colour pictures (astronaut, coffee, chelsea, rocket, ...)
and scikit-learn's two sample images (china, flower). They are what the offline datasets that
need natural colour and texture are built from.

`mnistm` follows the construction of Ganin et al. 2016 ("Domain-Adversarial Training of Neural
Networks", section 5.1.1): each MNIST digit, binarised, is blended over a random patch of a colour
photograph as |patch - digit|, so the stroke inverts the photo's colours and the background keeps
them. Ganin et al. took their patches from BSDS500; this set takes them from the photographs above,
so it is MNIST-M-*like*, not the published file: the same recipe on other photographs. The train
split is built from MNIST's 60,000 training digits, the test split from its 10,000 test digits,
from a fixed seed; labels are kept for scoring. Built once, then cached (uint8, 28x28) under the
cache directory.

`photo_sr` is a super-resolution set: 96x96 crops of eight of the photographs for training (random
positions and flips from a fixed seed, SRGAN's patch size, Ledig et al. 2017 section 3.2), and every
non-overlapping 96x96 tile of the two held-out photographs (coffee, china) for testing, with the
index of its photograph (`photo`); each high-resolution crop `x` comes with its x4 bicubic
downscale `lr` (24x24), the input of SRGAN and ESRGAN.

`photos` is the inpainting set (Context Encoders, CC-GAN): 64x64 crops of the same eight
photographs for training (8,000 random positions and flips from a fixed seed) and every
non-overlapping 64x64 tile of the same two held-out photographs for testing (114 tiles, with the
index of their photograph, `photo`). Pathak et al. 2016 train on 128x128 crops with a 64x64 hole;
64x64 crops keep the hole at a quarter of the area (32x32) at a quarter of the cost, for CPUs.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import GanthologyError
from ..registry import register_dataset
from .core import InMemoryDataset, cache_dir, default_data_root, resize_uint8

#: scikit-image's bundled colour photographs (file names in skimage/data), then scikit-learn's
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
                  "motorcycle_left.png", "retina.jpg", "ihc.png")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
MNISTM_SEED = 0  # the one fixed seed of the published-style build: every user gets the same images
MNISTM_VERSION = 1  # bump when the construction changes, so stale caches are rebuilt


def photographs() -> list[torch.Tensor]:
    """The packaged colour photographs as uint8 (3, H, W) tensors, in a fixed order."""
    from pathlib import Path

    import skimage
    from sklearn.datasets import load_sample_images

    from .folders import read_image

    folder = Path(skimage.__file__).parent / "data"
    photos = [read_image(folder / name, "RGB") for name in SKIMAGE_PHOTOS]
    photos += [torch.from_numpy(np.array(img)).permute(2, 0, 1) for img in load_sample_images().images]
    return photos


def blend_digits(digits: torch.Tensor, photos: list[torch.Tensor], seed: int) -> torch.Tensor:
    """MNIST-M's blend: uint8 (N, 1, h, w) digits -> uint8 (N, 3, h, w) images |patch - 255 * b|,
    b the binarised digit (pixel > 0), each patch a random h x w crop of a random photograph."""
    g = torch.Generator().manual_seed(seed)
    n, _, h, w = digits.shape
    which = torch.randint(len(photos), (n,), generator=g)
    out = torch.empty(n, 3, h, w, dtype=torch.uint8)
    binary = (digits > 0).to(torch.int16) * 255  # (N, 1, h, w): 255 on the stroke, 0 elsewhere
    for i, p in enumerate(photos):
        idx = (which == i).nonzero().flatten()
        if len(idx) == 0:
            continue
        top = torch.randint(p.shape[1] - h + 1, (len(idx),), generator=g)
        left = torch.randint(p.shape[2] - w + 1, (len(idx),), generator=g)
        rows = top.view(-1, 1) + torch.arange(h)  # (k, h)
        cols = left.view(-1, 1) + torch.arange(w)  # (k, w)
        patches = p[:, rows[:, :, None], cols[:, None, :]].permute(1, 0, 2, 3)  # (k, 3, h, w)
        out[idx] = (patches.to(torch.int16) - binary[idx]).abs().to(torch.uint8)
    return out


def _mnistm_uint8(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 3, 28, 28), labels), from the cache or built from MNIST and cached."""
    from .torchvision_sets import mnist_raw

    split = "train" if train else "test"
    path = cache_dir() / "datasets" / f"mnistm-like-v{MNISTM_VERSION}-{split}.pt"
    if path.is_file():
        try:
            d = torch.load(path, weights_only=True)
            return d["x"], d["y"]
        except Exception:  # a damaged cache is rebuilt, never trusted
            pass
    digits, labels = mnist_raw(root, train)
    # a different seed per split, so no test image reuses a training image's patch
    x = blend_digits(digits, photographs(), seed=MNISTM_SEED * 2 + (0 if train else 1))
    from ..train.checkpoint import atomic_write

    atomic_write(path, lambda tmp: torch.save({"x": x, "y": labels}, tmp))
    return x, labels


@register_dataset("mnistm")
def mnistm(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """MNIST-M-like: MNIST digits blended over patches of packaged colour photos, 28x28 -> 32x32."""
    x, y = _mnistm_uint8(root or default_data_root(), train)
    return InMemoryDataset("mnistm", {"x": resize_uint8(x, image_size or 32), "y": y}, num_classes=10,
                           classes=[str(i) for i in range(10)])


@register_dataset("mnist2mnistm")
def mnist2mnistm(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Unpaired domains: MNIST (A, grey, with labels y) and MNIST-M-like (B, colour, with labels y_B,
    which no model trains on: they score what a translation kept of the digit), shuffled
    independently."""
    from .torchvision_sets import mnist_raw

    size = image_size or 32
    a, ya = mnist_raw(root or default_data_root(), train)
    b, yb = _mnistm_uint8(root or default_data_root(), train)
    # B's labels travel with B (for scoring what a translation kept); no model trains on them
    tensors = {"A": resize_uint8(a, size), "y": ya, "B": resize_uint8(b, size), "y_B": yb}
    groups = [("A", "y"), ("B", "y_B")]
    return InMemoryDataset("mnist2mnistm", tensors, num_classes=10, classes=[str(i) for i in range(10)],
                           groups=groups, roles={"A": "domain A", "B": "domain B", "y_B": "label"},
                           sources={"A": "mnist", "B": "mnistm"})


@register_dataset("digits2photo")
def digits2photo(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Offline unpaired domains, mnist2mnistm in small: scikit-learn's digits (A, grey, with labels
    y) and the same digits blended over photo patches as MNIST-M is (B, colour), shuffled
    independently, 32x32, B's labels (y_B) kept for scoring only. 1,497 digits train, the other
    300 are the test split."""
    from .embedded import EDGES_TRAIN, _digits_uint8

    x, y = _digits_uint8()
    x, y = (x[:EDGES_TRAIN], y[:EDGES_TRAIN]) if train else (x[EDGES_TRAIN:], y[EDGES_TRAIN:])
    a = resize_uint8(x, image_size or 32)
    b = blend_digits(a * (a > 96), photographs(), seed=2 if train else 3)  # binarised at 3/8 of full ink
    tensors, groups = {"A": a, "y": y, "B": b, "y_B": y.clone()}, [("A", "y"), ("B", "y_B")]
    return InMemoryDataset("digits2photo", tensors, num_classes=10, classes=[str(i) for i in range(10)],
                           groups=groups, roles={"A": "domain A", "B": "domain B", "y_B": "label"},
                           sources={"A": "digits"})


def _photodigits(train: bool, size: int, seed_offset: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grey digits, the same digits blended over photo patches, labels) of scikit-learn's digits
    at `size`: the first 1,497 for training, the other 300 held out."""
    from .embedded import EDGES_TRAIN, _digits_uint8

    x, y = _digits_uint8()
    x, y = (x[:EDGES_TRAIN], y[:EDGES_TRAIN]) if train else (x[EDGES_TRAIN:], y[EDGES_TRAIN:])
    a = resize_uint8(x, size)
    # binarised at 3/8 of full ink, as digits2photo's B
    b = blend_digits(a * (a > 96), photographs(), seed=(2 if train else 3) + seed_offset)
    return a, b, y


@register_dataset("photodigits")
def photodigits(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """scikit-learn's digits blended over patches of packaged photographs as MNIST-M is (3x32x32,
    labels): the colour domain of the offline translation sets; its evaluator is photodigits-lenet.
    1,497 train, 300 test."""
    _, b, y = _photodigits(train, image_size or 32)
    return InMemoryDataset("photodigits", {"x": b, "y": y}, num_classes=10, classes=[str(i) for i in range(10)])


def _edges_to(b: torch.Tensor, a: torch.Tensor, y: torch.Tensor, name: str, source: str) -> InMemoryDataset:
    from .embedded import sobel_edges

    return InMemoryDataset(name, {"A": sobel_edges(a), "B": b, "y": y}, num_classes=10,
                           classes=[str(i) for i in range(10)], sources={"B": source})


@register_dataset("edges2photodigits")
def edges2photodigits(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Offline one-to-many pairs: A is the edge map of a scikit-learn digit (1x32x32), B the same digit
    blended over a random photo patch (3x32x32, as `photodigits`), y its label. The patch is drawn at
    random, so A does not determine B: many B fit one A (BicycleGAN's and MUNIT's setting)."""
    a, b, y = _photodigits(train, image_size or 32, seed_offset=10)
    return _edges_to(b, a, y, "edges2photodigits", "photodigits")


@register_dataset("edges2mnistm")
def edges2mnistm(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """One-to-many pairs from MNIST: A is the edge map of an MNIST digit (1x32x32), B the MNIST-M-like
    image of the same digit (3x32x32: the digit over a random photo patch, `mnistm`), y its label.
    The photo patch is not in A, so A does not determine B."""
    from .torchvision_sets import mnist_raw

    size = image_size or 32
    root = root or default_data_root()
    digits, y = mnist_raw(root, train)
    b, yb = _mnistm_uint8(root, train)  # built from the same MNIST split, in the same order
    assert torch.equal(y, yb), "mnistm must follow MNIST's order"
    return _edges_to(resize_uint8(b, size), resize_uint8(digits, size), y, "edges2mnistm", "mnistm")


SR_HELD_OUT = ("coffee.png", "china.jpg")  # whole photographs that no training crop comes from
SR_CROP, SR_SCALE, SR_TRAIN_CROPS = 96, 4, 4000


def bicubic_downscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, H/scale, W/scale), bicubic with antialiasing (the x4
    degradation of the SR papers, in torch's arithmetic rather than MATLAB's imresize)."""
    import torch.nn.functional as F

    f = F.interpolate(x.float(), scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False)
    return f.round().clamp(0, 255).to(torch.uint8)


@register_dataset("photo_sr")
def photo_sr(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """Super-resolution: 96x96 crops of packaged photographs (x) with their x4 bicubic copies (lr)."""
    size = image_size or SR_CROP
    if size % SR_SCALE:
        raise GanthologyError(f"photo_sr crops must be a multiple of {SR_SCALE} pixels; use --image-size {SR_CROP}.")
    names = SKIMAGE_PHOTOS + SKLEARN_PHOTOS
    photos = dict(zip(names, photographs()))
    if train:
        g = torch.Generator().manual_seed(0)
        pool = [p for n, p in photos.items() if n not in SR_HELD_OUT]
        crops = []
        for i in range(SR_TRAIN_CROPS):
            p = pool[i % len(pool)]
            top = int(torch.randint(p.shape[1] - size + 1, (1,), generator=g))
            left = int(torch.randint(p.shape[2] - size + 1, (1,), generator=g))
            c = p[:, top : top + size, left : left + size]
            crops.append(c.flip(-1) if torch.rand(1, generator=g) < 0.5 else c)
        x = torch.stack(crops)
    else:
        tiles, photo = [], []
        for i, n in enumerate(SR_HELD_OUT):
            p = photos[n]
            for top in range(0, p.shape[1] - size + 1, size):
                for left in range(0, p.shape[2] - size + 1, size):
                    tiles.append(p[:, top : top + size, left : left + size])
                    photo.append(i)
        x = torch.stack(tiles)
        # which held-out photograph each tile is cut from: PSNR is computed per photograph, as the
        # SR papers compute it per test image, not per tile (a flat tile of sky would outweigh detail)
        return InMemoryDataset("photo_sr", {"x": x.contiguous(), "lr": bicubic_downscale(x, SR_SCALE),
                                            "photo": torch.tensor(photo)}, roles={"photo": "label"})
    return InMemoryDataset("photo_sr", {"x": x.contiguous(), "lr": bicubic_downscale(x, SR_SCALE)})


INPAINT_CROP, INPAINT_TRAIN_CROPS = 64, 8000


@register_dataset("photos")
def photos(root: str | None = None, image_size: int | None = None, train: bool = True) -> InMemoryDataset:
    """For inpainting: 64x64 crops of eight packaged photographs; tiles of two others held out (photo_sr's split).

    Training: 8,000 random crops and flips; test: every non-overlapping tile of coffee and china."""
    size = image_size or INPAINT_CROP
    names = SKIMAGE_PHOTOS + SKLEARN_PHOTOS
    pics = dict(zip(names, photographs()))
    if size > min(min(p.shape[1:]) for p in pics.values()):
        raise GanthologyError(f"photos crops must fit in every photograph; use --image-size {INPAINT_CROP} or less.")
    if train:
        # the same photographs as photo_sr's training crops, from another seed
        g = torch.Generator().manual_seed(1)
        pool = [p for n, p in pics.items() if n not in SR_HELD_OUT]
        crops = []
        for i in range(INPAINT_TRAIN_CROPS):
            p = pool[i % len(pool)]
            top = int(torch.randint(p.shape[1] - size + 1, (1,), generator=g))
            left = int(torch.randint(p.shape[2] - size + 1, (1,), generator=g))
            c = p[:, top : top + size, left : left + size]
            crops.append(c.flip(-1) if torch.rand(1, generator=g) < 0.5 else c)
        return InMemoryDataset("photos", {"x": torch.stack(crops).contiguous()})
    tiles, photo = [], []
    for i, n in enumerate(SR_HELD_OUT):
        p = pics[n]
        for top in range(0, p.shape[1] - size + 1, size):
            for left in range(0, p.shape[2] - size + 1, size):
                tiles.append(p[:, top : top + size, left : left + size])
                photo.append(i)
    return InMemoryDataset("photos", {"x": torch.stack(tiles).contiguous(), "photo": torch.tensor(photo)},
                           roles={"photo": "label"})
