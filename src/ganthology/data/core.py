"""In-memory datasets and the resumable batch loader.

Small image datasets (MNIST is 60,000 x 32 x 32 bytes = 61 MB) are decoded and resized once into a
uint8 tensor; a batch is one indexing operation and one conversion to float on the device, instead
of per-sample PIL transforms in the training loop.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import GanthologyError
from ..models.base import DataInfo


def default_data_root() -> str:
    """`$GANTHOLOGY_DATA` if set, else ~/.cache/ganthology/data."""
    return os.environ.get("GANTHOLOGY_DATA") or str(Path.home() / ".cache" / "ganthology" / "data")


def downloads_allowed() -> bool:
    """Set GANTHOLOGY_OFFLINE=1 to never try a download (CI, air-gapped machines)."""
    return os.environ.get("GANTHOLOGY_OFFLINE", "") in ("", "0")


@dataclass
class InMemoryDataset:
    """Images as uint8 (N, C, H, W) under `x` (with int64 labels `y`), or aligned pairs `A`, `B`;
    or vector data (the 2-D toys) as float32 (N, D) points under `x`, used as they are."""

    name: str
    tensors: dict[str, torch.Tensor]
    num_classes: int = 0
    classes: list[str] = field(default_factory=list)

    def __post_init__(self):
        n = {len(t) for t in self.tensors.values()}
        assert len(n) == 1, "all tensors of a dataset must have the same length"
        for k, t in self.tensors.items():
            if k == "x" and t.dim() == 2:
                assert t.dtype == torch.float32, "x: vector data must be float32 (N, D)"
            elif k != "y":
                assert t.dtype == torch.uint8 and t.dim() == 4, f"{k}: expected uint8 (N, C, H, W)"

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    @property
    def paired(self) -> bool:
        return "A" in self.tensors

    @property
    def is_vector(self) -> bool:
        return self.tensors["x"].dim() == 2 if "x" in self.tensors else False

    def info(self) -> DataInfo:
        if self.is_vector:  # points, not images: no channels, no image size
            return DataInfo(name=self.name, channels=0, image_size=0, num_classes=self.num_classes,
                            dim=self.tensors["x"].shape[1])
        img = self.tensors["B" if self.paired else "x"]
        return DataInfo(
            name=self.name,
            channels=img.shape[1],
            image_size=img.shape[-1],
            num_classes=self.num_classes,
            paired=self.paired,
            in_channels=self.tensors["A"].shape[1] if self.paired else img.shape[1],
        )


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) images to (N, C, size, size) once, with antialiasing when
    shrinking. Done in chunks so that a large dataset never exists in float at once."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images.contiguous()
    out = torch.empty(images.shape[0], images.shape[1], size, size, dtype=torch.uint8)
    for i in range(0, len(images), chunk):
        f = images[i : i + chunk].float()
        f = F.interpolate(f, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[i : i + chunk] = f.round_().clamp_(0, 255).to(torch.uint8)
    return out


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255]."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class InMemoryLoader:
    """Endless batches from an `InMemoryDataset`, with a position that checkpoints and resumes.

    Each epoch is a permutation drawn from a generator seeded by (seed, epoch), so it depends on
    nothing but those two numbers: no global RNG state is consumed, and a resumed run sees exactly
    the batches the uninterrupted run would have seen. With several processes every rank reads its
    own slice of each global batch (rank r takes items r*B .. r*B + B - 1), so the ranks never see
    the same image in one step.
    """

    def __init__(
        self,
        dataset: InMemoryDataset,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str = "cpu",
        channels_last: bool = False,
    ):
        global_batch = batch_size * world_size
        if global_batch > len(dataset):
            raise GanthologyError(
                f"batch size {batch_size} x {world_size} process(es) is larger than the dataset "
                f"{dataset.name!r} of {len(dataset)} items; lower --batch-size."
            )
        self.dataset, self.batch_size = dataset, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.steps_per_epoch = len(dataset) // global_batch  # the incomplete last batch is dropped
        self.epoch, self.pos = 0, 0
        self._perm_epoch, self._perm = -1, None
        # Keep the uint8 data on the accelerator when it is small: then a batch never crosses PCIe.
        nbytes = sum(t.numel() * t.element_size() for t in dataset.tensors.values())
        on_device = self.device.type != "cpu" and nbytes < 2**30
        self._tensors = {k: (t.to(self.device) if on_device else t) for k, t in dataset.tensors.items()}

    def _permutation(self) -> torch.Tensor:
        if self._perm_epoch != self.epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(len(self.dataset), generator=g)
            self._perm_epoch = self.epoch
        return self._perm

    def next(self) -> dict[str, torch.Tensor]:
        if self.pos >= self.steps_per_epoch:
            self.epoch, self.pos = self.epoch + 1, 0
        start = (self.pos * self.world_size + self.rank) * self.batch_size
        idx = self._permutation()[start : start + self.batch_size]
        self.pos += 1
        return self.batch(idx)

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """The items `idx` as a batch on the device: images float in [-1, 1], vector data as it is
        stored, labels int64."""
        out = {}
        for k, t in self._tensors.items():
            v = t[idx.to(t.device)].to(self.device, non_blocking=True)
            if v.dtype == torch.uint8:
                v = to_model_range(v)
                if self.channels_last:
                    v = v.contiguous(memory_format=torch.channels_last)
            out[k] = v
        return out

    def fixed_batch(self, n: int) -> dict[str, torch.Tensor]:
        """The first n items of the dataset (for preview grids); consumes no randomness."""
        return self.batch(torch.arange(min(n, len(self.dataset))))

    @property
    def epoch_float(self) -> float:
        return self.epoch + self.pos / self.steps_per_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])


# --- building by name ---------------------------------------------------------------------------
def build_dataset(
    name: str,
    root: str | None = None,
    image_size: int | None = None,
    train: bool = True,
    direction: str = "AtoB",
) -> InMemoryDataset:
    """A dataset by name: registered (`mnist`, `digits`, ...), `folder:PATH` or `paired:PATH`."""
    from ..registry import get_dataset
    from .folders import image_folder, paired_folder

    root = root or default_data_root()
    if name.startswith("folder:"):
        return image_folder(name[len("folder:") :], image_size or 64)
    if name.startswith("paired:"):
        return paired_folder(name[len("paired:") :], image_size or 256, direction)
    return get_dataset(name)(root=root, image_size=image_size, train=train)
