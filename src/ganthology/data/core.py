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
from .info import DataInfo, Part


def default_data_root() -> str:
    """`$GANTHOLOGY_DATA` if set, else ~/.cache/ganthology/data."""
    return os.environ.get("GANTHOLOGY_DATA") or str(Path.home() / ".cache" / "ganthology" / "data")


def cache_dir() -> Path:
    """$GANTHOLOGY_CACHE, else ~/.cache/ganthology: built datasets, trained evaluators."""
    return Path(os.environ.get("GANTHOLOGY_CACHE") or Path.home() / ".cache" / "ganthology")


def downloads_allowed() -> bool:
    """Set GANTHOLOGY_OFFLINE=1 to never try a download (CI, air-gapped machines)."""
    return os.environ.get("GANTHOLOGY_OFFLINE", "") in ("", "0")


#: the role each conventional batch key plays (data/info.py); a dataset may override a key's role
KEY_ROLES = {"x": "image", "y": "label", "A": "input", "B": "target", "lr": "low-resolution input",
             "mask": "mask", "attr": "attributes", "base": "source"}


@dataclass
class InMemoryDataset:
    """Images as uint8 (N, C, H, W) under `x` (with int64 labels `y`), or aligned pairs `A`, `B`;
    or vector data (the 2-D toys) as float32 (N, D) points under `x`, used as they are.

    `groups` lists the keys that are aligned (indexed together); by default all keys are one group.
    Keys of different groups are independent, each group with its own length and shuffle: the two
    domains of unpaired translation are `groups=[("A",), ("B",)]`, with roles "domain A"/"domain B".
    """

    name: str
    tensors: dict[str, torch.Tensor]
    num_classes: int = 0
    classes: list[str] = field(default_factory=list)
    groups: list[tuple[str, ...]] | None = None
    roles: dict[str, str] = field(default_factory=dict)  # key -> role, where it is not KEY_ROLES'
    attributes: list[str] = field(default_factory=list)  # names of the columns of `attr`
    #: key -> the registered dataset its images are drawn from, where it is not this one (the
    #: domains of mnist2mnistm are mnist and mnistm): what scores a translation into that domain
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.groups is None:
            self.groups = [tuple(self.tensors)]
        self.groups = [tuple(g) for g in self.groups]
        keys = [k for g in self.groups for k in g]
        assert sorted(keys) == sorted(self.tensors), "every tensor belongs to exactly one group"
        for g in self.groups:
            assert len({len(self.tensors[k]) for k in g}) == 1, f"the aligned tensors {g} must have one length"
        for k, t in self.tensors.items():
            if k == "x" and t.dim() == 2:
                assert t.dtype == torch.float32, "x: vector data must be float32 (N, D)"
            elif self.role(k) in ("label", "attributes"):
                assert t.dim() in (1, 2), f"{k}: expected (N,) labels or (N, K) attributes"
            else:
                assert t.dtype == torch.uint8 and t.dim() == 4, f"{k}: expected uint8 (N, C, H, W)"

    def group_len(self, g: int) -> int:
        return len(self.tensors[self.groups[g][0]])

    def __len__(self) -> int:
        """Items in the largest group: what an epoch covers."""
        return max(self.group_len(g) for g in range(len(self.groups)))

    @property
    def paired(self) -> bool:
        """Aligned input/target pairs (pix2pix), as opposed to two unpaired domains."""
        return "A" in self.tensors and any("A" in g and "B" in g for g in self.groups)

    @property
    def is_vector(self) -> bool:
        return self.tensors["x"].dim() == 2 if "x" in self.tensors else False

    def role(self, key: str) -> str:
        if key in self.roles:
            return self.roles[key]
        if key == "x" and self.is_vector:
            return "points"
        return KEY_ROLES.get(key, "image")

    def info(self) -> DataInfo:
        group_of = {k: i for i, g in enumerate(self.groups) for k in g}
        parts = {k: Part(self.role(k), tuple(t.shape[1:]), group_of[k], self.group_len(group_of[k]),
                         self.sources.get(k, self.name if self.role(k) == "image" else ""))
                 for k, t in self.tensors.items()}
        if self.is_vector:  # points, not images: no channels, no image size
            return DataInfo(name=self.name, channels=0, image_size=0, num_classes=self.num_classes,
                            dim=self.tensors["x"].shape[1], parts=parts)
        img = self.tensors["B" if "B" in self.tensors else "x"]
        return DataInfo(
            name=self.name,
            channels=img.shape[1],
            image_size=img.shape[-1],
            num_classes=self.num_classes,
            paired=self.paired,
            in_channels=self.tensors["A"].shape[1] if "A" in self.tensors else img.shape[1],
            attributes=list(self.attributes),
            parts=parts,
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

    A dataset of several independent groups (unpaired domains) gives each group its own shuffles
    and its own (epoch, position), all in the checkpoint; the loader's `epoch` is that of the
    largest group, so an epoch covers every item of every domain at least once.
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
        for g, keys in enumerate(dataset.groups):
            if global_batch > dataset.group_len(g):
                what = f"the dataset {dataset.name!r}" + (f" (its part {'/'.join(keys)})" if len(dataset.groups) > 1 else "")
                raise GanthologyError(f"batch size {batch_size} x {world_size} process(es) is larger than {what} "
                                      f"of {dataset.group_len(g)} items; lower --batch-size.")
        self.dataset, self.batch_size = dataset, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.groups = dataset.groups
        # the incomplete last batch of each group's epoch is dropped
        self._steps = [dataset.group_len(g) // global_batch for g in range(len(self.groups))]
        self._lead = max(range(len(self.groups)), key=lambda g: dataset.group_len(g))
        self.steps_per_epoch = self._steps[self._lead]
        self._cursor = [[0, 0] for _ in self.groups]  # (epoch, position) of each group
        self._perms: dict[int, tuple[int, torch.Tensor]] = {}
        # Keep the uint8 data on the accelerator when it is small: then a batch never crosses PCIe.
        nbytes = sum(t.numel() * t.element_size() for t in dataset.tensors.values())
        on_device = self.device.type != "cpu" and nbytes < 2**30
        self._tensors = {k: (t.to(self.device) if on_device else t) for k, t in dataset.tensors.items()}

    @property
    def epoch(self) -> int:
        return self._cursor[self._lead][0]

    @property
    def pos(self) -> int:
        return self._cursor[self._lead][1]

    def _permutation(self, g: int, epoch: int) -> torch.Tensor:
        if self._perms.get(g, (None,))[0] != epoch:
            # group 0 keeps the single-group formula, so runs on one-group data are unchanged
            key = self.seed * 1_000_003 + epoch + g * 7_919_000_001
            gen = torch.Generator().manual_seed(key)
            self._perms[g] = (epoch, torch.randperm(self.dataset.group_len(g), generator=gen))
        return self._perms[g][1]

    def next(self) -> dict[str, torch.Tensor]:
        out = {}
        for g, keys in enumerate(self.groups):
            epoch, pos = self._cursor[g]
            if pos >= self._steps[g]:
                epoch, pos = epoch + 1, 0
            start = (pos * self.world_size + self.rank) * self.batch_size
            idx = self._permutation(g, epoch)[start : start + self.batch_size]
            self._cursor[g] = [epoch, pos + 1]
            out.update(self.batch(idx, keys))
        return out

    def batch(self, idx: torch.Tensor, keys: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        """The items `idx` of `keys` (default: all keys, for one-group data) as a batch on the
        device: images float in [-1, 1], vector data as it is stored, labels int64."""
        out = {}
        for k in keys or tuple(self._tensors):
            t = self._tensors[k]
            v = t[idx.to(t.device)].to(self.device, non_blocking=True)
            if v.dtype == torch.uint8:
                v = to_model_range(v)
                if self.channels_last:
                    v = v.contiguous(memory_format=torch.channels_last)
            out[k] = v
        return out

    def fixed_batch(self, n: int) -> dict[str, torch.Tensor]:
        """The first n items of each group (for preview grids); consumes no randomness."""
        out = {}
        for g, keys in enumerate(self.groups):
            out.update(self.batch(torch.arange(min(n, self.dataset.group_len(g))), keys))
        return out

    @property
    def epoch_float(self) -> float:
        return self.epoch + self.pos / self.steps_per_epoch

    def state_dict(self) -> dict:
        state = {"epoch": self.epoch, "pos": self.pos}
        if len(self.groups) > 1:
            state["groups"] = [list(c) for c in self._cursor]
        return state

    def load_state_dict(self, state: dict) -> None:
        if "groups" in state:
            if len(state["groups"]) != len(self.groups):
                raise GanthologyError(f"the checkpoint's data position has {len(state['groups'])} groups, "
                                      f"the dataset {self.dataset.name!r} has {len(self.groups)}.")
            self._cursor = [[int(e), int(p)] for e, p in state["groups"]]
        else:
            self._cursor[self._lead] = [int(state["epoch"]), int(state["pos"])]


# --- building by name ---------------------------------------------------------------------------
def build_dataset(
    name: str,
    root: str | None = None,
    image_size: int | None = None,
    train: bool = True,
    direction: str = "AtoB",
) -> InMemoryDataset:
    """A dataset by name: registered (`mnist`, `digits`, ...), `folder:PATH`, `paired:PATH`,
    `unpaired:PATH`, `celeba:PATH`, or `domains:NAME` (a paired dataset read as two domains)."""
    from ..registry import get_dataset
    from .folders import celeba_folder, image_folder, paired_folder, unpaired_folder

    root = root or default_data_root()
    if name.startswith("domains:"):
        return as_domains(build_dataset(name[len("domains:"):], root, image_size, train, direction))
    if name.startswith("folder:"):
        return image_folder(name[len("folder:") :], image_size or 64)
    if name.startswith("paired:"):
        return paired_folder(name[len("paired:") :], image_size or 256, direction, train)
    if name.startswith("celeba:"):
        return celeba_folder(name[len("celeba:") :], image_size or 128, train)
    if name.startswith("unpaired:"):
        return unpaired_folder(name[len("unpaired:") :], image_size or 256, train, direction)
    return get_dataset(name)(root=root, image_size=image_size, train=train)


def as_domains(data: InMemoryDataset) -> InMemoryDataset:
    """A paired dataset (aligned input A and target B, perhaps labels y) as two unpaired domains:
    A with its labels, and B with a copy of them (y_B, for scoring only), each group shuffled on
    its own, so that a model for unpaired translation never sees which B belongs to which A. The
    name is `domains:NAME`, which `build_dataset` reads back."""
    from ..errors import GanthologyError

    if not data.paired:
        raise GanthologyError(f"domains: reads a paired dataset (input A and target B) as two domains; "
                              f"{data.name!r} is not paired.")
    t = data.tensors
    tensors, groups = {"A": t["A"], "B": t["B"]}, [("A",), ("B",)]
    roles = {"A": "domain A", "B": "domain B"}
    if "y" in t:
        tensors |= {"y": t["y"], "y_B": t["y"].clone()}
        groups = [("A", "y"), ("B", "y_B")]
        roles["y_B"] = "label"
    return InMemoryDataset(f"domains:{data.name}", tensors, num_classes=data.num_classes, classes=data.classes,
                           groups=groups, roles=roles, sources=dict(data.sources))
