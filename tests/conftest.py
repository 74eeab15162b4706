"""Shared test setup: real data from the data-root setting, no downloads, tiny configs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# CI sets GANTHOLOGY_DATA; a developer checkout finds the shared MNIST beside the project.
if not os.environ.get("GANTHOLOGY_DATA"):
    for cand in (ROOT.parent / "shared" / "data", ROOT / "shared" / "data"):
        if (cand / "MNIST" / "raw").is_dir():
            os.environ["GANTHOLOGY_DATA"] = str(cand)
            break
os.environ["GANTHOLOGY_OFFLINE"] = "1"  # nothing may be downloaded at test time

DATA_ROOT = os.environ.get("GANTHOLOGY_DATA", "")
HAVE_MNIST = bool(DATA_ROOT) and (Path(DATA_ROOT) / "MNIST" / "raw").is_dir()
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason="MNIST not found under $GANTHOLOGY_DATA")

# Small settings per model so that a step takes milliseconds; keys are Config fields.
TINY = {
    "gan": dict(g_hidden=32, d_units=16, d_pieces=2, batch_size=8),
    "dcgan": dict(ngf=8, ndf=8, batch_size=8),
    "wgan_gp": dict(ngf=8, ndf=8, n_critic=2, batch_size=8),
    "cgan": dict(g_z_hidden=16, g_y_hidden=16, g_hidden=32, d_x_units=16, d_y_units=8, d_units=16, batch_size=8),
    "pix2pix": dict(ngf=8, ndf=8, batch_size=4),
    "began": dict(z_dim=8, h=8, n=8, batch_size=8),
    "ebgan": dict(z_dim=16, ngf=8, ndf=8, batch_size=8),
    "lsgan": dict(z_dim=16, ngf=8, ndf=8, batch_size=8),
    "wgan": dict(ngf=8, ndf=8, n_critic=2, batch_size=8),
    "wgan_div": dict(ngf=8, ndf=8, n_critic=2, batch_size=8),
    "dragan": dict(ngf=8, ndf=8, batch_size=8),
    "bgan": dict(ngf=8, ndf=8, batch_size=8),
    "softmax_gan": dict(ngf=8, ndf=8, batch_size=8),
    "relativistic_gan": dict(variant="average", ngf=8, ndf=8, batch_size=8),
    "acgan": dict(z_dim=16, ngf=8, ndf=8, batch_size=8),
    "infogan": dict(ngf=8, ndf=8, fc=32, q_fc=16, batch_size=8),
    "aae": dict(hidden=32, batch_size=8),
    "vae_gan": dict(z_dim=8, width=8, batch_size=8),
    "bigan": dict(z_dim=8, hidden=32, batch_size=8),
    "cluster_gan": dict(z_dim=8, ngf=8, ndf=8, fc=32, n_critic=2, batch_size=8),
    "sgan": dict(z_dim=16, ngf=8, ndf=8, labelled_batch=8, batch_size=8),
}


def tiny(name: str) -> dict:
    """Tiny overrides for a model; a new model without an entry still gets tested at batch 8."""
    return dict(TINY.get(name, {"batch_size": 8}))


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """`ganthology ARGS` in a subprocess, as a user would run it."""
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "ganthology", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def one_thread():
    """The thresholds were measured with one thread: the same arithmetic (and order of float
    reductions) on every machine, and faster than two threads for MLPs this small."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
