"""Learning tests: a short CPU run must measurably beat its untrained self on a real statistic.

The statistic is the Frechet distance between generated digits and the 1,797 real `digits`, taken
in their native 8x8 pixel space (generated 16x16 images are average-pooled to 8x8): the distance
between Gaussians fitted to the two sets of 64-dimensional vectors. It is 0 only when means and
covariances match, and it falls only when the generator's samples look like the data.

Every learning test in the suite (marked `learning`) trains under $GANTHOLOGY_TEST_SEED and checks
its numbers through the `expect` fixture; each threshold sits below the worst value measured over
seeds 0-4 and three CPU code paths (benchmarks/learning_spread.py, docs/results.md "Learning tests"),
and each test fails for a model that does not learn (GANTHOLOGY_TEST_SABOTAGE, tests/conftest.py).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ganthology
from ganthology.metrics import frechet_distance

from .conftest import SEED, scores_along_run

def real_digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().images.reshape(-1, 64) / 16.0 * 2 - 1  # [-1, 1] like the samples


def digits_fd(model, n: int = 2000) -> float:
    torch.manual_seed(0)
    with torch.no_grad():
        x = model.eval().sample(n)
    x = F.avg_pool2d(x, x.shape[-1] // 8).flatten(1).double().numpy()
    return frechet_distance(x, real_digits())


def test_statistic_separates_real_from_noise():
    real = real_digits()
    half = frechet_distance(real[::2], real[1::2])
    noise = frechet_distance(np.random.default_rng(0).uniform(-1, 1, (2000, 64)), real)
    assert half < 1.0 < 20.0 < noise, (half, noise)


def digits_classifier():
    """Logistic regression on the real 8x8 digits: a judge of which digit an image shows."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    d = load_digits()
    return LogisticRegression(max_iter=2000).fit(d.images.reshape(-1, 64) / 16.0 * 2 - 1, d.target)


DIGITS = {"name": "digits", "channels": 1, "image_size": 16, "num_classes": 10}
QUIET = dict(progress=False, sample_every=10**9, log_every=100)


# (model, steps, required FD ratio trained/untrained). What they catch: a generator that does not
# move towards the data (an untrained one: ratio 1.0; one that climbs its loss: ratio > 1). The
# worst ratio over seeds 0-4 and three CPU code paths: dcgan 0.20 (0.091 over seeds 0-2 on the AVX2
# and default paths since its label smoothing); over seeds 0-2 on those two paths, at today's
# defaults: gan 0.15 (SGD; 0.39 with Adam), wgan_gp 0.29 (widths 32,
# unnormalized critic; at 800 steps it needed 0.49, as a step of the narrower nets does less).
# Those bounds were set on the last iterate; since the sixth session dcgan and gan are scored on
# their default weight average (models/base.py WEIGHT_AVERAGE), and seed 0 passes on the AVX2 path.
@pytest.mark.learning
@pytest.mark.parametrize("name,steps,ratio", [("dcgan", 400, 0.3), ("gan", 1500, 0.5), ("wgan_gp", 1600, 0.35)])
def test_unconditional_models_learn_digits(name, steps, ratio, tmp_path, expect):
    torch.manual_seed(SEED)
    untrained = digits_fd(ganthology.build_model(name, {"batch_size": 64}, DIGITS))
    run = ganthology.train_model(name, dataset="digits", steps=steps, batch_size=64, seed=SEED,
                                 out=str(tmp_path / "run"), **QUIET)
    trained = digits_fd(ganthology.load(run))
    print(f"{name}: FD(8x8 pixels) untrained {untrained:.2f} -> trained {trained:.2f}")
    expect(fd_ratio=(trained / untrained, "<", ratio))


def conditional_accuracy(model) -> float:
    """Share of 1,000 samples (100 per requested digit) that a judge of real digits labels as asked."""
    judge = digits_classifier()
    y = torch.arange(1000) % 10
    torch.manual_seed(0)
    with torch.no_grad():
        x = F.avg_pool2d(model.sample(1000, y=y), 2).flatten(1).double().numpy()
    return float((judge.predict(x) == y.numpy()).mean())


@pytest.mark.learning
def test_cgan_draws_the_requested_digit(tmp_path, expect):
    """cgan's accuracy jumps from chance to ~99% once G starts to use y, at a step that depends on
    the seed and the CPU's arithmetic (seed 0 here: 20% at step 1000, 99.2% at 2000; another CPU
    gave 50% at 2000). So the test scores the run at several steps and keeps the best, as a user
    keeps the best checkpoint: median 92%, worst 70% over seeds and CPU code paths. It catches a G
    that ignores y (10%, chance) or does not learn."""
    accs = scores_along_run("cgan", (1500, 2000, 2500, 3000), conditional_accuracy, tmp_path / "run",
                            dataset="digits", batch_size=64, seed=SEED, **QUIET)
    print(f"cgan: a classifier of real digits agrees with the requested label on {accs} (steps 1500-3000)")
    expect(best_accuracy=(max(accs), ">", 0.5))


@pytest.mark.learning
def test_pix2pix_learns_the_mapping(tmp_path, expect):
    """Catches a G that does not learn edges -> digit (untrained L1 ~0.73; trained ~0.10)."""
    from ganthology.data import InMemoryLoader, build_dataset

    data = build_dataset("edges2digits", train=False)
    held = InMemoryLoader(data, 256).fixed_batch(300)  # the 300 held-out pairs

    def l1(model):
        torch.manual_seed(0)
        return float((model.translate(held["A"]) - held["B"]).abs().mean())

    settings = dict(ngf=32, ndf=32)
    torch.manual_seed(SEED)
    untrained = l1(ganthology.build_model("pix2pix", settings, data.info()))
    run = ganthology.train_model("pix2pix", dataset="edges2digits", steps=300, seed=SEED, out=str(tmp_path / "run"),
                                 **QUIET, **settings)
    trained = l1(ganthology.load(run))
    print(f"pix2pix: L1(G(A), B) untrained {untrained:.3f} -> trained {trained:.3f}")
    expect(l1_ratio=(trained / untrained, "<", 0.5))
