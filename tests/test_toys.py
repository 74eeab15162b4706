"""The 2-D toys ring8 and grid25: the data, the mode-coverage metric, every model on vector data,
learning tests that count covered modes, and the CLI on a toy run (scatter previews)."""
from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.data.toys import MIXTURES
from ganthology.metrics.toy import mode_coverage, score_toy_model
from ganthology.train.checkpoint import load_checkpoint
from ganthology.train.logger import read_metrics

from .conftest import SEED, run_cli, tiny

RING = MIXTURES["ring8"]
GRID = MIXTURES["grid25"]


# --- data ---------------------------------------------------------------------------------------
def test_toy_datasets_are_fixed_point_sets_with_two_splits():
    for name, mix, k in (("ring8", RING, 8), ("grid25", GRID, 25)):
        train, again, test = build_dataset(name), build_dataset(name), build_dataset(name, train=False)
        x = train.tensors["x"]
        assert x.dtype == torch.float32 and x.shape == (50_000, 2)
        assert torch.equal(x, again.tensors["x"]), "the same points in every run"
        assert test.tensors["x"].shape == (10_000, 2) and not torch.equal(x[:10_000], test.tensors["x"])
        info = train.info()
        assert info.is_vector and info.dim == 2 and info.sample_shape == (2,)
        assert len(mix.centers) == k
    assert torch.allclose(RING.centers.norm(dim=1), torch.full((8,), 2.0))
    assert RING.std == 0.02 and GRID.std == 0.05
    assert sorted(set(GRID.centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_toy_dataset_refuses_an_image_size():
    with pytest.raises(ganthology.GanthologyError, match="points"):
        build_dataset("ring8", image_size=32)


def test_loader_gives_the_points_as_they_are():
    ds = build_dataset("ring8")
    loader = InMemoryLoader(ds, 64, seed=0, channels_last=True)
    batch = loader.next()
    assert batch["x"].shape == (64, 2) and batch["x"].dtype == torch.float32
    assert torch.equal(loader.fixed_batch(5)["x"], ds.tensors["x"][:5]), "no rescaling to [-1, 1]"


# --- the metric ---------------------------------------------------------------------------------
def test_real_data_covers_every_mode_with_high_quality():
    for name, mix in (("ring8", RING), ("grid25", GRID)):
        r = mode_coverage(build_dataset(name, train=False).tensors["x"][:2500], mix.centers, mix.std)
        assert r["modes"] == r["num_modes"] == len(mix.centers)
        # within 3 std of a 2-D Gaussian: 1 - exp(-4.5) = 98.9%
        assert 0.98 < r["high_quality"] <= 1.0
        assert r["kl_modes"] < 0.02


def test_samples_on_one_mode_cover_one():
    x = RING.centers[3] + RING.std * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))
    r = mode_coverage(x, RING.centers, RING.std)
    assert r["modes"] == 1 and r["high_quality"] > 0.98
    assert r["kl_modes"] == pytest.approx(math.log(8))


def test_noise_is_low_quality_and_a_stray_sample_covers_no_mode():
    x = torch.rand(2500, 2, generator=torch.Generator().manual_seed(0)) * 6 - 3
    r = mode_coverage(x, RING.centers, RING.std)
    assert r["high_quality"] < 0.02 and r["modes"] == 0
    few = torch.cat([RING.centers[:1].repeat(10, 1), torch.full((2490, 2), 10.0)])
    assert mode_coverage(few, RING.centers, RING.std)["modes"] == 0, "10 of 2,500 samples are under 1/5 of 312"


def test_non_finite_samples_count_as_low_quality():
    x = RING.centers.repeat(100, 1)
    x[:400] = float("nan")
    r = mode_coverage(x, RING.centers, RING.std)
    assert r["high_quality"] == pytest.approx(0.5) and r["modes"] == 8


def test_score_toy_model_refuses_image_models():
    model = ganthology.build_model("dcgan", tiny("dcgan"), build_dataset("digits").info())
    with pytest.raises(ganthology.GanthologyError, match="ring8"):
        score_toy_model(model)


# --- every model on vector data -----------------------------------------------------------------
@pytest.mark.parametrize("name", ganthology.list_models())
def test_model_trains_on_points_or_refuses_clearly(name):
    """Registry-generated: a model either trains on 2-D points and samples (n, 2) without clipping,
    or refuses the data with one sentence; never a shape error from deep inside a network."""
    data = build_dataset("ring8")
    try:
        torch.manual_seed(0)
        model = ganthology.build_model(name, tiny(name), data.info())
    except ganthology.GanthologyError as e:
        assert "points" in str(e)
        return
    loader = InMemoryLoader(data, model.cfg.batch_size, seed=0)
    for step in range(getattr(model.cfg, "n_critic", 1)):
        logs = model.train_step(loader.next(), step)
        assert all(torch.isfinite(v) for v in logs.values()), logs
    model.eval()
    x = model.sample(16)
    assert x.shape == (16, 2) and torch.isfinite(x).all()
    # unbounded output: a generator that is pushed towards x = 3 gets there (no Tanh at 1)
    assert not any(isinstance(m, torch.nn.Tanh) for m in model.G.modules()), "toy data is not bounded to [-1, 1]"


def test_dcgan_refuses_points_in_one_sentence():
    with pytest.raises(ganthology.GanthologyError, match="images") as e:
        ganthology.build_model("dcgan", {}, build_dataset("ring8").info())
    assert "\n" not in str(e.value)


# --- learning: mode coverage on ring8 -----------------------------------------------------------
# {model: (steps, overrides, min_modes, min_high_quality)}; 2,500 samples scored after training; an
# untrained generator scores 0 modes and ~0 high quality. The toy recipe, found by measurement (with
# the papers' image settings, lr 5e-4 or z of 16, nothing sharpens onto the ring in 3000 steps): z
# of 2 dimensions, Adam at lr 1e-3, batch 256, wider networks where noted, and the learning rate
# held for half the run, then lowered linearly to 0 (--lr-decay-from 0.5). At a constant lr 1e-3
# modes come and go along a run (ebgan had 8/8 at step 2000 and 5/8 at 3000), so which point a run
# ends on, and with it the count, depended on the seed and the CPU's arithmetic; the decay lets
# each run settle. The thresholds sit under the worst of seeds 0-4 on three CPU code paths
# (benchmarks/learning_spread.py; the distribution is in docs/results.md, "Learning tests").
# Measured and left out (time, or not there yet): wgan_div, dragan, bgan (docs/results.md).
TOY = dict(lr=1e-3, batch_size=256, z_dim=2)
TOY_RUNS = {  # worst of 15 runs (seeds 0-4 x three code paths): modes, high quality
    "gan": (3000, dict(TOY, optimizer="adam", g_hidden=256, d_units=128, d_dropout_in=0.0, d_dropout=0.0), 2, 0.6),  # 2, 0.72
    "lsgan": (3000, TOY, 4, 0.8),  # 5, 0.88
    "relativistic_gan": (2000, TOY, 4, 0.7),  # 5, 0.81
    "ebgan": (2000, TOY, 2, 0.65),  # 3, 0.76
    "softmax_gan": (3000, dict(TOY, batch_size=512), 2, 0.8),  # 3, 0.90
    "wgan_gp": (3000, dict(TOY, ngf=128, ndf=64, beta1=0.5, beta2=0.9, n_critic=2, lambda_gp=1.0), 7, 0.7),  # 8, 0.80
}


@pytest.mark.learning
@pytest.mark.parametrize("name", sorted(TOY_RUNS))
def test_model_covers_the_modes_of_ring8(name, tmp_path, one_thread, expect):
    """Catches a generator that does not reach the ring (0 modes, ~0 high quality) or collapses
    onto one mode. High quality is the steady signal (0.72-0.96 in every run); the modes a run
    settles on depend on its seed: wgan_gp found all 8 in every run, lsgan and relativistic_gan
    at least 5, while gan, ebgan and softmax_gan settle on 2-4 in some seeds (the partial mode
    collapse these objectives are known for), hence their low bars. gan's bar of 2 is the one
    without a margin: its worst run (seed 1, no-SIMD path) covered 2, and one mode is the
    collapse this test is for."""
    steps, overrides, min_modes, min_hq = TOY_RUNS[name]
    torch.manual_seed(SEED)
    untrained = score_toy_model(ganthology.build_model(name, overrides, build_dataset("ring8").info()))
    run = ganthology.train_model(name, dataset="ring8", steps=steps, seed=SEED, lr_decay_from=0.5,
                                 out=str(tmp_path / "run"), progress=False, sample_every=10**9,
                                 log_every=max(1, steps // 10), **overrides)
    r = score_toy_model(ganthology.load(run))
    print(f"{name}: untrained {untrained['modes']} modes, {untrained['high_quality']:.3f} high quality -> "
          f"{r['modes']} modes, {r['high_quality']:.3f} (counts {r['counts']})")
    expect(modes=(r["modes"], ">=", min_modes), high_quality=(r["high_quality"], ">=", min_hq),
           high_quality_gain=(r["high_quality"] - untrained["high_quality"], ">", 0.0))


# --- trainer, checkpoints, CLI on vector data ---------------------------------------------------
FAST = dict(log_every=1, sample_every=1000, progress=False)


@pytest.mark.parametrize("name", ["gan", "began"])
def test_toy_run_resumes_exactly(name, tmp_path):
    """Vector data through the trainer: stop at step 4, resume to 8, same losses and weights."""
    def train(out, steps, resume=None):
        return ganthology.train_model(name, resume=resume, out=str(out), steps=steps, dataset="ring8",
                                      **{**FAST, **tiny(name)})

    full = read_metrics(train(tmp_path / "full", 8) / "metrics.csv")
    train(tmp_path / "part", 4)
    resumed = read_metrics(train(tmp_path / "part", 8, resume=tmp_path / "part") / "metrics.csv")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows]  # noqa: E731
    assert strip(resumed) == strip(full)
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["state"]
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["state"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_began_k_moves_and_resumes_exactly(tmp_path):
    """BEGAN's control variable k_t is a buffer: it is in the checkpoint and a resumed run continues
    from it, so k after step 8 is bit-for-bit that of the uninterrupted run. With lambda_k raised
    k moves visibly in 8 steps (with the paper's 0.001 it moves by ~1e-4 per step). The vanishing
    residuals' carry (section 3.5.1) resumes with the rest of the state."""
    kw = dict(dataset="digits", **FAST, **tiny("began"), lambda_k=0.05, vanishing_steps=16)
    full = ganthology.train_model("began", out=str(tmp_path / "full"), steps=8, **kw)
    ganthology.train_model("began", out=str(tmp_path / "part"), steps=4, **kw)
    part = ganthology.train_model("began", resume=tmp_path / "part", steps=8)
    ks = [float(r["k"]) for r in read_metrics(full / "metrics.csv")]
    assert len(set(ks)) > 3 and all(0.0 <= k <= 1.0 for k in ks), f"k_t must move within [0, 1]: {ks}"
    assert [r["k"] for r in read_metrics(part / "metrics.csv")] == [r["k"] for r in read_metrics(full / "metrics.csv")]
    a = load_checkpoint(full / "checkpoints" / "last.pt")["state"]
    b = load_checkpoint(part / "checkpoints" / "last.pt")["state"]
    assert a["k"].item() > 0 and all(torch.equal(a[key], b[key]) for key in a)
    carries = {v.item() for key, v in a.items() if key.endswith(".carry")}
    assert carries == {1 - 7 / 16}, carries  # section 3.5.1: set at the 8th step (step 7) of 16


def test_toy_run_through_the_cli_writes_scatter_plots(tmp_path):
    out = tmp_path / "run"
    r = run_cli("train", "gan", "--dataset", "ring8", "--steps", "20", "--sample-every", "10", "--g-hidden", "32",
                "--d-units", "16", "--batch-size", "32", "--no-progress", "--out", str(out))
    assert r.returncode == 0, r.stderr
    for f in ("samples/step_0000010.png", "samples/step_0000020.png", "metrics.csv", "checkpoints/last.pt",
              "generator.safetensors"):
        assert (out / f).is_file(), f
    assert Image.open(out / "samples" / "step_0000020.png").size == (500, 500)
    png, each = tmp_path / "scatter.png", tmp_path / "each"
    r = run_cli("sample", str(out), "--n", "300", "--out", str(png), "--individual", str(each))
    assert r.returncode == 0, r.stderr
    assert Image.open(png).size == (500, 500)
    lines = (each / "points.csv").read_text().splitlines()
    assert lines[0] == "x0,x1" and len(lines) == 301
    r = run_cli("sample", str(out / "generator.safetensors"), "--out", str(tmp_path / "g.png"))
    assert r.returncode == 0 and (tmp_path / "g.png").is_file(), r.stderr
    r = run_cli("info", str(out))
    assert r.returncode == 0 and "2-D points" in r.stdout, r.stdout + r.stderr


def test_image_only_model_on_a_toy_through_the_cli(tmp_path):
    r = run_cli("train", "dcgan", "--dataset", "ring8", "--steps", "2", "--no-progress", "--out", str(tmp_path / "x"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error: dcgan is defined on images") and "points" in r.stderr
