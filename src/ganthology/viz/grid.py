"""Images in [-1, 1] to PNG files, through torchvision's grid and Pillow."""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid

from ..data.core import to_uint8


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, scale: int = 0) -> Path:
    """A grid of (N, C, H, W) images in [-1, 1] as one PNG. Small images are enlarged with nearest
    neighbours so that a 16x16 digit is still visible (to at least 32 px, or `scale` times)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = images.detach().float().cpu()
    if scale == 0:
        scale = max(1, 32 // images.shape[-1])
    if scale > 1:
        images = torch.nn.functional.interpolate(images, scale_factor=scale, mode="nearest")
    grid = make_grid(images, nrow=nrow, padding=2, pad_value=1.0, value_range=(-1, 1), normalize=False)
    _write_png(to_uint8(grid), path)
    return path


def _write_png(img: torch.Tensor, path: Path) -> None:
    """uint8 (C, H, W) -> PNG."""
    arr = img.permute(1, 2, 0).numpy()
    Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).save(path, format="PNG")


def match_channels(images: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`images` with as many channels as `like`, to show inputs beside outputs in one grid: a
    1-channel image is repeated, extra channels are dropped."""
    c = like.shape[1]
    if images.shape[1] == c:
        return images
    return images.expand(-1, c, -1, -1) if images.shape[1] == 1 else images[:, :c]


def save_images(images: torch.Tensor, folder: str | Path, prefix: str = "sample") -> list[Path]:
    """Each image as its own PNG: folder/prefix_00000.png, ..."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(to_uint8(images.cpu())):
        p = folder / f"{prefix}_{i:05d}.png"
        _write_png(img, p)
        paths.append(p)
    return paths
