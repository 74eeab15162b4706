"""PixelDA (Bousmalis et al. 2017): the networks the paper describes, the two defects of the
PyTorch-GAN script (a Softmax before CrossEntropyLoss; a "target_acc" that was a running mean over
training batches in train mode), the source-only baseline, seeding, and a learning test on the
offline digits2photo domains."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.data.info import DataInfo, Part
from ganthology.models.pixelda import PixelDA

from .conftest import SEED, tiny

QUIET = dict(progress=False, sample_every=10**9, log_every=100)


def _info(c_s: int = 1, c_t: int = 3, s_s: int = 32, s_t: int = 32) -> DataInfo:
    parts = {"A": Part("domain A", (c_s, s_s, s_s), 0), "y": Part("label", (), 0),
             "B": Part("domain B", (c_t, s_t, s_t), 1)}
    return DataInfo(name="synthetic", channels=c_t, image_size=s_t, num_classes=10, in_channels=c_s, parts=parts)


def _batch(info: DataInfo, n: int = 6) -> dict:
    return {k: (torch.randint(10, (n,)) if p.role == "label" else torch.rand(n, *p.shape) * 2 - 1)
            for k, p in info.parts.items()}


def _model(info: DataInfo | None = None, **cfg) -> PixelDA:
    return ganthology.build_model("pixelda", {**tiny("pixelda"), **cfg}, info or _info())


def test_task_classifier_returns_logits_into_cross_entropy():
    """PyTorch-GAN's script ended T with nn.Softmax and fed that to CrossEntropyLoss (a softmax of
    probabilities). T's output must be the logits, and the task loss a plain log-softmax CE."""
    torch.manual_seed(0)
    model = _model()
    assert not any(isinstance(m, (torch.nn.Softmax, torch.nn.LogSoftmax)) for m in model.T.modules())
    x = torch.rand(16, 3, 32, 32) * 2 - 1
    logits = model.T(x)
    last = model.T.head[-1]
    features = model.T.head[:-1](model.T.features(x).flatten(1))
    assert torch.allclose(logits, last(features)), "T's output is its last linear layer: logits"
    y = torch.randint(10, (16,))
    manual = -torch.log_softmax(logits, dim=1)[torch.arange(16), y].mean()
    assert torch.allclose(model.task_loss(logits, y), manual)
    assert not torch.allclose(model.task_loss(logits, y), F.cross_entropy(logits.softmax(1), y))


@pytest.mark.parametrize("c_s,c_t,s_s", [(1, 3, 32), (3, 3, 32), (1, 3, 28)])
def test_generator_maps_source_channels_and_size_to_the_target(c_s, c_t, s_s):
    """G(x_s, z) makes target-style images from any source channel count (grey MNIST -> colour
    MNIST-M is 1 -> 3), a source of another size resized to the target's, and trains on them."""
    info = _info(c_s, c_t, s_s)
    torch.manual_seed(0)
    model = _model(info)
    batch = _batch(info)
    x = model.translate(batch["A"])
    assert x.shape == (6, c_t, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert model.input_spec() == (c_s, s_s)
    logs = model.train_step(batch, 0)
    assert all(torch.isfinite(v) for v in logs.values())
    assert model.classify(batch["A"]).shape == (6, 10)  # source images, shown to T as in training


def test_the_architecture_is_the_papers():
    """Figure 2 / section 4: z of 10 through FC to one image channel beside the source; conv 64 +
    ReLU, six residual blocks with BN, conv to the target channels + Tanh. D has dropout 0.1 and
    Gaussian noise on its input; it is active in training only."""
    from ganthology.models.pixelda import GaussianNoise
    from ganthology.nn import ResidualBlock

    model = ganthology.build_model("pixelda", {}, _info())
    G, D = model.G, model.D
    assert G.fc.in_features == 10 and G.fc.out_features == 32 * 32
    assert G.head[0].in_channels == 1 + 1 and G.head[0].out_channels == 64
    blocks = [m for m in G.blocks if isinstance(m, ResidualBlock)]
    assert len(blocks) == 6 and all(isinstance(m, torch.nn.BatchNorm2d) for b in blocks for m in b.body[1::3])
    assert G.tail[0].out_channels == 3 and isinstance(G.tail[1], torch.nn.Tanh)
    assert isinstance(D.features[0], GaussianNoise) and D.features[0].std == 0.2
    assert {m.p for m in D.modules() if isinstance(m, torch.nn.Dropout)} == {0.1}
    x = torch.rand(4, 3, 32, 32)
    D.eval()
    assert torch.equal(D(x), D(x)), "no noise or dropout at evaluation"
    cfg = model.cfg
    assert (cfg.alpha, cfg.beta, cfg.lr, cfg.beta1, cfg.batch_size) == (0.13, 0.011, 1e-3, 0.5, 32)


def test_task_classifier_trains_on_adapted_and_source_images():
    """Section 3: T is trained on both the adapted and the source images, with the source labels."""
    info = _info()
    torch.manual_seed(0)
    model = _model(info)
    batch = _batch(info)
    seen = []
    model.T.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach().clone()))
    logs = model.train_step(batch, 0)
    t_step = seen[0]  # the first call: T's own update
    assert t_step.shape[0] == 12
    assert torch.equal(t_step[6:], batch["A"].expand(-1, 3, -1, -1)), "the second half: the source images"
    assert not torch.equal(t_step[:6], t_step[6:])
    assert float(logs["loss_T"]) > float(logs["loss_T_adapted"]) > 0


def test_training_never_reads_the_target_labels():
    """Unsupervised adaptation: a dataset may carry the target's labels (y_B, for scoring); the
    update must be the same whatever they say."""
    parts = {**_info().parts, "y_B": Part("label", (), 1)}
    info = DataInfo(name="synthetic", channels=3, image_size=32, num_classes=10, in_channels=1, parts=parts)
    states = []
    for shift in (0, 3):
        torch.manual_seed(0)
        model = _model(info)
        batch = _batch(info)
        batch["y_B"] = (batch["y_B"] + shift) % 10
        model.train_step(batch, 0)
        states.append(model.state_dict())
    assert model.key_y == "y" and model.key_y_B == "y_B"
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_held_out_accuracy_is_measured_in_eval_mode_on_the_held_out_target_split():
    """The script's "target_acc" was a running mean over training batches in train mode. Here it is
    T's accuracy, in eval mode, on the whole held-out target split with its labels y_B."""
    data = build_dataset("digits2photo", train=False)
    torch.manual_seed(0)
    model = ganthology.build_model("pixelda", tiny("pixelda"), build_dataset("digits2photo").info())
    test = InMemoryLoader(data, 1).fixed_batch(len(data))
    modes, sizes = [], []

    def hook(m, inp, out):
        modes.append(m.training)
        sizes.append(inp[0].shape[0])

    model.T.register_forward_hook(hook)
    model.train()
    scores = model.held_out_metrics(test)
    assert set(scores) == {"target_acc", "source_acc"} == set(model.scores)
    assert modes and not any(modes), "T is evaluated in eval() mode"
    assert sum(sizes) == 2 * len(data) == 600, "every held-out target and source image, once"
    assert model.T.training, "the model's mode is restored"
    model.eval()
    with torch.no_grad():
        manual = (model.T(test["B"]).argmax(1) == test["y_B"]).float().mean()
    assert scores["target_acc"] == pytest.approx(float(manual))


def test_source_only_baseline_steps_the_classifier_alone():
    """`source_only`: the same T, optimizer and schedule, trained on source images only; G and D
    stay as built."""
    info = _info()
    torch.manual_seed(0)
    model = _model(info, source_only=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train_step(_batch(info), 0)
    assert set(model.opt) == {"T"}
    for k, v in model.state_dict().items():
        moved = not torch.equal(v, before[k])
        assert moved == k.startswith("T.") or "running" in k or "num_batches" in k, k


def test_learning_rate_falls_by_095_every_lr_decay_every_steps():
    info = _info()
    model = _model(info, lr_decay_every=2)
    model.setup_optimizers()
    assert set(model.sched) == set(model.opt) == {"D", "T", "G"}
    rates = []
    for _ in range(5):
        rates.append(model.sched["G"].get_last_lr()[0])
        for o in model.opt.values():
            o.step()  # no gradients: nothing moves, but the schedule is stepped in the trainer's order
        for s in model.sched.values():
            s.step()
    assert rates == pytest.approx([1e-3, 1e-3, 0.95e-3, 0.95e-3, 0.95**2 * 1e-3])


def test_seeding_torch_alone_makes_two_one_step_runs_identical():
    """Noise (z, D's Gaussian noise, dropout) comes from torch's RNG only, never numpy's."""
    info = _info()
    states = []
    for np_seed in (1, 2):
        np.random.seed(np_seed)
        torch.manual_seed(7)
        model = _model(info)
        batch = _batch(info)
        model.train_step(batch, 0)
        states.append((model.state_dict(), model.translate(batch["A"])))
    (a, xa), (b, xb) = states
    assert all(torch.equal(a[k], b[k]) for k in a) and torch.equal(xa, xb)


def test_refuses_data_without_source_labels():
    parts = {"A": Part("domain A", (1, 32, 32), 0), "B": Part("domain B", (3, 32, 32), 1)}
    with pytest.raises(ganthology.GanthologyError, match="label"):
        ganthology.build_model("pixelda", {}, DataInfo(name="x", channels=3, image_size=32, parts=parts))


# Learning: on digits2photo (sklearn's digits over packaged photos, the offline MNIST-M in small),
# PixelDA's T beats the same T trained on the source alone with the same budget, on held-out target
# images. Small widths (G 16 filters, 2 blocks; D 16; T 16/24, fc 50), 200 steps of 32.
WIDTHS = dict(ngf=16, n_blocks=2, ndf=16, ntf=16, t_fc=50, batch_size=32)
STEPS = 200


def _target_acc(tmp_path, **cfg) -> dict:
    run = ganthology.train_model("pixelda", dataset="digits2photo", steps=STEPS, seed=SEED,
                                 out=str(tmp_path / ("so" if cfg.get("source_only") else "da")), **QUIET, **WIDTHS, **cfg)
    from ganthology.metrics.evaluate import held_out_metrics

    return held_out_metrics(ganthology.load(run))


@pytest.mark.learning
def test_pixelda_beats_source_only_on_held_out_target_digits(tmp_path, expect, one_thread):
    adapted = _target_acc(tmp_path)
    source_only = _target_acc(tmp_path, source_only=True)
    gain = adapted["target_acc"] - source_only["target_acc"]
    print(f"target accuracy: pixelda {adapted['target_acc']:.3f}, source only {source_only['target_acc']:.3f}")
    # seeds 0, 1, 2: pixelda 0.683 / 0.657 / 0.640, source only 0.527 / 0.513 / 0.533; gain 0.157 /
    # 0.143 / 0.107 (an untrained T: about 0.1, gain about 0)
    expect(target_gain=(gain, ">", 0.05), target_acc=(adapted["target_acc"], ">", 0.5))
