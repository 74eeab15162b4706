"""Datasets, held in memory as uint8 tensors and batched by indexing.

`build_dataset(name, ...)` returns an `InMemoryDataset`; `InMemoryLoader` draws batches from it
with a resumable position. Names: the registered datasets (`ganthology.registry.list_datasets()`),
plus `folder:PATH` (your images; subfolders become classes) and `paired:PATH` (pix2pix layout).
The 2-D toys `ring8` and `grid25` hold float32 points instead of uint8 images.
"""
from . import embedded, torchvision_sets, toys  # noqa: F401  (registers datasets)
from .core import InMemoryDataset, InMemoryLoader, build_dataset, default_data_root

__all__ = ["InMemoryDataset", "InMemoryLoader", "build_dataset", "default_data_root"]
