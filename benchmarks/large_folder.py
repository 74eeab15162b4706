"""Peak memory of training data from an image folder larger than the in-memory limit.

Writes N synthetic JPEG images (smooth random colour fields, 160x160) into a folder, then, in fresh
processes, builds `folder:PATH` at 128x128 and draws batches from the loader, once through the
memory-mapped disk cache (the default above $GANTHOLOGY_IN_MEMORY_MAX) and, with --in-memory-too,
once decoded into memory, and prints each one's peak resident memory next to the decoded size,
split at the end into private memory and mapped file pages (which the kernel can drop).

    python benchmarks/large_folder.py /tmp/big --n 50000
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time, torch
from ganthology.data import InMemoryLoader, build_dataset
t = time.time()
ds = build_dataset("folder:" + sys.argv[1], image_size=128)
built = time.time() - t
loader = InMemoryLoader(ds, 64, seed=0)
t = time.time()
for _ in range(int(sys.argv[2])):
    loader.next()
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
kib = lambda k: int(status[k].split()[0]) * 1024
print(json.dumps({"items": len(ds), "decoded_bytes": ds.tensors["x"].numel(), "build_s": round(built, 1),
                  "batches_per_s": round(int(sys.argv[2]) / (time.time() - t), 1),
                  "peak_rss_bytes": kib("VmHWM"), "anon_bytes": kib("RssAnon"), "file_bytes": kib("RssFile")}))
"""


def make_folder(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    have = len(list(folder.glob("*.jpg")))
    rng = np.random.default_rng(0)
    for i in range(have, n):
        small = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)  # upsampled: smooth, compressible
        Image.fromarray(small).resize((160, 160), Image.BICUBIC).save(folder / f"{i:06d}.jpg", quality=90)


def measure(folder: Path, batches: int, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(batches)], env={**os.environ, **env},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--batches", type=int, default=500)
    ap.add_argument("--in-memory-too", action="store_true")
    a = ap.parse_args()
    make_folder(a.folder, a.n)
    cache = str(a.folder.parent / (a.folder.name + "-cache"))
    runs = {"memory-mapped (first build)": {"GANTHOLOGY_CACHE": cache},
            "memory-mapped (cached)": {"GANTHOLOGY_CACHE": cache}}
    if a.in_memory_too:
        runs["in memory"] = {"GANTHOLOGY_CACHE": cache, "GANTHOLOGY_IN_MEMORY_MAX": str(2**40)}
    for name, env in runs.items():
        r = measure(a.folder, a.batches, env)
        gib = {k: r[k] / 2**30 for k in ("decoded_bytes", "peak_rss_bytes", "anon_bytes", "file_bytes")}
        print(f"{name}: {r['items']} images, decoded {gib['decoded_bytes']:.2f} GiB; peak RSS "
              f"{gib['peak_rss_bytes']:.2f} GiB, at the end {gib['anon_bytes']:.2f} GiB private + "
              f"{gib['file_bytes']:.2f} GiB of mapped files (page cache the kernel can drop); build "
              f"{r['build_s']} s, {r['batches_per_s']} batches/s of 64", flush=True)


if __name__ == "__main__":
    main()
