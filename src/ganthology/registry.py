"""Name -> class registries for models and datasets.

Models register themselves with `@register_model("name")` when `ganthology.models` is imported;
`list_models()` is what the CLI, the README table and the registry-generated tests iterate over.
"""
from __future__ import annotations

from typing import Callable

from .errors import GanthologyError

_MODELS: dict[str, type] = {}
_DATASETS: dict[str, Callable] = {}


def register_model(name: str):
    def wrap(cls):
        if name in _MODELS:
            raise ValueError(f"model {name!r} registered twice")
        cls.name = name
        _MODELS[name] = cls
        return cls

    return wrap


def register_dataset(name: str):
    def wrap(fn):
        if name in _DATASETS:
            raise ValueError(f"dataset {name!r} registered twice")
        _DATASETS[name] = fn
        return fn

    return wrap


def _ensure_loaded():
    from . import data, models  # noqa: F401  (importing registers everything)


def list_models() -> list[str]:
    _ensure_loaded()
    return sorted(_MODELS)


def get_model(name: str) -> type:
    _ensure_loaded()
    if name not in _MODELS:
        raise GanthologyError(
            f"unknown model {name!r}; run 'ganthology list' to see the {len(_MODELS)} models."
        )
    return _MODELS[name]


def list_datasets() -> list[str]:
    _ensure_loaded()
    return sorted(_DATASETS)


def get_dataset(name: str) -> Callable:
    _ensure_loaded()
    if name not in _DATASETS:
        raise GanthologyError(
            f"unknown dataset {name!r}; choose one of {', '.join(sorted(_DATASETS))} "
            "or 'folder:PATH' / 'paired:PATH' / 'unpaired:PATH' for your own images."
        )
    return _DATASETS[name]
