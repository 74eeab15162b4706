"""Every file a user can hand us is fuzzed (Hypothesis): checkpoints, generator exports (safetensors
and JSON), YAML configs, images, .npz files and image folders. Random bytes, truncations at every
size, bit flips of real files, valid containers of the wrong content and absurd shapes: each gives
a GanthologyError (one sentence on the command line) and nothing half-written, never another
exception. The numbers of cases are in docs/reliability.md."""
from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import save_file

import ganthology
from ganthology.api import prepare_run, read_model_inputs
from ganthology.data import build_dataset
from ganthology.data.masks import read_mask
from ganthology.errors import GanthologyError
from ganthology.metrics.evaluate import load_images
from ganthology.train.checkpoint import digest, load_checkpoint, save_checkpoint

from .conftest import run_cli, tiny

CASES = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real run of a model that takes images (pix2pix), to damage its files."""
    return ganthology.train_model("pix2pix", out=str(tmp_path_factory.mktemp("fuzz") / "run"), steps=2,
                                  dataset="edges2digits", progress=False, sample_every=1000, **tiny("pix2pix"))


def _refused(fn, *args, **kwargs):
    """fn either works or raises GanthologyError whose message is one line; nothing else."""
    try:
        fn(*args, **kwargs)
    except GanthologyError as e:
        assert "\n" not in str(e), str(e)
        return True
    return False


def _scratch(suffix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="fuzz-"))
    return d / f"input{suffix}"


# --- values of any shape for "valid containers of the wrong content" ------------------------------
leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                   st.text(max_size=20), st.builds(lambda s: torch.zeros(s), st.lists(st.integers(0, 4), max_size=3)))
values = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


def _damaged(good: bytes):
    """Random bytes, a truncation of `good` at any size, or `good` with a few bits flipped."""
    return st.one_of(
        st.binary(max_size=4096),
        st.integers(0, len(good) - 1).map(lambda n: good[:n]),
        st.lists(st.tuples(st.integers(0, len(good) - 1), st.integers(0, 7)), min_size=1, max_size=4).map(
            lambda flips: _flip(good, flips)),
    )


def _flip(good: bytes, flips) -> bytes:
    b = bytearray(good)
    for at, bit in flips:
        b[at] ^= 1 << bit
    return bytes(b)


# --- checkpoints ------------------------------------------------------------------------------------
def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_damaged_checkpoints_are_refused(run):
    """A damaged file is refused, or (a flip in the zip container's bookkeeping that changes nothing
    it holds) loads the very weights that were written: never different ones."""
    good = (run / "checkpoints" / "last.pt").read_bytes()
    original = ganthology.load(run / "checkpoints" / "last.pt")

    @CASES
    @given(data=_damaged(good))
    def case(data):
        p = _scratch(".pt")
        p.write_bytes(data)
        try:
            loaded = ganthology.load(p)
        except GanthologyError as e:
            assert "\n" not in str(e)
        else:
            assert _same_weights(loaded, original), "a changed checkpoint loaded as different weights"
        shutil.rmtree(p.parent)

    case()


def test_checkpoints_of_the_wrong_content_are_refused(run):
    real = load_checkpoint(run / "checkpoints" / "last.pt")
    keys = sorted(real)

    @CASES
    @given(key=st.sampled_from(keys + ["config.model_config", "config.model_config.ngf", "data.parts", "data.channels"]),
           value=values, whole=st.booleans())
    def case(key, value, whole):
        p = _scratch(".pt")
        if whole:  # a torch file of anything at all
            torch.save(value, p)
        else:  # a real checkpoint with one part replaced, and a digest that matches (made by someone else)
            ckpt = {k: v for k, v in real.items()}
            ckpt["config"] = json.loads(json.dumps(real["config"]))
            ckpt["data"] = json.loads(json.dumps(real["data"]))
            *path, last = key.split(".")
            node = ckpt
            for k in path:
                node = node[k]
            node[last] = value
            save_checkpoint(p, {k: v for k, v in ckpt.items() if k != "format"})
        _refused(ganthology.load, p)  # loads, or one sentence
        shutil.rmtree(p.parent)

    case()


# --- generator exports ------------------------------------------------------------------------------
def test_damaged_exports_are_refused(run):
    st_good = (run / "generator.safetensors").read_bytes()
    js_good = (run / "generator.json").read_text()
    original = ganthology.load(run / "generator.safetensors")

    @CASES
    @given(which=st.sampled_from(["safetensors", "json"]), data=_damaged(st_good), text=st.text(max_size=400),
           meta=values)
    def case(which, data, text, meta):
        p = _scratch(".safetensors")
        p.write_bytes(st_good)
        p.with_suffix(".json").write_text(js_good)
        if which == "safetensors":
            p.write_bytes(data)
            changed = data != st_good
        else:
            p.with_suffix(".json").write_text(text if meta is None else json.dumps(meta, default=str))
            changed = True
        try:
            loaded = ganthology.load(p)
        except GanthologyError as e:
            assert "\n" not in str(e)
        else:  # unchanged, or a change that alters nothing it holds (whitespace in the JSON, ...)
            assert not changed or _same_weights(loaded, original), "a changed export loaded as different weights"
        shutil.rmtree(p.parent)

    case()


def test_exports_of_the_wrong_tensors_are_refused(run):
    meta = json.loads((run / "generator.json").read_text())

    @CASES
    @given(tensors=st.dictionaries(st.sampled_from(["G.down.0.weight", "G.x", "D.y", "G.up.0.bias"]),
                                   st.lists(st.integers(0, 5), max_size=4), min_size=1, max_size=4),
           with_digest=st.booleans())
    def case(tensors, with_digest):
        p = _scratch(".safetensors")
        t = {k: torch.zeros(shape) for k, shape in tensors.items()}
        save_file(t, str(p))
        p.with_suffix(".json").write_text(json.dumps({**meta, "sha256": digest(t) if with_digest else "0" * 64}))
        assert _refused(ganthology.load, p)
        shutil.rmtree(p.parent)

    case()


# --- YAML configs ---------------------------------------------------------------------------------
yaml_like = st.one_of(
    st.text(max_size=300),
    st.dictionaries(st.sampled_from(["lr", "batch_size", "steps", "ngf", "dataset", "train", "model", "beta1",
                                     "image_size", "x"]), values, max_size=5).map(
        lambda d: json.dumps(d, default=str)),  # JSON is YAML
)


@CASES
@given(text=yaml_like)
def test_yaml_configs_of_any_content_give_a_run_or_one_sentence(text):
    p = _scratch(".yaml")
    p.write_text(text)
    _refused(prepare_run, "dcgan", {"out": str(p.parent / "run")}, config_file=str(p))
    assert not (p.parent / "run" / "checkpoints").exists()
    shutil.rmtree(p.parent)


# --- images -----------------------------------------------------------------------------------------
def _png(w, h, mode) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h)).save(buf, format="PNG" if mode != "CMYK" else "JPEG")
    return buf.getvalue()


GOOD_PNG = _png(32, 32, "L")
images = st.one_of(
    _damaged(GOOD_PNG),
    st.tuples(st.integers(1, 3000), st.integers(1, 3000), st.sampled_from(["L", "RGB", "RGBA", "P", "1", "I;16", "CMYK"]))
    .filter(lambda t: t[0] * t[1] <= 4_000_000).map(lambda t: _png(*t)),
)


def test_images_of_any_bytes_and_shape_are_read_or_refused(run):
    model = ganthology.load(run)

    @CASES
    @given(data=images, resize=st.booleans())
    def case(data, resize):
        p = _scratch(".png")
        p.write_bytes(data)
        _refused(read_model_inputs, model, p, resize=resize)  # sample/translate/upscale/invert --input
        _refused(read_mask, p, 32)  # inpaint --mask
        shutil.rmtree(p.parent)

    case()


def test_translate_and_sample_leave_nothing_half_written(run, tmp_path):
    """Through the command line: a folder with one bad image among good ones writes nothing."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes(GOOD_PNG)
    (folder / "b.png").write_bytes(GOOD_PNG[: len(GOOD_PNG) // 2])
    r = run_cli("translate", str(run), "--input", str(folder), "--out", str(tmp_path / "out"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not list((tmp_path / "out").rglob("*.png"))


# --- .npz and folders for eval, dataset folders ---------------------------------------------------------
arrays = st.builds(
    lambda dtype, shape: np.zeros(shape, dtype=dtype),
    st.sampled_from([np.uint8, np.float32, np.int64, np.bool_, np.float16]),
    st.lists(st.integers(0, 40), max_size=5),
)


@CASES
@given(kind=st.sampled_from(["bytes", "arrays"]), data=st.binary(max_size=2048),
       arrs=st.dictionaries(st.sampled_from(["images", "x", "arr_0"]), arrays, max_size=3))
def test_npz_files_of_any_content_are_read_or_refused(kind, data, arrs):
    p = _scratch(".npz")
    if kind == "bytes":
        p.write_bytes(data)
    else:
        np.savez(p, **arrs)
    _refused(load_images, p)
    shutil.rmtree(p.parent)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(files=st.lists(images, min_size=1, max_size=4), layout=st.sampled_from(["folder", "paired", "unpaired", "eval"]))
def test_image_folders_of_any_content_are_read_or_refused(files, layout):
    root = _scratch("").parent
    sub = {"paired": ["train"], "unpaired": ["trainA", "trainB"]}.get(layout, ["imgs"])
    for i, data in enumerate(files):  # spread over the layout's folders
        folder = root / sub[i % len(sub)]
        folder.mkdir(exist_ok=True)
        (folder / f"{i}.png").write_bytes(data)
    if layout == "eval":
        _refused(load_images, root / "imgs")
    else:
        spec = f"folder:{root / 'imgs'}" if layout == "folder" else f"{layout}:{root}"
        _refused(build_dataset, spec, None, 16)
    shutil.rmtree(root)


def test_an_image_that_claims_absurd_dimensions_is_refused(tmp_path):
    """A PNG header that claims 60,000 x 60,000 pixels (3.6 gigapixels: past Pillow's decompression-bomb
    limit), and one that claims 1 x 40,000,000 with no data behind it."""
    import struct
    import zlib

    from ganthology.data.folders import read_image

    def claim(w, h):
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
        chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(  # noqa: E731
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")

    (tmp_path / "big.png").write_bytes(claim(60_000, 60_000))
    with pytest.raises(GanthologyError, match="cannot read"):
        read_image(tmp_path / "big.png")
    (tmp_path / "long.png").write_bytes(claim(1, 40_000_000))  # within the limit: read (as zeros) or refused
    _refused(read_image, tmp_path / "long.png")
