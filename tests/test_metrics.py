"""Metrics against independent float64 references, evaluators on real data, and `ganthology eval`."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ganthology
from ganthology.metrics import (class_coverage, frechet_distance, inception_score, kernel_distance,
                                precision_recall, psnr_ssim)

from .conftest import DATA_ROOT, needs_mnist, run_cli


def reference_fd(a: np.ndarray, b: np.ndarray) -> float:
    """FD with Tr((S1 S2)^1/2) from scipy's matrix square root: a route independent of the
    eigenvalue arithmetic the package uses."""
    import scipy.linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = np.real(scipy.linalg.sqrtm(s1 @ s2))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def reference_kid(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Binkowski et al., 2018), written out in float64."""
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1.0) ** 3  # noqa: E731
    m, n = len(a), len(b)
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


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


def test_kid_matches_a_float64_reference_and_is_near_zero_for_one_distribution():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(600, 16)), rng.normal(loc=0.3, size=(600, 16))
    # one subset holding every sample is the full-set estimate (the kernel sums ignore the order)
    ours, _ = kernel_distance(a, b, subsets=1, subset_size=600)
    ref = reference_kid(a, b)
    assert abs(ours - ref) / abs(ref) < 1e-6, (ours, ref)
    same, _ = kernel_distance(rng.normal(size=(600, 16)), rng.normal(size=(600, 16)), subsets=20, subset_size=300)
    assert abs(same) < 0.05 * ref


def test_precision_and_recall_are_one_on_identical_sets_and_split_quality_from_coverage():
    x = torch.from_numpy(np.random.default_rng(3).normal(size=(1000, 8)))
    assert precision_recall(x, x) == (1.0, 1.0)
    # all samples close to one real point: high precision (quality), recall near zero (coverage)
    collapsed = x[:1] + 0.001 * torch.randn(1000, 8, dtype=torch.float64)
    p, r = precision_recall(collapsed, x)
    assert p == 1.0 and r < 0.05, (p, r)


def test_psnr_and_ssim_of_a_known_offset():
    target = torch.rand(4, 1, 16, 16) * 1.6 - 0.8
    psnr, ssim = psnr_ssim(target + 0.2, target)  # 0.1 on the [0, 1] scale: MSE 0.01 -> 20 dB
    assert abs(psnr - 20.0) < 1e-3 and 0.0 < ssim < 1.0
    assert abs(psnr_ssim(target, target)[1] - 1.0) < 1e-6


def test_cluster_accuracy_matches_clusters_to_classes_one_to_one():
    from ganthology.metrics import cluster_accuracy, clustering_scores

    labels = np.array([0, 0, 1, 1, 2, 2])
    assert cluster_accuracy([2, 2, 0, 0, 1, 1], labels) == 1.0  # a relabelling is perfect
    assert cluster_accuracy([0, 0, 0, 0, 0, 0], labels) == pytest.approx(2 / 6)  # one cluster: one class right
    assert cluster_accuracy([0, 1, 2, 3, 4, 5], labels) == pytest.approx(3 / 6)  # extra clusters count as errors
    s = clustering_scores([1, 1, 0, 0, 2, 2], labels)
    assert s["nmi"] == pytest.approx(1.0) and s["ari"] == pytest.approx(1.0)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_inception_score_of_k_even_confident_classes_is_k(k):
    probs = torch.eye(10)[torch.arange(990) % k]  # 990 splits evenly into 1, 3 or 10 classes
    mean, std = inception_score(probs, splits=1)
    assert abs(mean - k) < 1e-6 and std == 0.0
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
    ref = reference_images(lenet, data_root=DATA_ROOT)
    real_s = score_images(lenet, real, ref)
    noise_s = score_images(lenet, torch.rand(5000, 1, 32, 32) * 2 - 1, ref)
    torch.manual_seed(0)
    untrained = ganthology.build_model("dcgan", {}, train.info()).eval()
    untrained_s = evaluate_model(untrained, lenet, n=5000, data_root=DATA_ROOT)
    fd = "fd_mnist-lenet"
    assert real_s[fd] * 20 < min(noise_s[fd], untrained_s[fd]), (real_s, noise_s, untrained_s)
    assert real_s["is_mnist-lenet"] > 9.0 and real_s["classes_mnist-lenet"] == 10
    for key in ("kid_mnist-lenet",):
        assert real_s[key] * 20 < min(noise_s[key], untrained_s[key]), key
    # measured with 10,000: real 0.87 / 0.88; noise and untrained generators 1.0 / 0.0 -- their features
    # sit near the origin, inside the k-NN balls of atypical real digits, so only recall tells them apart
    assert real_s["precision_mnist-lenet"] > 0.5 and real_s["recall_mnist-lenet"] > 0.5
    assert noise_s["recall_mnist-lenet"] < 0.05 and untrained_s["recall_mnist-lenet"] < 0.05


@needs_mnist
def test_reference_features_are_cached_per_content_not_per_dataset_name(lenet, monkeypatch):
    """Two copies of "mnist" under different roots must not share cached features."""
    import ganthology.metrics.evaluate as ev_mod

    sets = {"a": torch.rand(64, 1, 28, 28) * 2 - 1, "b": torch.rand(64, 1, 28, 28) * 2 - 1}
    monkeypatch.setattr(ev_mod, "reference_images", lambda ev, dataset, root: sets[root])
    fa, _ = ev_mod.reference_features(lenet, "mnist", "a")
    fb, _ = ev_mod.reference_features(lenet, "mnist", "b")
    assert not torch.equal(fa, fb)
    cached = lambda: sorted(ev_mod.cache_dir().glob("references/mnist-lenet-*-mnist-*.pt"))  # noqa: E731
    before = cached()
    sets["a"] = sets["a"].clone()  # same content: the cache answers
    assert torch.equal(ev_mod.reference_features(lenet, "mnist", "a")[0], fa) and cached() == before


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
    assert {"fd_mnist-lenet", "kid_mnist-lenet", "precision_mnist-lenet", "is_mnist-lenet",
            "accuracy_mnist-lenet"} <= set(rec)
    assert "fd_mnist-lenet" in r.stdout
    r = run_cli("eval", str(out), "--n", "200", "--metrics", "fd,accuracy", "--json", str(tmp_path / "e.json"))
    assert r.returncode == 0, r.stderr
    assert set(json.loads((tmp_path / "e.json").read_text())) & {"kid_mnist-lenet", "is_mnist-lenet"} == set()
    r = run_cli("eval", str(out), "--metrics", "fid")
    assert r.returncode != 0 and "unknown metric fid" in r.stderr and "Traceback" not in r.stderr


@needs_mnist
def test_eval_scores_an_npz_and_a_folder_of_images_against_a_dataset(lenet, tmp_path):
    import json

    from ganthology.data import InMemoryLoader, build_dataset
    from ganthology.viz import save_images

    train = build_dataset("mnist", DATA_ROOT, train=True)
    real = InMemoryLoader(train, 1).fixed_batch(1000)["x"]
    to_u8 = ((real + 1) * 127.5).round().to(torch.uint8)
    np.savez(tmp_path / "real.npz", images=to_u8.permute(0, 2, 3, 1).numpy())  # (N, H, W, C)
    np.savez(tmp_path / "noise.npz", images=np.random.default_rng(0).integers(0, 256, (1000, 32, 32), np.uint8))
    folder = tmp_path / "pngs"
    save_images(real[:300], folder)
    scores = {}
    for name in ("real.npz", "noise.npz", "pngs"):
        r = run_cli("eval", str(tmp_path / name), "--reference", "mnist", "--metrics", "fd,kid",
                    "--json", str(tmp_path / f"{name}.json"))
        assert r.returncode == 0, r.stderr
        scores[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert scores["real.npz"]["evaluator"] == "mnist-lenet" and scores["real.npz"]["images"] == 1000
    assert scores["real.npz"]["fd_mnist-lenet"] * 20 < scores["noise.npz"]["fd_mnist-lenet"]
    assert scores["pngs"]["fd_mnist-lenet"] * 10 < scores["noise.npz"]["fd_mnist-lenet"]
    np.savez(tmp_path / "bad.npz", images=np.zeros((4, 32, 32), np.float32))
    r = run_cli("eval", str(tmp_path / "bad.npz"), "--reference", "mnist")
    assert r.returncode != 0 and "expected uint8 images" in r.stderr and "Traceback" not in r.stderr


@needs_mnist
def test_training_evaluates_every_n_steps_and_keeps_the_best_checkpoint(lenet, tmp_path):
    import csv
    import json

    out = tmp_path / "run"
    r = run_cli("train", "dcgan", "--dataset", "mnist", "--steps", "40", "--eval-every", "20", "--eval-n", "200",
                "--ngf", "8", "--ndf", "8", "--out", str(out), "--no-progress", "--data-root", DATA_ROOT)
    assert r.returncode == 0, r.stderr
    rows = [row for row in csv.DictReader(open(out / "metrics.csv")) if row.get("eval_fd_mnist-lenet")]
    values = {int(row["step"]): float(row["eval_fd_mnist-lenet"]) for row in rows}
    assert sorted(values) == [20, 40]
    best = json.loads((out / "checkpoints" / "best.json").read_text())
    assert best["metric"] == "fd_mnist-lenet" and best["value"] == pytest.approx(min(values.values()), rel=1e-5)
    assert best["step"] == min(values, key=values.get)
    ckpt = torch.load(out / "checkpoints" / "best.pt", map_location="cpu", weights_only=True)
    assert ckpt["step"] == best["step"]


def test_eval_every_with_an_untrained_evaluator_stops_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path / "empty"))
    r = run_cli("train", "dcgan", "--dataset", "digits", "--steps", "5", "--eval-every", "2",
                "--out", str(tmp_path / "run"), "--no-progress")
    assert r.returncode != 0 and "ganthology evaluator train digits-lenet" in r.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_inception_v3_without_weights_says_how_to_provide_them(tmp_path):
    r = run_cli("eval", str(tmp_path), "--evaluator", "inception-v3", "--reference", "digits",
                "--inception-weights", str(tmp_path / "missing.pth"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "--inception-weights" in r.stderr and "weights-inception-2015-12-05" in r.stderr


def test_inception_v3_runs_from_a_weights_file(tmp_path, monkeypatch):
    """The torch-fidelity network from a (random, same-shaped) weights file: 2048 pool features and
    1008 class probabilities per image; greyscale is repeated to RGB."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    from ganthology.metrics import load_evaluator

    with monkeypatch.context() as m:  # build once without weights to get a state dict of the right shape
        m.setattr(fe, "load_state_dict_from_url", lambda *a, **k: None)
        m.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        net = fe.FeatureExtractorInceptionV3("probe", ["2048"])
    torch.save(net.state_dict(), tmp_path / "w.pth")
    ev = load_evaluator("inception-v3", str(tmp_path / "w.pth"))
    feats, probs = ev.run(torch.rand(3, 1, 32, 32) * 2 - 1)
    assert feats.shape == (3, 2048) and probs.shape == (3, 1008)
    assert torch.allclose(probs.sum(1), torch.ones(3), atol=1e-5)


def test_untrained_evaluator_says_how_to_train_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path))
    r = run_cli("eval", "/nonexistent", "--evaluator", "mnist-lenet")
    assert r.returncode != 0 and "ganthology evaluator train mnist-lenet" in r.stderr and "Traceback" not in r.stderr


def test_eval_of_a_translation_model_and_of_a_toy_model(tmp_path):
    """Models without an image evaluator get their own numbers: psnr/ssim/l1 on held-out pairs,
    mode coverage on the 2-D toys."""
    import json

    r = run_cli("train", "pix2pix", "--steps", "2", "--ngf", "8", "--ndf", "8", "--out", str(tmp_path / "p2p"),
                "--no-progress")
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", str(tmp_path / "p2p"))
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "p2p" / "eval_heldout.json").read_text())
    assert rec["n"] == 300 and {"psnr", "ssim", "l1"} <= set(rec) and 0 < rec["ssim"] < 1
    assert ganthology.evaluate(tmp_path / "p2p", n=100)["n"] == 100  # --n: the first n held-out items
    r = run_cli("train", "gan", "--dataset", "ring8", "--steps", "2", "--out", str(tmp_path / "toy"),
                "--no-progress")
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", str(tmp_path / "toy"), "--n", "500")
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "toy" / "eval_modes.json").read_text())
    assert rec["num_modes"] == 8 and 0 <= rec["modes"] <= 8 and 0 <= rec["high_quality"] <= 1
    # the CLI is a thin layer over the Python API: the same record
    assert ganthology.evaluate(tmp_path / "toy", n=500) == rec
