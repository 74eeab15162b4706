#!/usr/bin/env bash
# The race of docs/benchmarks.md: `ganthology train dcgan --dataset mnist` and PyTorch-GAN's dcgan.py
# (as published, pointed at local MNIST by benchmarks/pytorch_gan.py), the same wall-clock budget each,
# one after the other on the same machine, both scored by `ganthology eval` on 10,000 samples
# against the 10,000 MNIST test digits with mnist-lenet.
#   benchmarks/race.sh OUT PYTORCH_GAN_DIR [extra ganthology train options...]
# MINUTES (default 10), THREADS (default: torch's, i.e. every core), DEVICE (default auto).
# Needs real MNIST under $GANTHOLOGY_DATA and a trained mnist-lenet (ganthology evaluator train mnist-lenet).
# GANTHOLOGY="python -m ganthology" runs it from a source tree without installing.
set -euo pipefail
out=${1:?usage: benchmarks/race.sh OUT PYTORCH_GAN_DIR [train options...]}
pg=${2:?usage: benchmarks/race.sh OUT PYTORCH_GAN_DIR [train options...]}
shift 2
g=${GANTHOLOGY:-ganthology}
minutes=${MINUTES:-10}
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python}
mkdir -p "$out"
threads=()
if [ -n "${THREADS:-}" ]; then export OMP_NUM_THREADS=$THREADS; threads=(--threads "$THREADS"); fi

$g train dcgan --dataset mnist --minutes "$minutes" --device "${DEVICE:-auto}" --out "$out/ganthology" \
    --no-progress --sample-every 100000000 "$@"
$g eval "$out/ganthology" --n 10000 --json "$out/ganthology.json"

$py "$here/pytorch_gan.py" "$pg/implementations/dcgan/dcgan.py" --minutes "$minutes" "${threads[@]}" \
    --out "$out/pytorch_gan.npz" --n 10000
$g eval "$out/pytorch_gan.npz" --reference mnist --n 10000 --json "$out/pytorch_gan.json"

$py - "$out" "$here" <<'PY'
import csv, json, re, sys
from pathlib import Path

import numpy as np
import torch
import yaml

from ganthology.viz import save_grid

sys.path.insert(0, sys.argv[2])
from pytorch_gan import _batches  # the batches a script trained, from its progress lines

out = Path(sys.argv[1])
ours, ref = (json.loads((out / f"{k}.json").read_text()) for k in ("ganthology", "pytorch_gan"))
rows = list(csv.DictReader(open(out / "ganthology" / "metrics.csv")))
steps = max(int(r["step"]) for r in rows)
ref_log = (out / "pytorch_gan.log").read_text()
ref_batch = re.search(r"batch_size=(\d+)", ref_log).group(1)  # the scripts print their options first
our_batch = yaml.safe_load((out / "ganthology" / "config.yaml").read_text())["model_config"]["batch_size"]
imgs = torch.from_numpy(np.load(out / "pytorch_gan.npz")["images"][:64]).float() / 127.5 - 1
save_grid(imgs, out / "pytorch_gan.png")
grids = sorted((out / "ganthology" / "samples").glob("step_*.png"))
print(f"| | ganthology ({steps} steps x {our_batch}) | PyTorch-GAN dcgan.py ({_batches(ref_log.splitlines())} batches x {ref_batch}) |")
print("|---|---:|---:|")
for k in ("fd", "kid", "precision", "recall", "classes"):
    key = f"{k}_mnist-lenet"
    print(f"| {k} | {ours[key]:.4g} | {ref[key]:.4g} |")
print(f"\nFD ratio ganthology / PyTorch-GAN: {ours['fd_mnist-lenet'] / ref['fd_mnist-lenet']:.3f}")
print(f"samples: {grids[-1]} and {out / 'pytorch_gan.png'}")
PY
