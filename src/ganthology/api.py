"""The Python API: build a model, train it, load a trained one.

    import ganthology
    run = ganthology.train_model("dcgan", dataset="digits", steps=500, out="runs/quick")
    model = ganthology.load(run)          # a run folder, a checkpoint or a generator export
    images = model.sample(16)             # (16, C, H, W) in [-1, 1]
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .errors import GanthologyError
from .models.base import DataInfo, GANModel
from .registry import get_model


def make_config(model_name: str, **overrides):
    """The model's Config with the paper's defaults, some fields replaced."""
    cls = get_model(model_name).Config
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise GanthologyError(
            f"{model_name} has no setting {unknown[0]!r}; its settings are: {', '.join(sorted(names))}."
        )
    return cls(**overrides)


def build_model(model_name: str, config: dict, data: dict | DataInfo) -> GANModel:
    """A model from its name, a config dict (as stored in checkpoints) and its data description."""
    cls = get_model(model_name)
    info = data if isinstance(data, DataInfo) else DataInfo(**data)
    return cls(make_config(model_name, **config), info)


def train_model(model_name: str, resume: str | None = None, **settings) -> Path:
    """Train `model_name`. Keyword arguments are TrainConfig fields (dataset, steps, out, ...) or
    fields of the model's Config (lr, batch_size, ...). Returns the run folder."""
    from .train import TrainConfig, Trainer

    train_names = {f.name for f in dataclasses.fields(TrainConfig)}
    tcfg = TrainConfig(**{k: v for k, v in settings.items() if k in train_names})
    mcfg = make_config(model_name, **{k: v for k, v in settings.items() if k not in train_names})
    cls = get_model(model_name)
    tcfg.dataset = tcfg.dataset or cls.default_dataset
    tcfg.out = tcfg.out or f"runs/{model_name}-{tcfg.dataset.replace(':', '_').replace('/', '_')}"
    return Trainer(model_name, mcfg, tcfg, resume=resume).fit()


def load(path: str | Path, device: str | torch.device = "cpu") -> GANModel:
    """A trained model, ready to `sample()`, in eval mode.

    `path`: a run folder (its checkpoint, else its generator export), a `.pt` checkpoint, or a
    `generator.safetensors` / `generator.json` export (which holds only the sampling networks)."""
    from .train.checkpoint import load_checkpoint, load_export

    p = Path(path)
    if p.is_dir():
        if (p / "checkpoints" / "last.pt").is_file():
            p = p / "checkpoints" / "last.pt"
        elif (p / "generator.safetensors").is_file():
            p = p / "generator.safetensors"
        else:
            raise GanthologyError(f"{path} holds neither checkpoints/last.pt nor generator.safetensors.")
    if not p.exists():
        raise GanthologyError(f"{path} does not exist; give a run folder, a .pt checkpoint or a generator export.")
    if p.suffix in (".safetensors", ".json"):
        meta, tensors = load_export(p)
        model = build_model(meta["model"], meta["config"]["model_config"], meta["data"])
        for name in model.sampling_modules:
            prefix = f"{name}."
            sub = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            _load_into(getattr(model, name), sub, p)
    else:
        ckpt = load_checkpoint(p)
        model = build_model(ckpt["model"], ckpt["config"]["model_config"], ckpt["data"])
        _load_into(model, ckpt["state"], p)
    model.to(device).eval()
    model.source = str(p)
    return model


def _load_into(module: torch.nn.Module, state: dict, path: Path) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError:
        raise GanthologyError(
            f"the weights in {path} do not fit the network its config describes (file edited or from "
            "another version of ganthology)."
        ) from None
