"""Checkpoints and generator exports.

- `checkpoints/last.pt` (torch.save): everything a run needs to continue exactly: the resolved
  config, all networks and buffers, optimizers, mixed-precision scaler, step, every rank's RNG
  states, the data position and the seconds trained (which a resumed `--minutes` run goes on
  counting). Written to a temporary file, flushed to disk and renamed, then the
  folder is synced, so a crash or a full disk mid-write leaves the previous checkpoint intact.
  Loaded with `weights_only=True`: it cannot run code.
- `generator.safetensors` + `generator.json`: the networks `sample()` needs and the config to
  rebuild them; enough to sample with `ganthology sample` or `ganthology.load()`.

Both carry a SHA-256 digest of their contents, taken when they were written and checked when they
are read, so a file whose bytes changed since (a flipped bit, a partial copy) is refused instead of
loading as silently different weights.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import GanthologyError

FORMAT = "ganthology-checkpoint-1"
EXPORT_FORMAT = "ganthology-generator-1"
#: what a checkpoint must hold for load() and resume; anything else is not one of ours
CHECKPOINT_KEYS = {"model": str, "config": dict, "data": dict, "step": int, "world_size": int, "state": dict,
                   "optimizers": dict, "rng": dict, "loader": dict}


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), flush it to disk, rename tmp over path (atomic on POSIX) and sync the
    folder, so that `path` holds either its old bytes or all of the new ones. A write that fails (no
    space, no permission) leaves the old file untouched and raises one sentence saying so."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else str(e)
        kept = "the previous file is intact" if path.exists() else "nothing was written"
        hint = "free some space" if e.errno == errno.ENOSPC else "check the folder's permissions and space"
        raise GanthologyError(f"could not write {path} ({reason}); {kept}: {hint} and try again.") from None
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass


def writable(path: str | Path, folder: bool) -> None:
    """Refuse, before any work, an output path that cannot be written: its folder (the path itself
    when `folder`) must take a file. Folders made to find out are removed again, so a command that
    stops later leaves nothing behind."""
    import tempfile

    d = Path(path) if folder else Path(path).parent
    made = [p for p in (d, *d.parents) if not p.exists()]  # the missing ones, deepest first
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as e:
        raise GanthologyError(f"cannot write to {d} ({e.strerror or e}); choose another path.") from None
    finally:
        for p in made:
            try:
                p.rmdir()
            except OSError:
                break


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems do not sync folders; the rename itself has happened
        pass
    finally:
        os.close(fd)


def digest(obj) -> str:
    """SHA-256 of a checkpoint's contents: tensors by dtype, shape and bytes, everything else by a
    canonical text form, walked in key order. Equal contents give equal digests on any machine."""
    h = hashlib.sha256()

    def walk(o):
        if isinstance(o, torch.Tensor):
            t = o.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(o, dict):
            h.update(b"{")
            for k in sorted(o, key=repr):
                h.update(repr(k).encode())
                walk(o[k])
            h.update(b"}")
        elif isinstance(o, (list, tuple)):
            h.update(b"[" if isinstance(o, list) else b"(")
            for v in o:
                walk(v)
            h.update(b"]")
        else:
            h.update(repr(o).encode())

    walk(obj)
    return h.hexdigest()


def save_checkpoint(path: Path, payload: dict) -> None:
    ckpt = {"format": FORMAT, **payload}
    ckpt["sha256"] = digest(ckpt)
    atomic_write(path, lambda tmp: torch.save(ckpt, tmp))


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint safely and check it is the one that was written, or raise a one-sentence
    GanthologyError (whatever the bytes are: junk, truncated, bit-flipped, a pickle of something else)."""
    path = Path(path)
    if not path.is_file():
        raise GanthologyError(f"checkpoint {path} does not exist.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise GanthologyError(f"{path} is not a readable ganthology checkpoint (it asks for more memory than "
                              "there is: corrupt or not a checkpoint).") from None
    except Exception as e:  # noqa: BLE001 -- any bytes at all may arrive here; each failure is one sentence
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GanthologyError(
            f"{path} is not a readable ganthology checkpoint (corrupt, truncated or unsafe: {first[:120]})."
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GanthologyError(f"{path} is not a ganthology checkpoint.")
    wrong = [k for k, t in CHECKPOINT_KEYS.items() if not isinstance(ckpt.get(k), t)]
    if wrong:
        raise GanthologyError(f"{path} is an incomplete ganthology checkpoint (no valid {wrong[0]!r}); "
                              "use another checkpoint of the run.")
    stored = ckpt.pop("sha256", None)
    if stored is not None and stored != digest(ckpt):
        raise GanthologyError(f"{path} changed after it was written (its checksum does not match): the file is "
                              "damaged; use another checkpoint of the run (checkpoints/step_*.pt).")
    return ckpt


def export_generator(folder: Path, model, config: dict) -> None:
    """Write generator.safetensors and generator.json next to each other in `folder`; the JSON holds
    the digest of the tensors, so a damaged or mismatched pair is refused when loaded."""
    tensors = {}
    for name in model.sampling_modules:
        for k, v in getattr(model, name).state_dict().items():
            tensors[f"{name}.{k}"] = v.detach().cpu().contiguous()
    meta = {"format": EXPORT_FORMAT, "model": model.name, "config": config, "data": model.data.to_dict(),
            "sha256": digest(tensors)}
    atomic_write(folder / "generator.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    atomic_write(folder / "generator.json", lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))


def load_export(path: Path) -> tuple[dict, dict]:
    """(meta, tensors) of a generator export, checked; `path` is the .safetensors or the .json."""
    st, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
    if not st.is_file() or not js.is_file():
        raise GanthologyError(f"an export needs both {st.name} and {js.name} in {path.parent}.")
    try:
        meta = json.loads(js.read_text())
        tensors = load_file(str(st))
    except MemoryError:
        raise GanthologyError(f"{path} is not a readable generator export (corrupt sizes).") from None
    except Exception as e:  # noqa: BLE001 -- junk of any kind: one sentence
        raise GanthologyError(f"{path} is not a readable generator export ({type(e).__name__}).") from None
    if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT:
        raise GanthologyError(f"{js} is not a ganthology generator export.")
    if not (isinstance(meta.get("model"), str) and isinstance(meta.get("config"), dict)
            and isinstance(meta["config"].get("model_config"), dict) and isinstance(meta.get("data"), dict)):
        raise GanthologyError(f"{js} is an incomplete generator export (model, config or data missing).")
    if "sha256" in meta and meta["sha256"] != digest(tensors):
        raise GanthologyError(f"{st} changed after it was exported (its checksum does not match {js.name}): "
                              "the file is damaged or from another export.")
    return meta, tensors
