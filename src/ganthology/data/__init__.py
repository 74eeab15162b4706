"""Datasets, held in memory as uint8 tensors and batched by indexing.

`build_dataset(name, ...)` returns an `InMemoryDataset`; `InMemoryLoader` draws batches from it
with a resumable position. Names: the registered datasets (`ganthology.registry.list_datasets()`),
plus `folder:PATH` (your images; subfolders become classes),
`paired:PATH` (pix2pix layout) and `unpaired:PATH` (CycleGAN layout).
The 2-D toys `ring8` and `grid25` hold float32 points instead of uint8 images. `DataInfo` (info.py)
describes what a dataset's batches hold: each key's role, shape and aligned group.
"""
from . import embedded, halves, photos, torchvision_sets, toys  # noqa: F401  (registers datasets)
from .attributes import attribute_renderer
from .core import InMemoryDataset, InMemoryLoader, build_dataset, cache_dir, default_data_root
from .info import ROLES, DataInfo, Part

__all__ = ["ROLES", "DataInfo", "InMemoryDataset", "InMemoryLoader", "Part", "attribute_renderer", "build_dataset",
           "cache_dir", "default_data_root"]
