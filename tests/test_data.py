"""The data layer: embedded and torchvision datasets, folders, and the resumable loader."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from ganthology import GanthologyError
from ganthology.data import InMemoryLoader, build_dataset

from .conftest import DATA_ROOT, needs_mnist


def test_digits_are_real_and_labelled():
    ds = build_dataset("digits")
    x, y = ds.tensors["x"], ds.tensors["y"]
    assert x.shape == (1797, 1, 16, 16) and x.dtype == torch.uint8
    assert y.bincount().tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert ds.info().num_classes == 10


def test_edges2digits_pairs():
    ds = build_dataset("edges2digits")
    A, B = ds.tensors["A"], ds.tensors["B"]
    assert A.shape == B.shape == (1497, 1, 32, 32)
    assert len(build_dataset("edges2digits", train=False)) == 300
    assert set(A.unique().tolist()) == {0, 255}, "A is a binary edge map"
    assert 0.05 < (A > 0).float().mean() < 0.5
    assert B[A > 0].float().mean() > 1.3 * B.float().mean(), "edges outline the strokes of B"
    assert ds.info().paired


@needs_mnist
def test_mnist_from_the_data_root():
    ds = build_dataset("mnist", DATA_ROOT)
    assert ds.tensors["x"].shape == (60000, 1, 32, 32) and len(ds.tensors["y"]) == 60000
    test = build_dataset("mnist", DATA_ROOT, image_size=28, train=False)
    assert test.tensors["x"].shape == (10000, 1, 28, 28)


def test_missing_dataset_offline_says_what_to_do(tmp_path):
    with pytest.raises(GanthologyError, match="--data-root"):
        build_dataset("fashion_mnist", str(tmp_path))
    with pytest.raises(GanthologyError, match="unknown dataset"):
        build_dataset("imagenet", str(tmp_path))


def test_image_folder_with_classes(tmp_path):
    for cls, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (40, 30), colour).save(tmp_path / cls / f"{i}.jpg")
    ds = build_dataset(f"folder:{tmp_path}", image_size=16)
    assert ds.tensors["x"].shape == (6, 3, 16, 16) and ds.classes == ["cats", "dogs"]
    assert ds.tensors["y"].tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.tensors["x"][0, 0].float().mean() > 200 and ds.tensors["x"][3, 2].float().mean() > 200
    (tmp_path / "dogs" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(GanthologyError, match="broken.png"):
        build_dataset(f"folder:{tmp_path}", image_size=16)


def test_paired_folder(tmp_path):
    (tmp_path / "train").mkdir()
    for i in range(2):
        img = Image.new("RGB", (64, 32), (0, 0, 0))
        img.paste((255, 255, 255), (32, 0, 64, 32))  # B half white
        img.save(tmp_path / "train" / f"{i}.png")
    ds = build_dataset(f"paired:{tmp_path}", image_size=16)
    assert ds.tensors["A"].max() == 0 and ds.tensors["B"].min() == 255
    ds = build_dataset(f"paired:{tmp_path}", image_size=16, direction="BtoA")
    assert ds.tensors["A"].min() == 255
    Image.new("RGB", (50, 32)).save(tmp_path / "train" / "odd.png")
    with pytest.raises(GanthologyError, match="twice as wide"):
        build_dataset(f"paired:{tmp_path}", image_size=16)


def test_loader_covers_each_epoch_once_and_resumes():
    ds = build_dataset("digits")
    a = InMemoryLoader(ds, 100, seed=1)
    seen = torch.cat([a.next()["y"] for _ in range(a.steps_per_epoch)])
    assert seen.bincount().sum() == 1700  # 17 full batches, the remainder dropped
    batches = [a.next() for _ in range(5)]
    b = InMemoryLoader(ds, 100, seed=1)
    b.load_state_dict({"epoch": 1, "pos": 0})
    for want in batches:
        got = b.next()
        assert torch.equal(got["x"], want["x"]) and torch.equal(got["y"], want["y"])
    x = batches[0]["x"]
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1


def test_ranks_read_disjoint_slices():
    ds = build_dataset("digits")
    r0, r1 = InMemoryLoader(ds, 50, seed=0, rank=0, world_size=2), InMemoryLoader(ds, 50, seed=0, rank=1, world_size=2)
    x0, x1 = r0.next()["x"], r1.next()["x"]
    assert not any(torch.equal(u, v) for u in x0 for v in x1)


def test_batch_larger_than_dataset():
    with pytest.raises(GanthologyError, match="--batch-size"):
        InMemoryLoader(build_dataset("digits"), 5000)


@needs_mnist
def test_download_path_on_a_local_mirror(tmp_path, monkeypatch):
    """The real download code (torchvision's, called by ours when a copy is absent and downloads
    are allowed) fetches MNIST from a mirror: here an HTTP server on localhost that serves gzipped
    copies of the local raw files. A mirror that does not answer gives one clear sentence."""
    import functools
    import gzip
    import hashlib
    import http.server
    import threading
    from pathlib import Path

    import torchvision

    served = tmp_path / "mirror"
    served.mkdir()
    resources = []
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        gz = served / f"{name}.gz"
        gz.write_bytes(gzip.compress((Path(DATA_ROOT) / "MNIST" / "raw" / name).read_bytes(), mtime=0))
        resources.append((gz.name, hashlib.md5(gz.read_bytes()).hexdigest()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("GANTHOLOGY_OFFLINE", "0")
        monkeypatch.setattr(torchvision.datasets.MNIST, "resources", resources)
        monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [f"http://127.0.0.1:{server.server_port}/"])
        ds = build_dataset("mnist", str(tmp_path / "root"), train=False)
        assert len(ds) == 10000 and (tmp_path / "root" / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
        monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens
        with pytest.raises(GanthologyError, match="downloading it failed"):
            build_dataset("mnist", str(tmp_path / "elsewhere"))
    finally:
        server.shutdown()
