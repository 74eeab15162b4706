"""Peak memory of training data from an image folder larger than the in-memory limit.

Writes N synthetic JPEG images (smooth random colour fields, 160x160) into a folder, then, in fresh
processes, builds `folder:PATH` at 128x128 and draws batches from the loader, once through the
memory-mapped disk cache (the default above $GANTHOLOGY_IN_MEMORY_MAX) and, with --in-memory-too,
once decoded into memory, and prints each one's peak private memory (what the machine must hold;
sampled every 20 ms) and peak resident memory, which also counts the pages of the mapped file that
the kernel keeps as cache and can drop, next to the decoded size.

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
import json, sys, threading, time, torch
from ganthology.data import InMemoryLoader, build_dataset

def status():
    s = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
    return {k: int(s[k].split()[0]) * 1024 for k in ("VmHWM", "RssAnon", "RssFile")}

peak_anon = [0]
def watch():  # private memory is what a machine must hold; mapped file pages are page cache
    while True:
        peak_anon[0] = max(peak_anon[0], status()["RssAnon"])
        time.sleep(0.02)
threading.Thread(target=watch, daemon=True).start()
t = time.time()
ds = build_dataset("folder:" + sys.argv[1], image_size=128)
built = time.time() - t
loader = InMemoryLoader(ds, 64, seed=0)
t = time.time()
for _ in range(int(sys.argv[2])):
    loader.next()
rate = int(sys.argv[2]) / (time.time() - t)
time.sleep(0.1)
s = status()
print(json.dumps({"items": len(ds), "decoded_bytes": ds.tensors["x"].numel(), "build_s": round(built, 1),
                  "batches_per_s": round(rate, 1), "peak_rss_bytes": s["VmHWM"],
                  "peak_anon_bytes": max(peak_anon[0], s["RssAnon"]), "file_bytes": s["RssFile"]}))
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
        gib = {k: r[k] / 2**30 for k in ("decoded_bytes", "peak_rss_bytes", "peak_anon_bytes", "file_bytes")}
        print(f"{name}: {r['items']} images, decoded {gib['decoded_bytes']:.2f} GiB; peak private memory "
              f"{gib['peak_anon_bytes']:.2f} GiB (peak RSS {gib['peak_rss_bytes']:.2f} GiB, of which mapped "
              f"file pages the kernel can drop: {gib['file_bytes']:.2f} GiB at the end); build "
              f"{r['build_s']} s, {r['batches_per_s']} batches/s of 64", flush=True)


if __name__ == "__main__":
    main()
