"""DANN (Ganin et al. 2016): the gradient reversal layer, the lambda and learning-rate schedules of
section 5.2.2, the MNIST network, that the target's labels never reach the loss, the baselines'
modes, a model that makes no images through the CLI, exact resume, and a learning test on the
offline digits2photo domains."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

import ganthology
from ganthology.data.info import DataInfo, Part
from ganthology.models.dann import DANN, adaptation_factor, annealed_lr_factor, grad_reverse

from .conftest import SEED, run_cli, stopped_and_resumed, tiny

QUIET = dict(progress=False, sample_every=10**9, log_every=100)


def _info(c_s: int = 1, c_t: int = 3, size: int = 32) -> DataInfo:
    parts = {"A": Part("domain A", (c_s, size, size), 0), "y": Part("label", (), 0),
             "B": Part("domain B", (c_t, size, size), 1), "y_B": Part("label", (), 1)}
    return DataInfo(name="synthetic", channels=c_t, image_size=size, num_classes=10, in_channels=c_s, parts=parts)


def _batch(info: DataInfo, n: int = 6) -> dict:
    g = torch.Generator().manual_seed(1)
    return {k: (torch.randint(10, (n,), generator=g) if p.role == "label" else torch.rand(n, *p.shape, generator=g) * 2 - 1)
            for k, p in info.parts.items()}


def _model(info: DataInfo | None = None, **cfg) -> DANN:
    return ganthology.build_model("dann", {**tiny("dann"), **cfg}, info or _info())


def test_gradient_reversal_is_identity_forward_and_minus_lambda_backward():
    """Section 3.3, eq. 18-19: R(x) = x, dR/dx = -lambda I: grad of sum(w * R(x)) is -lambda w."""
    x = torch.randn(5, 7, requires_grad=True)
    w = torch.randn(5, 7)
    for lambd in (0.0, 0.3, 1.0):
        y = grad_reverse(x, lambd)
        assert torch.equal(y, x)
        (g,) = torch.autograd.grad((w * y).sum(), x)
        assert torch.allclose(g, -lambd * w)


def test_lambda_and_learning_rate_schedules_are_the_papers():
    """Section 5.2.2: lambda_p = 2 / (1 + exp(-10 p)) - 1; eta_p = 0.01 / (1 + 10 p)^0.75."""
    assert adaptation_factor(0.0) == 0.0
    assert adaptation_factor(1.0) == pytest.approx(0.99991, abs=1e-5)
    assert adaptation_factor(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert annealed_lr_factor(0.0) == 1.0
    model = _model(lr=0.01, schedule_steps=0)  # over the run's length
    model.total_steps = 10
    model.setup_optimizers()
    opt, sched = model.opt["T"], model.sched["T"]
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
    rates = []
    for _ in range(11):
        rates.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert rates[0] == pytest.approx(0.01)
    assert rates[5] == pytest.approx(0.01 / 6 ** 0.75)
    assert rates[10] == pytest.approx(0.01 / 11 ** 0.75)


def test_lambda_follows_the_runs_progress():
    info = _info()
    assert _model(info, schedule_steps=40).progress(10) == 0.25
    model = _model(info, schedule_steps=0)
    model.total_steps = 100
    lams = [float(model.train_step(_batch(info), s)["lambda"]) for s in (0, 50, 100)]
    assert lams == pytest.approx([0.0, adaptation_factor(0.5), adaptation_factor(1.0)])


def test_the_network_is_the_papers_mnist_architecture():
    """conv5-32, pool, conv5-48, pool; label head fc100-fc100-fc10; domain head fc100-fc1."""
    model = ganthology.build_model("dann", {}, _info())
    convs = [m for m in model.T.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(32, (5, 5)), (48, (5, 5))]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.T.features) == 2
    assert [m.out_features for m in model.T.head if isinstance(m, torch.nn.Linear)] == [100, 100, 10]
    assert [m.out_features for m in model.D.modules() if isinstance(m, torch.nn.Linear)] == [100, 1]
    assert not any(isinstance(m, torch.nn.Softmax) for m in model.modules())
    c = model.cfg
    assert (c.lr, c.momentum, c.gamma, c.lr_alpha, c.lr_beta, c.mode) == (0.01, 0.9, 10.0, 10.0, 0.75, "adapt")


def test_features_get_the_reversed_domain_gradient_and_the_domain_classifier_the_plain_one():
    """One descent step on L_y + L_d through the GRL: dG_f = dL_y/df - lambda dL_d/df, dG_d = dL_d/dd."""
    info = _info()
    torch.manual_seed(0)
    model = _model(info, schedule_steps=0)
    model.total_steps = 4
    batch = _batch(info)
    captured = {}
    model.update = lambda name, loss: captured.setdefault("loss", loss)
    model.train_step(batch, 2)
    lambd = adaptation_factor(0.5)
    params = list(model.T.features.parameters()) + list(model.D.parameters())
    got = torch.autograd.grad(captured["loss"], params)
    # by hand, without the GRL
    x = torch.cat([batch["A"].expand(-1, 3, -1, -1), batch["B"]])
    f = model.T.features(x).flatten(1)
    loss_y = F.cross_entropy(model.T.head(f[:6]), batch["y"])
    loss_d = F.binary_cross_entropy_with_logits(model.D(f).squeeze(1), torch.cat([torch.zeros(6), torch.ones(6)]))
    nf = len(list(model.T.features.parameters()))
    gy = torch.autograd.grad(loss_y, params[:nf], retain_graph=True)
    gd = torch.autograd.grad(loss_d, params)
    for a, b, c in zip(got[:nf], gy, gd[:nf]):
        assert torch.allclose(a, b - lambd * c, atol=1e-6)
    for a, c in zip(got[nf:], gd[nf:]):
        assert torch.allclose(a, c, atol=1e-6)


@pytest.mark.parametrize("mode", ["adapt", "source_only"])
def test_target_labels_never_reach_the_loss(mode):
    """Unsupervised adaptation: the target's labels (y_B, for scoring) may be anything."""
    info = _info()
    states = []
    for shift in (0, 3):
        torch.manual_seed(0)
        model = _model(info, mode=mode)
        model.total_steps = 10
        batch = _batch(info)
        batch["y_B"] = (batch["y_B"] + shift) % 10
        for step in range(2):
            model.train_step(batch, step)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_baseline_modes():
    """source_only: no domain branch in the optimizer, trained on the source labels; target_only:
    trained on the target's labels (the upper bound), its update does depend on them."""
    info = _info()
    m = _model(info, mode="source_only")
    m.setup_optimizers()
    ids = {id(p) for p in m.opt["T"].param_groups[0]["params"]}
    assert not any(id(p) in ids for p in m.D.parameters())
    states = []
    for shift in (0, 3):
        torch.manual_seed(0)
        model = _model(info, mode="target_only")
        batch = _batch(info)
        batch["y_B"] = (batch["y_B"] + shift) % 10
        model.train_step(batch, 0)
        states.append(model.state_dict())
    assert not all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    with pytest.raises(ganthology.GanthologyError, match="mode"):
        _model(info, mode="both")


@pytest.mark.parametrize("c_s,c_t", [(1, 3), (3, 3), (1, 1)])
def test_channels(c_s, c_t):
    info = _info(c_s, c_t)
    model = _model(info)
    logs = model.train_step(_batch(info), 0)
    assert all(torch.isfinite(v) for v in logs.values())
    b = _batch(info)
    assert model.classify(b["A"]).shape == model.classify(b["B"]).shape == (6, 10)


def test_held_out_accuracy_in_eval_mode_on_target_then_source():
    info = _info()
    model = _model(info)
    b = _batch(info, 50)
    model.train()
    scores = model.held_out_metrics(b)
    assert list(scores) == list(model.scores) == ["target_acc", "source_acc"]
    assert model.T.training
    with torch.no_grad():
        model.eval()
        manual = (model.T(b["B"]).argmax(1) == b["y_B"]).float().mean()
    assert scores["target_acc"] == pytest.approx(float(manual))


def test_a_model_without_images_refuses_to_sample():
    model = _model()
    assert DANN.kind() == "adaptation" and not DANN.generates and model.scored_by_claim
    with pytest.raises(ganthology.GanthologyError, match="no images"):
        model.sample(4)


def test_exact_resume(monkeypatch, tmp_path):
    full, _, _ = stopped_and_resumed(monkeypatch, tmp_path, "dann", 3, dataset="digits2photo", steps=6,
                                     **{**tiny("dann"), "schedule_steps": 0})  # the schedules span the run
    assert float(full[-1]["lr_T"]) < float(full[0]["lr_T"]), "the learning rate anneals over the run"


def test_cli_train_eval_and_sample(tmp_path):
    run = tmp_path / "run"
    r = run_cli("train", "dann", "--dataset", "digits2photo", "--steps", "3", "--out", str(run), "--no-progress",
                "--batch-size", "8", "--mode", "source_only")
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", str(run), "--json", str(tmp_path / "e.json"))
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "e.json").read_text())
    assert rec["scored_by"] == "heldout" and 0 <= rec["target_acc"] <= 1 and 0 <= rec["source_acc"] <= 1
    r = run_cli("sample", str(run))
    assert r.returncode != 0 and "no images" in r.stderr and "Traceback" not in r.stderr
    from ganthology.cli import model_table

    assert any(line.split()[0] == "dann" and "adaptation" in line for line in model_table().splitlines())


# Learning: on digits2photo (sklearn's digits over packaged photos, the offline MNIST-M in small),
# DANN beats the same network trained on the source alone (same recipe and steps) on held-out
# target images.
STEPS = 500


def _target_acc(tmp_path, mode: str) -> dict:
    from ganthology.metrics.evaluate import held_out_metrics

    run = ganthology.train_model("dann", dataset="digits2photo", steps=STEPS, seed=SEED, out=str(tmp_path / mode),
                                 mode=mode, **QUIET)
    return held_out_metrics(ganthology.load(run))


@pytest.mark.learning
def test_dann_beats_source_only_on_held_out_target_digits(tmp_path, expect, one_thread):
    adapted = _target_acc(tmp_path, "adapt")
    source_only = _target_acc(tmp_path, "source_only")
    gain = adapted["target_acc"] - source_only["target_acc"]
    print(f"target accuracy: dann {adapted['target_acc']:.3f}, source only {source_only['target_acc']:.3f}")
    # seeds 0, 1, 2 (500 steps, ~1.5 min on one core): dann 0.620 / 0.613 / 0.643, source only 0.503 / 0.487 /
    # 0.517, gain 0.117 / 0.126 / 0.126. At 1,000 steps (43 epochs of this small set) lambda near 1 made the
    # domain loss explode on seed 0 (chance, 0.100): the test stays at 500. Untrained: 0.107 for both, gain 0
    expect(target_gain=(gain, ">", 0.05), target_acc=(adapted["target_acc"], ">", 0.5))
