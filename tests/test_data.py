"""The data layer: embedded and torchvision datasets, folders, and the resumable loader."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from ganthology import GanthologyError
from ganthology.data import InMemoryDataset, InMemoryLoader, build_dataset

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


@pytest.mark.parametrize("layout", ["cyclegan", "pytorch-gan"])
def test_unpaired_folder_in_both_layouts(tmp_path, layout):
    """trainA/ trainB/ testA/ testB/ (CycleGAN) or train/A ... (PyTorch-GAN): each domain keeps its
    own count and channels (grey A, colour B), and the test split is read when asked for."""
    def folder(split, d):
        return tmp_path / (f"{split}{d}" if layout == "cyclegan" else f"{split}/{d}")

    for split, n_a, n_b in (("train", 3, 5), ("test", 1, 2)):
        for d, n, mode, colour in (("A", n_a, "L", 0), ("B", n_b, "RGB", (255, 0, 0))):
            folder(split, d).mkdir(parents=True)
            for i in range(n):
                Image.new(mode, (40, 30), colour).save(folder(split, d) / f"{i}.png")
    ds = build_dataset(f"unpaired:{tmp_path}", image_size=16)
    assert ds.tensors["A"].shape == (3, 1, 16, 16) and ds.tensors["B"].shape == (5, 3, 16, 16)
    info = ds.info()
    assert info.groups == [("A",), ("B",)] and not info.paired and info.in_channels == 1 and info.channels == 3
    assert [info.parts[k].role for k in "AB"] == ["domain A", "domain B"]
    test = build_dataset(f"unpaired:{tmp_path}", image_size=16, train=False)
    assert (len(test.tensors["A"]), len(test.tensors["B"])) == (1, 2)
    swapped = build_dataset(f"unpaired:{tmp_path}", image_size=16, direction="BtoA")
    assert swapped.tensors["A"].shape == (5, 3, 16, 16)


def test_unpaired_folder_says_which_folders_it_needs(tmp_path):
    (tmp_path / "trainA").mkdir()
    with pytest.raises(GanthologyError, match="neither trainA/ and trainB/ nor train/A/ and train/B/"):
        build_dataset(f"unpaired:{tmp_path}")
    (tmp_path / "trainB").mkdir()
    with pytest.raises(GanthologyError, match="no images .* found in .*trainA"):
        build_dataset(f"unpaired:{tmp_path}")


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


def _numbered(n: int, offset: int = 0) -> torch.Tensor:
    """n tiny uint8 images whose pixels hold their index (plus offset), to read back from a batch."""
    return (torch.arange(n) + offset).to(torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def _indices(batch_images: torch.Tensor) -> list[int]:
    return ((batch_images[:, 0, 0, 0] + 1) * 127.5).round().long().tolist()


def test_unpaired_domains_have_their_own_lengths_shuffles_and_resume_positions():
    ds = InMemoryDataset("two", {"A": _numbered(10), "B": _numbered(25, 100)}, groups=[("A",), ("B",)],
                         roles={"A": "domain A", "B": "domain B"})
    info = ds.info()
    assert not info.paired and info.groups == [("A",), ("B",)]
    assert (info.parts["A"].role, info.parts["A"].length, info.parts["B"].length) == ("domain A", 10, 25)
    assert info.key("domain B") == "B" and info.parts["B"].shape == (1, 2, 2)

    loader = InMemoryLoader(ds, 5, seed=3)
    assert loader.steps_per_epoch == 5, "an epoch is one pass over the larger domain"
    batches = [loader.next() for _ in range(10)]
    a = [i for b in batches for i in _indices(b["A"])]
    b = [i - 100 for bt in batches for i in _indices(bt["B"])]
    assert sorted(b[:25]) == list(range(25)) and sorted(b[25:]) == list(range(25)), "each B epoch a permutation"
    for e in range(5):  # A runs through its own epochs of 2 batches each, 5 of them in 10 steps
        assert sorted(a[10 * e : 10 * e + 10]) == list(range(10))
    assert a[:10] != a[10:20], "each A epoch has its own shuffle"
    assert b[:10] != a[:10], "the domains are shuffled independently"
    assert (loader.epoch, loader.pos) == (1, 5)

    # stop after 7 steps and resume: the same 3 batches of both domains follow
    first = InMemoryLoader(ds, 5, seed=3)
    for _ in range(7):
        first.next()
    state = first.state_dict()
    assert state["groups"] == [[3, 1], [1, 2]]
    again = InMemoryLoader(ds, 5, seed=3)
    again.load_state_dict(state)
    for want in batches[7:]:
        got = again.next()
        assert torch.equal(got["A"], want["A"]) and torch.equal(got["B"], want["B"])


def test_one_group_keeps_the_order_it_always_had():
    """Adding groups changed nothing for ordinary data: the permutation formula of group 0 is the
    one every earlier run used (seed * 1_000_003 + epoch), so old runs resume to the same batches."""
    ds = build_dataset("digits")
    loader = InMemoryLoader(ds, 64, seed=5)
    loader.next()
    expected = torch.randperm(len(ds), generator=torch.Generator().manual_seed(5 * 1_000_003))[64:128]
    assert torch.equal(loader.next()["y"], ds.tensors["y"][expected])
    assert loader.state_dict() == {"epoch": 0, "pos": 2}


def test_a_domain_smaller_than_the_batch_is_named():
    ds = InMemoryDataset("two", {"A": _numbered(3), "B": _numbered(25)}, groups=[("A",), ("B",)])
    with pytest.raises(GanthologyError, match=r"its part A\) of 3 items; lower --batch-size"):
        InMemoryLoader(ds, 4)


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


# --- photographs and MNIST-M ----------------------------------------------------------------------
def test_packaged_photographs_are_real_colour_pictures():
    from ganthology.data.photos import photographs

    photos = photographs()
    assert len(photos) == 10
    for p in photos:
        assert p.dtype == torch.uint8 and p.shape[0] == 3 and min(p.shape[1:]) >= 256
        assert p.float().std() > 20, "a photograph, not a flat colour"


def test_mnistm_blend_inverts_the_photo_under_the_stroke():
    """Ganin et al.'s recipe: |patch - 255 * binarised digit|. On flat photos of one colour each,
    background pixels keep that colour and stroke pixels become 255 minus it."""
    from ganthology.data.photos import blend_digits

    digits = torch.zeros(50, 1, 4, 4, dtype=torch.uint8)
    digits[:, :, 1:3, 1:3] = 7  # any non-zero value is stroke
    photos = [torch.tensor([10, 100, 200], dtype=torch.uint8).view(3, 1, 1).expand(3, 9, 9).clone(),
              torch.tensor([250, 0, 60], dtype=torch.uint8).view(3, 1, 1).expand(3, 6, 5).clone()]
    out = blend_digits(digits, photos, seed=0)
    assert out.shape == (50, 3, 4, 4)
    colours = {tuple(c.tolist()) for c in out[:, :, 0, 0]}
    assert colours == {(10, 100, 200), (250, 0, 60)}, "both photographs are used"
    for img in out:
        c = img[:, 0, 0].int()
        assert torch.equal(img[:, 1, 1].int(), 255 - c) and torch.equal(img[:, 3, 3].int(), c)
    assert torch.equal(out, blend_digits(digits, photos, seed=0)) and not torch.equal(out, blend_digits(digits, photos, seed=1))


@needs_mnist
def test_mnistm_is_built_once_from_mnist_and_cached(tmp_path, monkeypatch):
    import ganthology.data.photos as photos

    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path))
    test = build_dataset("mnistm", DATA_ROOT, train=False)
    mnist = build_dataset("mnist", DATA_ROOT, train=False)
    assert test.tensors["x"].shape == (10_000, 3, 32, 32) and test.tensors["x"].dtype == torch.uint8
    assert torch.equal(test.tensors["y"], mnist.tensors["y"]), "each image keeps its digit's label"
    cached = tmp_path / "datasets" / f"mnistm-like-v{photos.MNISTM_VERSION}-test.pt"
    assert cached.is_file()
    monkeypatch.setattr(photos, "blend_digits", lambda *a, **k: pytest.fail("rebuilt instead of read from the cache"))
    assert torch.equal(build_dataset("mnistm", DATA_ROOT, train=False).tensors["x"], test.tensors["x"])
    monkeypatch.undo()
    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path))
    cached.write_bytes(b"damaged")  # a broken cache is rebuilt to the same images
    assert torch.equal(build_dataset("mnistm", DATA_ROOT, train=False).tensors["x"], test.tensors["x"])


@needs_mnist
def test_mnist2mnistm_is_two_unpaired_domains(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path))
    ds = build_dataset("mnist2mnistm", DATA_ROOT, train=False)
    info = ds.info()
    assert info.groups == [("A", "y"), ("B", "y_B")] and not info.paired
    assert (info.in_channels, info.channels, info.image_size) == (1, 3, 32)
    assert info.key("domain A") == "A" and info.key("domain B") == "B"
    batch = InMemoryLoader(ds, 16, seed=0).next()
    assert set(batch) == {"A", "y", "B", "y_B"} and batch["B"].shape == (16, 3, 32, 32)
    assert not torch.equal(batch["y"], batch["y_B"]), "the domains are drawn independently"


def test_photo_sr_holds_out_whole_photographs_and_pairs_each_crop_with_its_x4_copy(monkeypatch):
    from ganthology.data.photos import SR_HELD_OUT, bicubic_downscale

    train, test = build_dataset("photo_sr"), build_dataset("photo_sr", train=False)
    assert train.tensors["x"].shape == (4000, 3, 96, 96) and train.tensors["lr"].shape == (4000, 3, 24, 24)
    assert test.tensors["x"].shape[1:] == (3, 96, 96) and len(test) >= 20
    assert torch.equal(test.tensors["lr"], bicubic_downscale(test.tensors["x"], 4))
    info = train.info()
    assert info.parts["lr"].role == "low-resolution input" and info.groups == [("x", "lr")]
    assert (info.channels, info.image_size) == (3, 96)
    assert torch.equal(build_dataset("photo_sr").tensors["x"][:5], train.tensors["x"][:5]), "from a fixed seed"
    # no training crop comes from a held-out photograph: with each photograph painted one grey
    # level of its own, the training crops show only the levels of the other eight
    import ganthology.data.photos as photos_mod

    flat = [torch.full((3, 300, 400), 10 * i, dtype=torch.uint8) for i in range(10)]
    names = photos_mod.SKIMAGE_PHOTOS + photos_mod.SKLEARN_PHOTOS
    held_levels = {10 * names.index(n) for n in SR_HELD_OUT}
    monkeypatch.setattr(photos_mod, "photographs", lambda: flat)
    levels_train = set(build_dataset("photo_sr").tensors["x"][:, 0, 0, 0].tolist())
    levels_test = set(build_dataset("photo_sr", train=False).tensors["x"][:, 0, 0, 0].tolist())
    assert levels_test == held_levels and len(levels_train) == 8 and not levels_train & held_levels
    with pytest.raises(GanthologyError, match="multiple of 4"):
        build_dataset("photo_sr", image_size=30)


def test_digit_attrs_are_exact_known_transformations_of_real_digits():
    """Each attribute is a known transformation, so every translation has an exact ground truth:
    apply_digit_attributes(base, target) for any target vector."""
    from ganthology.data.embedded import DIGIT_ATTRIBUTES, apply_digit_attributes

    train, test = build_dataset("digit_attrs"), build_dataset("digit_attrs", train=False)
    assert train.tensors["x"].shape == (2 * 1497, 3, 32, 32) and test.tensors["x"].shape == (300, 3, 32, 32)
    info = test.info()
    assert info.attributes == DIGIT_ATTRIBUTES == ["thick", "red", "inverted"]
    assert info.parts["attr"].role == "attributes" and info.parts["base"].role == "source" and "base" not in train.tensors
    base, attr = test.tensors["base"], test.tensors["attr"]
    assert torch.equal(apply_digit_attributes(base, attr), test.tensors["x"])
    assert 0.35 < float(attr.mean()) < 0.65 and len({tuple(a) for a in attr.tolist()}) == 8, "all 8 combinations"
    # what each attribute does, on one digit: thick adds stroke pixels, red drops green on the
    # stroke, inverted turns the background white
    b = base[:1]
    plain, thick, red, inv = (apply_digit_attributes(b, torch.tensor([a])) for a in
                              ([0.0, 0, 0], [1.0, 0, 0], [0.0, 1, 0], [0.0, 0, 1]))
    assert (thick > 0).sum() > (plain > 0).sum()
    stroke = plain[0, 0] > 128
    assert (red[0, 0][stroke].float().mean() > 128) and (red[0, 1][stroke].float().mean() < 40)
    assert torch.equal(inv, 255 - plain) and plain[0, :, 0, 0].tolist() == [0, 0, 0]


def _noise_folder(folder, n: int, size: int = 24, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = torch.randint(0, 256, (size, size + 6, 3), generator=g, dtype=torch.uint8).numpy()
        Image.fromarray(img).save(folder / f"{i:04d}.png")
    return folder


def test_a_folder_too_large_for_memory_is_memory_mapped_from_a_disk_cache(tmp_path, monkeypatch):
    """Above the in-memory limit a folder is decoded once into a uint8 cache file and mapped: the same
    images as the in-memory path, a second build reuses the file, and the loader reads it the same."""
    folder = _noise_folder(tmp_path / "imgs", 40)
    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path / "cache"))
    in_memory = build_dataset(f"folder:{folder}", image_size=16).tensors["x"]
    assert not (tmp_path / "cache" / "datasets").exists()
    monkeypatch.setenv("GANTHOLOGY_IN_MEMORY_MAX", "1000")  # 40 x 3 x 16 x 16 bytes is more
    mapped = build_dataset(f"folder:{folder}", image_size=16).tensors["x"]
    cached = list((tmp_path / "cache" / "datasets").glob("folder-*.npy"))
    assert len(cached) == 1 and cached[0].stat().st_size >= in_memory.numel()
    assert torch.equal(mapped, in_memory)
    stamp = cached[0].stat().st_mtime_ns
    again = build_dataset(f"folder:{folder}", image_size=16)
    assert cached[0].stat().st_mtime_ns == stamp, "decoded once"
    a = InMemoryLoader(again, 8, seed=3)
    b = InMemoryLoader(InMemoryDataset("m", {"x": in_memory}), 8, seed=3)
    for _ in range(7):
        assert torch.equal(a.next()["x"], b.next()["x"])
    (folder / "0000.png").unlink()  # the folder changed: a new cache, not stale images
    assert len(build_dataset(f"folder:{folder}", image_size=16)) == 39
    assert len(list((tmp_path / "cache" / "datasets").glob("folder-*.npy"))) == 2


def test_training_on_a_memory_mapped_folder_resumes_exactly(tmp_path, monkeypatch):
    import ganthology

    folder = _noise_folder(tmp_path / "imgs", 32)
    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANTHOLOGY_IN_MEMORY_MAX", "1000")
    kw = dict(dataset=f"folder:{folder}", image_size=16, batch_size=8, progress=False, sample_every=100,
              channels_last=False)
    whole = ganthology.train_model("dcgan", steps=6, out=str(tmp_path / "whole"), **kw)
    half = ganthology.train_model("dcgan", steps=3, out=str(tmp_path / "half"), **kw)
    ganthology.train_model("dcgan", resume=half, steps=6)
    w, h = ganthology.load(whole), ganthology.load(half)
    for (k, p), q in zip(w.state_dict().items(), h.state_dict().values()):
        assert torch.equal(p, q), k


def test_celeba_above_the_in_memory_limit_is_mapped_from_the_cache_with_the_same_faces(tmp_path, monkeypatch):
    from .test_stargan import celeba_fixture

    root = celeba_fixture(tmp_path, n=24)
    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path / "cache"))
    in_memory = build_dataset(f"celeba:{root}", image_size=16)
    monkeypatch.setenv("GANTHOLOGY_IN_MEMORY_MAX", "100")
    mapped = build_dataset(f"celeba:{root}", image_size=16)
    assert list((tmp_path / "cache" / "datasets").glob("folder-*.npy"))
    assert torch.equal(mapped.tensors["x"], in_memory.tensors["x"])
    assert torch.equal(mapped.tensors["attr"], in_memory.tensors["attr"])
