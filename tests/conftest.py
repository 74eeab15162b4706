"""Shared test setup: real data from the data-root setting, no downloads, tiny configs, and what
every learning test shares (its seed, its recorded measurements, the sabotage that shows it can fail)."""
from __future__ import annotations

import functools
import json
import operator
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # parallel test processes (pytest-xdist, `-n auto`: one per core) each compute on one thread,
    # so that they do not fight over the cores; subprocesses they start inherit it
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
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
    "ccgan": dict(ngf=8, ndf=8, n_labels=20, labelled_batch=8, batch_size=8),
    "srresnet": dict(ngf=8, n_blocks=2, batch_size=4),
    "srgan": dict(ngf=8, n_blocks=2, ndf=8, fc=16, vgg_layer="relu2_2", batch_size=4),
    "context_encoder": dict(nef=8, ngf=8, ndf=8, batch_size=8),
    "esrgan": dict(nf=8, n_rrdb=1, gc=4, ndf=4, psnr_steps=2, batch_size=4),  # steps 0-1 L1 alone, then the GAN
    # decay_start=1: no decay, which is planned over the run's length (a 4-step run would decay sooner
    # than the 8-step run the resume test compares it with); tests/test_stargan.py checks the decay
    "stargan": dict(g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, n_critic=2, decay_start=1.0, batch_size=4),
    "pixelda": dict(ngf=8, n_blocks=2, ndf=8, ntf=8, t_fc=16, batch_size=8),
    "cogan": dict(z_dim=16, ngf=8, ndf=4, ndf_shared=4, d_fc=16, batch_size=8),
    "dann": dict(ntf=8, t_fc=16, d_fc=16, schedule_steps=100, batch_size=8),  # schedules not tied to the run's length
    "cyclegan": dict(ngf=8, ndf=8, n_blocks=1, pool_size=4, decay_from=1.0, batch_size=4),  # no decay: as stargan
    "unit": dict(ngf=8, ndf=8, n_res=1, batch_size=4),
    "munit": dict(dim=8, mlp_dim=16, n_res=1, ndf=8, batch_size=4),
    "discogan": dict(ngf=8, ndf=8, batch_size=4),
    "dualgan": dict(ngf=8, ndf=8, n_critic=2, batch_size=4),
    "bicyclegan": dict(ngf=8, nef=8, ndf=8, decay_from=1.0, batch_size=4),  # no decay: as cyclegan
}


def tiny(name: str) -> dict:
    """Tiny overrides for a model; a new model without an entry still gets tested at batch 8."""
    return dict(TINY.get(name, {"batch_size": 8}))


#: offline datasets the registry tests choose from, in order: each model gets the first that holds
#: the roles it `requires` (images from noise: digits; translation by default: paired edges)
OFFLINE = ("digits", "edges2digits", "digits2photo", "digit_attrs", "photo_sr")


@functools.lru_cache(maxsize=None)
def offline_dataset_for(cls) -> str:
    from ganthology.data import build_dataset

    needs = cls.requires or (("input", "target") if cls.translate is not None else ("image",))
    for name in OFFLINE:
        if build_dataset(name).info().has(*needs):
            return name
    raise AssertionError(f"no offline dataset holds {needs} for {cls.name}")


#: trainer settings for short test runs: a metrics row every step, no grids, NCHW
FAST_TRAIN = dict(log_every=1, sample_every=1000, progress=False, channels_last=False)


def train_tiny(name, out, steps, resume=None, **kw):
    """`train_model` of a tiny `name` on its offline dataset for `steps` steps (FAST_TRAIN settings)."""
    import ganthology

    dataset = offline_dataset_for(ganthology.get_model(name))
    return ganthology.train_model(name, resume=resume, out=str(out), steps=steps, dataset=dataset,
                                  **{**FAST_TRAIN, **tiny(name), **kw})


def stoppable(monkeypatch, base, name: str):
    """`base` (a model class) registered as `name`, with a `stop_after` step after which the run is
    stopped as by Ctrl-C (the trainer finishes that step, checkpoints and stops; 0: never)."""
    import signal

    from ganthology import registry

    class Stopping(base):
        stop_after = 0

        def train_step(self, batch, step):
            if step + 1 == self.stop_after:
                os.kill(os.getpid(), signal.SIGINT)
            return super().train_step(batch, step)

    monkeypatch.setattr(Stopping, "name", name)
    monkeypatch.setitem(registry._MODELS, name, Stopping)
    return Stopping


def two_domain_info(c_a: int, c_b: int, size: int = 32):
    """The description of two unpaired domains of c_a and c_b channels (for building a model by hand)."""
    from ganthology.data.info import DataInfo, Part

    return DataInfo(name="two-domains", channels=c_b, image_size=size, parts={
        "A": Part("domain A", (c_a, size, size), 0), "B": Part("domain B", (c_b, size, size), 1)})


def two_domain_batch(c_a: int = 1, c_b: int = 3, n: int = 4, size: int = 32) -> dict:
    """A fixed random batch of both domains in [-1, 1]."""
    g = torch.Generator().manual_seed(1)
    return {"A": torch.rand(n, c_a, size, size, generator=g) * 2 - 1,
            "B": torch.rand(n, c_b, size, size, generator=g) * 2 - 1}


def stopped_and_resumed(monkeypatch, tmp_path: Path, name: str, stop_at: int, **settings):
    """Train `name` uninterrupted, then again stopped after `stop_at` steps (as by Ctrl-C) and
    resumed from that checkpoint; the resumed run must log the same losses and end with the same
    weights. Returns the uninterrupted run's metrics rows and both final checkpoints."""
    import ganthology
    from ganthology.train.checkpoint import load_checkpoint
    from ganthology.train.logger import read_metrics

    Stopping = stoppable(monkeypatch, ganthology.get_model(name), f"{name}_stopping")
    kw = dict(log_every=1, progress=False, sample_every=100, channels_last=False, **settings)
    full = read_metrics(ganthology.train_model(Stopping.name, out=str(tmp_path / "full"), **kw) / "metrics.csv")
    monkeypatch.setattr(Stopping, "stop_after", stop_at)
    ganthology.train_model(Stopping.name, out=str(tmp_path / "part"), **kw)
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["step"] == stop_at
    monkeypatch.setattr(Stopping, "stop_after", 0)
    resumed = read_metrics(ganthology.train_model(Stopping.name, resume=tmp_path / "part") / "metrics.csv")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows]  # noqa: E731
    assert strip(resumed) == strip(full)
    a, b = (load_checkpoint(tmp_path / r / "checkpoints" / "last.pt") for r in ("full", "part"))
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])
    return full, a, b


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


# --- learning tests -------------------------------------------------------------------------------
# A learning test (marked `learning`) trains a model briefly and checks a statistic of what it
# learned. Its threshold comes from a measured distribution over seeds and CPU code paths
# (benchmarks/learning_spread.py; the numbers in docs/results.md), not from one run, so it holds on
# any x86-64 CPU; and each one is shown to fail when the model does not learn (the sabotage below).
#
#   GANTHOLOGY_TEST_SEED=N        train under seed N instead of 0 (weights, noise, data order)
#   GANTHOLOGY_LEARNING_LOG=FILE  append each learning test's measurements to FILE as JSON lines
#   GANTHOLOGY_TEST_SABOTAGE=MODE break learning on purpose; every learning test must then fail:
#       untrained  no parameter moves (every optimizer step gets a zero loss): the model as built
#       ascent     every player but the discriminators climbs its loss (the generator's loss
#                  sign flipped)
SEED = int(os.environ.get("GANTHOLOGY_TEST_SEED", "0"))
SABOTAGE = os.environ.get("GANTHOLOGY_TEST_SABOTAGE", "")
LEARNING_LOG = os.environ.get("GANTHOLOGY_LEARNING_LOG", "")
SABOTAGES = ("untrained", "ascent")
if SABOTAGE not in ("", *SABOTAGES):
    raise pytest.UsageError(f"GANTHOLOGY_TEST_SABOTAGE={SABOTAGE!r}: use one of {', '.join(SABOTAGES)}.")


@pytest.fixture(scope="session", autouse=True)
def _sabotage():
    """Applied for the whole session, before module-scoped runs (tests/test_latent.py's) train.
    Every model steps its optimizers through GANModel.update, so this one patch reaches them all."""
    if not SABOTAGE:
        yield
        return
    from ganthology.models.base import GANModel

    original = GANModel.update

    def update(self, name, loss):
        if SABOTAGE == "untrained":
            loss = loss * 0.0  # zero gradients: Adam and RMSprop then move nothing
        elif not name.startswith("D"):  # D, D_A, D_B: the adversaries keep learning
            loss = -loss
        original(self, name, loss)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(GANModel, "update", update)
        yield


def scores_along_run(name: str, stops, score, out: Path, **settings) -> list:
    """Train `name` to each step count in `stops` in turn, each leg resuming the last one exactly
    (so together they are one uninterrupted run; tests/test_trainer.py checks that), and return
    `score(model)` after each leg: the best of several evaluation points is steadier than one.
    Not for a schedule planned over the run's length (lr_decay_from): each leg is a run that ends."""
    import ganthology

    scores = []
    for i, steps in enumerate(stops):
        run = (ganthology.train_model(name, out=str(out), steps=steps, **settings) if i == 0
               else ganthology.train_model(name, resume=out, steps=steps))
        scores.append(score(ganthology.load(run)))
    return scores


OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@pytest.fixture
def expect(request):
    """expect(name=(value, op, bound), ...): record every measurement (with the seed and the CPU
    code path, to $GANTHOLOGY_LEARNING_LOG when set) and then assert each `value op bound`.
    All are recorded before any is asserted, so a failing run still leaves its whole record."""

    def check(**measured: tuple[float, str, float]) -> None:
        if LEARNING_LOG:
            cap = torch.backends.cpu.get_cpu_capability()
            isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "")
            with open(LEARNING_LOG, "a") as f:
                for key, (value, op, bound) in measured.items():
                    f.write(json.dumps({"test": request.node.nodeid, "metric": key, "value": float(value),
                                        "op": op, "bound": bound, "seed": SEED, "sabotage": SABOTAGE,
                                        "path": cap + (f"/onednn-{isa.lower()}" if isa else ""),
                                        "threads": torch.get_num_threads()}) + "\n")
        failed = {k: v for k, v in measured.items() if not OPS[v[1]](v[0], v[2])}
        assert not failed, "learned too little: " + ", ".join(f"{k} = {v:.4g}, needs {op} {b}"
                                                             for k, (v, op, b) in failed.items())

    return check
