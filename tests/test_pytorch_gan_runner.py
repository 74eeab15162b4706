"""benchmarks/pytorch_gan.py: a PyTorch-GAN-style script runs unchanged on local MNIST for a
wall-clock budget, its published defects patched in memory, and its samples land in a .npz."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np

from .conftest import DATA_ROOT, ROOT, needs_mnist

# the shape of the published scripts: argparse `opt`, a `generator`, torchvision's MNIST under a
# relative path with download=True, an endless epoch loop printing "[Epoch e/E] [Batch i/N]"; and,
# like the published dragan.py, a loop over an undefined `mnist_loader`
SCRIPT = textwrap.dedent('''
    import argparse
    import torch, torch.nn as nn
    import torchvision.transforms as transforms
    from torchvision import datasets
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--latent_dim", type=int, default=8)
    parser.add_argument("--n_epochs", type=int, default=200)
    opt = parser.parse_args()
    generator = nn.Sequential(nn.Linear(opt.latent_dim, 32 * 32), nn.Tanh(), nn.Unflatten(1, (1, 32, 32)))
    dataloader = torch.utils.data.DataLoader(datasets.MNIST("../../data/mnist", train=True, download=True,
        transform=transforms.Compose([transforms.Resize(32), transforms.ToTensor()])),
        batch_size=opt.batch_size, shuffle=True)
    optim = torch.optim.Adam(generator.parameters(), 1e-3)
    for epoch in range(opt.n_epochs):
        for i, (imgs, _) in enumerate(mnist_loader):
            loss = (generator(torch.randn(len(imgs), opt.latent_dim)) - (imgs * 2 - 1)).square().mean()
            optim.zero_grad(); loss.backward(); optim.step()
            print("[Epoch %d/%d] [Batch %d/%d] [loss: %f]" % (epoch, opt.n_epochs, i, len(mnist_loader), loss.item()))
''')


@needs_mnist
def test_runner_patches_runs_on_the_clock_and_samples(tmp_path):
    script = tmp_path / "dragan.py"
    script.write_text(SCRIPT)
    out = tmp_path / "ref.npz"
    env = {**os.environ, "GANTHOLOGY_DATA": DATA_ROOT, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pytorch_gan.py"), str(script), "--minutes", "0.1",
                        "--threads", "1", "--out", str(out), "--n", "50", "--", "--latent_dim", "4"],
                       capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    seconds = int(re.search(r"stopped after (\d+) s", r.stdout).group(1))
    assert 6 <= seconds <= 10, r.stdout  # the 0.1-minute budget, not the 200 epochs
    assert "patched: enumerate(mnist_loader) -> enumerate(dataloader)" in r.stdout
    with np.load(out) as z:
        imgs = z["images"]
    assert imgs.shape == (50, 1, 32, 32) and imgs.dtype == np.uint8 and imgs.std() > 0
    log = out.with_suffix(".log").read_text()
    assert log.startswith("[Epoch 0/200] [Batch 0/"), "the script's printing goes to its log"
    assert not (tmp_path / "data").exists() and not (tmp_path.parent / "data").exists(), "nothing downloaded"


def test_the_batches_a_script_trained_are_read_from_its_progress_lines():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from pytorch_gan import _batches
    finally:
        sys.path.pop(0)
    # the per-batch line of most scripts: epoch 2 of 938-batch epochs, batch index 5 -> 2 * 938 + 6
    assert _batches(["[Epoch 1/200] [Batch 937/938] [D loss: 0.1]", "[Epoch 2/200] [Batch 5/938] [D loss: 0.1]"]) == 1882
    # clustergan.py prints "[Epoch e/E]" once, after epoch e: e + 1 epochs done, the next one under way
    per_epoch = range(938)  # stands in for its DataLoader (only len() is read)
    assert _batches(["[Epoch 3/200] ", "\tModel Losses: [D: 0.1] [GE: 0.2]"], per_epoch) == \
        "3752-4689 (logs once per epoch; 4 epochs done)"
    assert _batches(["loading"], per_epoch) == "under 938 (logs once per epoch; epoch 0 not done)"
    assert _batches([]) == 0
