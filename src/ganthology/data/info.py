"""What a dataset's batches hold: the description a model builds its networks from.

A batch is a dict of tensors. `DataInfo.parts` says, for each key, its role, the shape of one item
and which *group* it belongs to: keys of one group are aligned (item i of `A` goes with item i of
`B` in pix2pix's pairs; an image with its label), while different groups are independent (the two
domains of unpaired translation, each with its own length, shuffle and resume position).

The flat fields (channels, image_size, num_classes, ...) are what most models read; they describe
the images a generator produces. Both travel in checkpoints and exports as plain JSON.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: the roles a batch key can play; a model or a tool asks for a role, not for a key name
ROLES = {
    "image": "images a generator learns to produce (x)",
    "label": "class index of each item (y)",
    "points": "vectors of the 2-D toys, used as they are (x)",
    "input": "images given to a translation model (A of aligned pairs)",
    "target": "the image an input should become (B of aligned pairs)",
    "domain A": "images of one domain of unpaired translation (A)",
    "domain B": "images of the other domain (B)",
    "low-resolution input": "a downscaled copy of the aligned image (lr)",
    "mask": "where an image is missing, 1 inside the hole (mask)",
    "attributes": "a 0/1 vector of named attributes per item (attr)",
    "source": "the untransformed image an item was made from: the ground truth for any target (base)",
}


@dataclass(frozen=True)
class Part:
    role: str  # one of ROLES
    shape: tuple[int, ...]  # one item: (C, H, W) for images, () for a label, (K,) for attributes
    group: int = 0  # keys of one group are aligned and shuffled together; groups are independent
    length: int = 0  # items in its group (0: not recorded)
    dataset: str = ""  # the registered dataset these images are drawn from (its evaluator scores them)

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))


@dataclass
class DataInfo:
    """What a model needs to know about its data to build its networks."""

    name: str  # dataset name, for the record
    channels: int  # channels of the images a generator produces (B in a paired dataset)
    image_size: int  # square side in pixels
    num_classes: int = 0  # > 0 when batches carry labels `y`
    paired: bool = False  # batches carry aligned `A` (input) and `B` (target) instead of `x`
    in_channels: int = 0  # channels of `A` in a paired dataset
    dim: int = 0  # > 0 for vector data (the 2-D toys ring8, grid25): samples are (dim,), not images
    attributes: list[str] = field(default_factory=list)  # names of the entries of `attr`, in order
    parts: dict[str, Part] = field(default_factory=dict)  # key -> Part; derived from the above if empty

    def __post_init__(self):
        self.parts = {k: p if isinstance(p, Part) else Part(**{**p, "shape": tuple(p["shape"])})
                      for k, p in self.parts.items()}
        if not self.parts:  # a description made by hand, or read from an older checkpoint
            self.parts = self._derived_parts()

    def _derived_parts(self) -> dict[str, Part]:
        if self.is_vector:
            parts = {"x": Part("points", (self.dim,))}
        elif self.paired:
            parts = {"A": Part("input", (self.in_channels or self.channels, self.image_size, self.image_size)),
                     "B": Part("target", (self.channels, self.image_size, self.image_size))}
        else:
            parts = {"x": Part("image", (self.channels, self.image_size, self.image_size))}
        if self.num_classes:
            parts["y"] = Part("label", ())
        return parts

    @property
    def is_vector(self) -> bool:
        return self.dim > 0

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (dim,) for vector data, (channels, size, size) for images."""
        return (self.dim,) if self.is_vector else (self.channels, self.image_size, self.image_size)

    def key(self, role: str) -> str | None:
        """The batch key that plays `role`, or None."""
        return next((k for k, p in self.parts.items() if p.role == role), None)

    def has(self, *roles: str) -> bool:
        return all(self.key(r) is not None for r in roles)

    @property
    def groups(self) -> list[tuple[str, ...]]:
        """The aligned groups of keys, in group order."""
        ids = sorted({p.group for p in self.parts.values()})
        return [tuple(k for k, p in self.parts.items() if p.group == g) for g in ids]

    def describe(self) -> str:
        """One line per key, for `ganthology info` and `ganthology datasets`."""
        lines = []
        for k, p in self.parts.items():
            shape = "x".join(map(str, p.shape)) or "scalar"
            n = f", {p.length} items" if p.length else ""
            lines.append(f"{k}: {p.role}, {shape} (group {p.group}{n})")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)
