"""Your own images: a folder of images, a folder of aligned pairs in the pix2pix layout, and two
unpaired domains in the CycleGAN or PyTorch-GAN layout.

Images are decoded with Pillow (torchvision's image backend; torchvision.io's decoders are
deprecated since 0.29) and turned into tensors by torchvision, centre-cropped to a square and
resized once, into uint8. A folder small enough is kept in memory; a larger one (CelebA is 202,599
images, 10 GB at 128x128) is decoded once, image by image, into a uint8 file under the cache
directory and memory-mapped, so a batch reads only its own images from disk (and the page cache)
and the loader, its shuffles and its exact resume are the same.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, UnidentifiedImageError

from ..errors import GanthologyError
from .core import InMemoryDataset, cache_dir, resize_uint8

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def read_image(path: Path, mode: str | None = None) -> torch.Tensor:
    """One image as uint8 (C, H, W); `mode` "L" (grey) or "RGB" converts. A file that is not an
    image gets a clear error."""
    try:
        with Image.open(path) as img:
            img = img.convert(mode) if mode else (img if img.mode in ("L", "RGB") else img.convert("RGB"))
            return TF.pil_to_tensor(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, MemoryError, Image.DecompressionBombError) as e:
        # SyntaxError: some of Pillow's decoders report a malformed header with it; a decompression
        # bomb claims more pixels than Pillow's limit (179 million)
        raise GanthologyError(f"cannot read {path} as an image ({type(e).__name__}); remove or replace it.") from None


def _square(img: torch.Tensor, size: int) -> torch.Tensor:
    side = min(img.shape[-2:])
    return resize_uint8(TF.center_crop(img, [side, side]).unsqueeze(0), size)[0]


def _existing_folder(path: str) -> Path:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise GanthologyError(f"image folder {folder} does not exist; give the path of a folder of images.")
    return folder


def check_direction(direction: str) -> None:
    """paired:PATH, unpaired:PATH and two-domain models' translate take the same direction."""
    if direction not in ("AtoB", "BtoA"):
        raise GanthologyError(f"direction must be AtoB or BtoA, not {direction!r}.")


def _mode_for(paths: list[Path]) -> str:
    """RGB unless every one of the first images is greyscale."""
    probe = [read_image(p).shape[0] for p in paths[:32]]
    return "L" if all(c == 1 for c in probe) else "RGB"


def in_memory_limit() -> int:
    """Decoded bytes up to which a folder is kept in memory: $GANTHOLOGY_IN_MEMORY_MAX (bytes),
    default 2 GiB; above it the folder is decoded into a memory-mapped cache file."""
    return int(os.environ.get("GANTHOLOGY_IN_MEMORY_MAX") or 2 * 2**30)


def decode_images(paths: list[Path], mode: str, image_size: int, crop=None) -> torch.Tensor:
    """uint8 (N, C, S, S) of the files `paths`, each read as `mode`, cropped by `crop` (default:
    the centre square) and resized to S = image_size. In memory when it fits `in_memory_limit()`,
    else a memory-mapped array decoded once into the cache (keyed by the files, their sizes and
    modification times, and the settings), written atomically so an interrupted build is redone."""
    crop = crop or _square
    c = 1 if mode == "L" else 3
    shape = (len(paths), c, image_size, image_size)
    if int(np.prod(shape)) <= in_memory_limit():
        return torch.stack([crop(read_image(p, mode), image_size) for p in paths])
    key = hashlib.sha256(repr((mode, image_size, getattr(crop, "__qualname__", str(crop)))).encode())
    for p in paths:
        st = p.stat()
        key.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    target = cache_dir() / "datasets" / f"folder-{key.hexdigest()[:20]}-{image_size}{mode}.npy"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}.npy")
        with open(tmp, "wb") as f:  # a .npy header, then one image at a time: memory stays flat
            np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": shape})
            for p in paths:
                f.write(crop(read_image(p, mode), image_size).numpy().tobytes())
        os.replace(tmp, target)
    # copy-on-write mapping: writable for torch, the file itself is never changed
    return torch.from_numpy(np.load(target, mmap_mode="c"))


def image_folder(path: str, image_size: int) -> InMemoryDataset:
    """Every image under `path`. Images in sub-folders (`path/cat/*.jpg`, `path/dog/*.jpg`, the
    torchvision ImageFolder layout) get the sub-folder as class label."""
    folder = _existing_folder(path)
    paths = list_images(folder)
    if not paths:
        raise GanthologyError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found under {folder}.")
    mode = _mode_for(paths)
    classes = sorted({p.parent.relative_to(folder).as_posix() for p in paths} - {"."})
    tensors = {"x": decode_images(paths, mode, image_size)}
    if len(classes) > 1 and all(p.parent != folder for p in paths):
        index = {c: i for i, c in enumerate(classes)}
        tensors["y"] = torch.tensor([index[p.parent.relative_to(folder).as_posix()] for p in paths])
        return InMemoryDataset(f"folder:{folder}", tensors, num_classes=len(classes), classes=classes)
    return InMemoryDataset(f"folder:{folder}", tensors)


def paired_folder(path: str, image_size: int, direction: str = "AtoB", train: bool = True) -> InMemoryDataset:
    """Aligned pairs stored as one image each, A on the left and B on the right (the layout of the
    pix2pix datasets such as facades or edges2shoes). The training split is `path/train` when it
    exists, else `path` itself; the held-out split is `path/val` or `path/test` (edges2shoes has val/,
    facades test/), else the training images. `direction="BtoA"` swaps the halves."""
    root = _existing_folder(path)
    folder = root
    names = ("train",) if train else ("val", "test", "train")
    folder = next((root / n for n in names if (root / n).is_dir()), root)
    paths = list_images(folder)
    if not paths:
        raise GanthologyError(f"no images found under {folder}; expected A|B side-by-side pairs.")
    check_direction(direction)
    mode = _mode_for(paths)
    A, B = [], []
    for p in paths:
        img = read_image(p, mode)
        h, w = img.shape[-2:]
        if w != 2 * h:
            raise GanthologyError(
                f"{p} is {w}x{h}; a paired image must be twice as wide as high (A left, B right)."
            )
        a, b = img[..., :h], img[..., h:]
        A.append(_square(a, image_size))
        B.append(_square(b, image_size))
    A, B = torch.stack(A), torch.stack(B)
    if direction == "BtoA":
        A, B = B, A
    return InMemoryDataset(f"paired:{root}", {"A": A, "B": B})


def _domain_folders(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The A and B folders of a split in either layout, or None."""
    for a, b in ((folder / f"{split}A", folder / f"{split}B"), (folder / split / "A", folder / split / "B")):
        if a.is_dir() and b.is_dir():
            return a, b
    return None


def unpaired_folder(path: str, image_size: int, train: bool = True, direction: str = "AtoB") -> InMemoryDataset:
    """Two unpaired domains: `trainA/ trainB/ testA/ testB/` (the CycleGAN datasets) or `train/A,
    train/B, test/A, test/B` (PyTorch-GAN's). Each domain keeps its own number of images and its own
    channels (grey A and colour B is fine); the loader shuffles each on its own. `direction="BtoA"`
    swaps the domains."""
    folder = _existing_folder(path)
    split = "train" if train else "test"
    found = _domain_folders(folder, split)
    if found is None:
        raise GanthologyError(f"{folder} has neither {split}A/ and {split}B/ nor {split}/A/ and {split}/B/; "
                              "put each domain's images in those folders.")
    check_direction(direction)
    domains = []
    for sub in found:
        paths = list_images(sub)
        if not paths:
            raise GanthologyError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {sub}.")
        mode = _mode_for(paths)
        domains.append(decode_images(paths, mode, image_size))
    A, B = domains if direction == "AtoB" else domains[::-1]
    return InMemoryDataset(f"unpaired:{folder}", {"A": A, "B": B}, groups=[("A",), ("B",)],
                           roles={"A": "domain A", "B": "domain B"})


#: StarGAN's CelebA attributes (Choi et al. 2018, section 5: hair colour, gender, age)
CELEBA_DEFAULT_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
CELEBA_CROP = 178  # the official StarGAN loader: CenterCrop(178) of the 178x218 aligned faces, then Resize
CELEBA_TEST = 2000  # the official loader holds out the first 1,999 lines after its shuffle (i + 1 < 2000)


def celeba_folder(spec: str, image_size: int, train: bool = True) -> InMemoryDataset:
    """CelebA in its official layout, `PATH` or `PATH:Attr1,Attr2,...`: `PATH/img_align_celeba/*.jpg`
    and `PATH/list_attr_celeba.txt` (line 1: the count; line 2: the 40 attribute names; then
    `filename v1 v2 ...` with -1/1). Batches hold `x` (the face) and `attr` (0/1 floats of the chosen
    attributes, StarGAN's five by default).

    As the official StarGAN loader (yunjey/stargan data_loader.py): the attribute lines are shuffled
    with Python's `random.seed(1234)` and the first 1,999 are the test split, the rest training;
    each face is centre-cropped to 178x178 (the largest centred square of a smaller image) and
    resized to `image_size`. A folder of fewer than 20,000 listed files holds out its first tenth
    instead. The official random horizontal flip is not applied (batches are drawn from memory)."""
    import random

    # PATH itself, or PATH:NAMES split at the last ':' (so a PATH may hold ':' too)
    path, names = (spec, "") if Path(spec).expanduser().is_dir() or ":" not in spec else spec.rsplit(":", 1)
    folder = _existing_folder(path).resolve()
    table, images = folder / "list_attr_celeba.txt", folder / "img_align_celeba"
    if not table.is_file() or not images.is_dir():
        raise GanthologyError(f"{folder} needs img_align_celeba/ and list_attr_celeba.txt (CelebA's official layout).")
    lines = table.read_text().splitlines()
    if len(lines) < 3:
        raise GanthologyError(f"{table} holds no images; line 1 is the count, line 2 the names, then one line per file.")
    all_names = lines[1].split()
    chosen = [n.strip() for n in names.split(",") if n.strip()] if names else list(CELEBA_DEFAULT_ATTRIBUTES)
    unknown = [n for n in chosen if n not in all_names]
    if unknown:
        raise GanthologyError(f"unknown CelebA attribute {unknown[0]!r}; choose from {', '.join(all_names[:12])}, "
                              f"... ({len(all_names)} in {table.name}).")
    cols = [all_names.index(n) for n in chosen]
    rows = [ln.split() for ln in lines[2:] if ln.strip()]
    random.Random(1234).shuffle(rows)  # the official order: random.seed(1234); random.shuffle(lines)
    n_test = CELEBA_TEST - 1 if len(rows) >= 10 * CELEBA_TEST else max(1, len(rows) // 10)
    rows = rows[:n_test] if not train else rows[n_test:]
    if not rows:
        raise GanthologyError(f"{table} lists too few images for a training and a test split; add more.")
    missing = [r[0] for r in rows if not (images / r[0]).is_file()]
    if missing:
        raise GanthologyError(f"{len(missing)} file(s) listed in {table.name} are missing from {images} "
                              f"(first: {missing[0]}); restore them or remove their lines.")
    try:
        attr = torch.tensor([[float(r[1 + c] == "1") for c in cols] for r in rows])
    except IndexError:
        raise GanthologyError(f"a line of {table} has fewer values than the {len(all_names)} attribute names.") from None
    # all of CelebA at 128x128 is 10 GB: above the in-memory limit it is decoded once to a mapped cache
    x = decode_images([images / r[0] for r in rows], "RGB", image_size, crop=_celeba_crop)
    return InMemoryDataset(f"celeba:{folder}:{','.join(chosen)}", {"x": x, "attr": attr}, attributes=chosen)


def _celeba_crop(img: torch.Tensor, image_size: int) -> torch.Tensor:
    side = min(CELEBA_CROP, *img.shape[-2:])
    return resize_uint8(TF.center_crop(img, [side, side]).unsqueeze(0), image_size)[0]
