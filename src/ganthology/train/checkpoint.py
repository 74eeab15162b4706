"""Checkpoints and generator exports.

- `checkpoints/last.pt` (torch.save): everything a run needs to continue exactly: the resolved
  config, all networks and buffers, optimizers, mixed-precision scaler, step, every rank's RNG
  states and the data position. Written to a temporary file and renamed, so a crash mid-write
  leaves the previous checkpoint intact. Loaded with `weights_only=True`: it cannot run code.
- `generator.safetensors` + `generator.json`: the networks `sample()` needs and the config to
  rebuild them; enough to sample with `ganthology sample` or `ganthology.load()`.
"""
from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import GanthologyError

FORMAT = "ganthology-checkpoint-1"
EXPORT_FORMAT = "ganthology-generator-1"


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), then rename tmp over path (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_checkpoint(path: Path, payload: dict) -> None:
    atomic_write(path, lambda tmp: torch.save({"format": FORMAT, **payload}, tmp))


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint safely, or raise a one-sentence GanthologyError."""
    path = Path(path)
    if not path.is_file():
        raise GanthologyError(f"checkpoint {path} does not exist.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GanthologyError(
            f"{path} is not a readable ganthology checkpoint (corrupt, truncated or unsafe: {first[:120]})."
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GanthologyError(f"{path} is not a ganthology checkpoint.")
    return ckpt


def export_generator(folder: Path, model, config: dict) -> None:
    """Write generator.safetensors and generator.json next to each other in `folder`."""
    tensors = {}
    for name in model.sampling_modules:
        for k, v in getattr(model, name).state_dict().items():
            tensors[f"{name}.{k}"] = v.detach().cpu().contiguous()
    meta = {"format": EXPORT_FORMAT, "model": model.name, "config": config, "data": model.data.to_dict()}
    atomic_write(folder / "generator.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    atomic_write(folder / "generator.json", lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))


def load_export(path: Path) -> tuple[dict, dict]:
    """(meta, tensors) of a generator export; `path` is the .safetensors or the .json."""
    st, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
    if not st.is_file() or not js.is_file():
        raise GanthologyError(f"an export needs both {st.name} and {js.name} in {path.parent}.")
    try:
        meta = json.loads(js.read_text())
        tensors = load_file(str(st))
    except (json.JSONDecodeError, SafetensorError, OSError) as e:
        raise GanthologyError(f"{path} is not a readable generator export ({type(e).__name__}).") from None
    if meta.get("format") != EXPORT_FORMAT:
        raise GanthologyError(f"{js} is not a ganthology generator export.")
    return meta, tensors
