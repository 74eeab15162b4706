"""Metrics against independent float64 references, and the mnist-lenet evaluator on real MNIST."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ganthology
from ganthology.metrics import class_coverage, frechet_distance, inception_score

from .conftest import DATA_ROOT, needs_mnist, run_cli


def reference_fd(a: np.ndarray, b: np.ndarray) -> float:
    """FD with Tr((S1 S2)^1/2) as the sum of square roots of the eigenvalues of S1 S2 (which are
    real and non-negative for covariance matrices): a route independent of scipy's sqrtm."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.abs(eig.real)).sum())


def test_fd_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(2000, 16))
    assert abs(frechet_distance(x, x)) < 1e-8


def test_fd_matches_a_float64_reference_on_gaussian_features():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3000, 32)) @ rng.normal(size=(32, 32))
    b = rng.normal(loc=0.5, size=(3000, 32)) @ rng.normal(size=(32, 32))
    ours, ref = frechet_distance(torch.from_numpy(a).float(), torch.from_numpy(b).float()), reference_fd(a, b)
    # the float32 input is the only source of difference: compare on float64 input too
    exact = frechet_distance(a, b)
    assert abs(exact - ref) / ref < 1e-6, (exact, ref)
    assert abs(ours - ref) / ref < 1e-4, (ours, ref)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_inception_score_of_k_even_confident_classes_is_k(k):
    probs = torch.eye(10)[torch.arange(990) % k]  # 990 splits evenly into 1, 3 or 10 classes
    assert abs(inception_score(probs) - k) < 1e-6
    classes, kl = class_coverage(probs)
    assert classes == k and abs(kl - np.log(10 / k)) < 1e-9


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    """mnist-lenet trained once for this module into a temporary cache, through the CLI."""
    import os

    cache = tmp_path_factory.mktemp("cache")
    os.environ["GANTHOLOGY_CACHE"] = str(cache)
    r = run_cli("evaluator", "train", "mnist-lenet", "--data-root", DATA_ROOT, timeout=900)
    assert r.returncode == 0, r.stderr
    from ganthology.metrics import load_evaluator

    yield load_evaluator("mnist-lenet")
    del os.environ["GANTHOLOGY_CACHE"]


@needs_mnist
def test_mnist_lenet_reaches_99_percent(lenet):
    assert lenet.meta["test_accuracy"] >= 0.99


@needs_mnist
def test_real_mnist_scores_far_better_than_noise_and_an_untrained_generator(lenet, tmp_path):
    from ganthology.data import InMemoryLoader, build_dataset
    from ganthology.metrics.evaluate import evaluate_model, reference_images, score_images

    train = build_dataset("mnist", DATA_ROOT, train=True)
    real = InMemoryLoader(train, 1).fixed_batch(5000)["x"]
    ref = reference_images(lenet, DATA_ROOT)
    real_s = score_images(lenet, real, ref)
    noise_s = score_images(lenet, torch.rand(5000, 1, 32, 32) * 2 - 1, ref)
    torch.manual_seed(0)
    untrained = ganthology.build_model("dcgan", {}, train.info()).eval()
    untrained_s = evaluate_model(untrained, lenet, n=5000, data_root=DATA_ROOT)
    fd = "fd_mnist-lenet"
    assert real_s[fd] * 20 < min(noise_s[fd], untrained_s[fd]), (real_s, noise_s, untrained_s)
    assert real_s["is_mnist-lenet"] > 9.0 and real_s["classes_mnist-lenet"] == 10


@needs_mnist
def test_eval_cli_writes_a_table_and_json(lenet, tmp_path):
    import json

    out = tmp_path / "run"
    r = run_cli("train", "cgan", "--dataset", "mnist", "--steps", "2", "--out", str(out), "--no-progress",
                "--g-hidden", "32", "--d-units", "16", "--data-root", DATA_ROOT)
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", str(out), "--n", "500", "--data-root", DATA_ROOT)
    assert r.returncode == 0, r.stderr
    rec = json.loads((out / "eval_mnist-lenet.json").read_text())
    assert rec["evaluator"] == "mnist-lenet" and rec["n"] == 500
    assert {"fd_mnist-lenet", "is_mnist-lenet", "accuracy_mnist-lenet"} <= set(rec)
    assert "fd_mnist-lenet" in r.stdout


def test_untrained_evaluator_says_how_to_train_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path))
    r = run_cli("eval", "/nonexistent", "--evaluator", "mnist-lenet")
    assert r.returncode != 0 and "ganthology evaluator train mnist-lenet" in r.stderr and "Traceback" not in r.stderr
