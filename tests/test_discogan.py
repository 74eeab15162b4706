"""DiscoGAN: its networks as the paper builds them (at any channel count and a depth that follows the
image size), no paired loss (the PyTorch-GAN script's defect), the official code's extras as options,
its use on a user's images, exact resume, and that it learns."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import ganthology
from ganthology.metrics.evaluate import held_out_metrics
from ganthology.data import build_dataset
from ganthology.models.discogan import DiscoDiscriminator, DiscoGenerator

from .conftest import SEED, stopped_and_resumed, two_domain_info as _info, two_domain_batch as _batch

# the registry tests' tiny settings (tests/conftest.py TINY["discogan"])
TINY = dict(ngf=8, ndf=8, batch_size=4)


@pytest.mark.parametrize("c_in, c_out", [(1, 1), (1, 3), (3, 1), (3, 3)])
def test_networks_for_any_channel_count(c_in, c_out):
    G, D = DiscoGenerator(c_in, c_out, 32, ngf=8), DiscoDiscriminator(c_out, 32, ndf=8)
    y = G(torch.randn(2, c_in, 32, 32))
    assert y.shape == (2, c_out, 32, 32) and y.abs().max() <= 1
    logits, feats = D(y)
    assert logits.shape == (2,) and len(feats) == 2


@pytest.mark.parametrize("size, downs", [(64, 4), (32, 3), (16, 2)])
def test_depth_follows_the_image_size_down_to_4x4(size, downs):
    """Section 4.1: four stride-2 layers for the paper's 64x64 images; one fewer per halving."""
    G = DiscoGenerator(3, 3, size, ngf=8)
    convs = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == downs and all(c.stride == (2, 2) and c.kernel_size == (4, 4) for c in convs)
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in G.modules()) == downs
    h = torch.randn(1, 3, size, size)
    for m in G.net:
        h = m(h)
        if isinstance(m, torch.nn.LeakyReLU):
            last_enc = h.shape
    assert last_enc[-1] == 4, "the encoder ends at 4x4"
    D = DiscoDiscriminator(3, size, ndf=8)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in D.modules()) == downs + 1
    with pytest.raises(ganthology.GanthologyError, match="power-of-two"):
        ganthology.build_model("discogan", TINY, _info(1, 3, size=24))


def test_batchnorm_eps_is_small_and_leaky_relu_is_02():
    """PyTorch-GAN's BatchNorm2d(C, 0.8) sets eps, not momentum (its issue #116)."""
    model = ganthology.build_model("discogan", TINY, _info(1, 3))
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.eps <= 1e-3 for m in bns)
    assert all(m.negative_slope == 0.2 for m in model.modules() if isinstance(m, torch.nn.LeakyReLU))


def test_the_generator_loss_does_not_pair_a_with_b():
    """Unpaired: shuffling B relative to A in the batch leaves the generators' loss unchanged. The
    PyTorch-GAN script's extra L1(G_AB(A), B) on edges2shoes pairs (its issue #90) would not."""
    for extras in ({"fm_weight": 0.0}, {}):  # the paper's BCE, and the default feature matching
        model = ganthology.build_model("discogan", {**TINY, **extras}, _info(1, 3)).train()
        batch = _batch(n=8)
        perm = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
        loss, _, fake_B, _ = model.generator_loss(batch["A"], batch["B"])
        shuffled, *_ = model.generator_loss(batch["A"], batch["B"][perm])
        assert torch.allclose(loss, shuffled, rtol=1e-5, atol=1e-6)
        paired = F.l1_loss(fake_B, batch["B"])  # the script's supervision, for contrast
        assert not torch.allclose(paired, F.l1_loss(fake_B, batch["B"][perm]))


def test_reconstruction_in_both_directions():
    """Eq. 3-5: G_BA(G_AB(a)) ~ a and G_AB(G_BA(b)) ~ b, mean squared error by default."""
    model = ganthology.build_model("discogan", TINY, _info(1, 3)).train()
    b = _batch()
    torch.manual_seed(0)
    _, _, _, logs = model.generator_loss(b["A"], b["B"])
    expected = (F.mse_loss(model.G_BA(model.G_AB(b["A"])), b["A"]) + F.mse_loss(model.G_AB(model.G_BA(b["B"])), b["B"]))
    assert torch.allclose(logs["loss_recon"], expected.detach(), rtol=1e-5)


def test_official_extras_d_every_third_step_and_the_curriculum():
    """The official code: D alone on steps 0, 3, 6, ...; G alone on the others; recon weight 0.01
    during the curriculum, then 0.5."""
    model = ganthology.build_model("discogan", {**TINY, "d_every": 3, "curriculum_steps": 2}, _info(1, 3))
    assert [model.recon_rate(s) for s in (0, 1, 2, 3)] == [0.01, 0.01, 0.5, 0.5]
    b = _batch()
    moved = []
    for step in range(3):
        before = {k: v.clone() for k, v in model.named_parameters()}
        logs = model.train_step(b, step)
        moved.append(({k.split(".")[0] for k, v in model.named_parameters() if not torch.equal(v, before[k])}, set(logs)))
    assert moved[0] == ({"D_A", "D_B"}, {"loss_D_A", "loss_D_B"})
    assert moved[1][0] == moved[2][0] == {"G_AB", "G_BA"} and "loss_recon" in moved[1][1]
    # the paper: both every step
    model = ganthology.build_model("discogan", {**TINY, "d_every": 1}, _info(1, 3))
    before = {k: v.clone() for k, v in model.named_parameters()}
    model.train_step(b, 0)
    assert {k.split(".")[0] for k, v in model.named_parameters() if not torch.equal(v, before[k])} == {
        "G_AB", "G_BA", "D_A", "D_B"}


def test_stopped_and_resumed_it_continues_exactly(tmp_path, monkeypatch):
    """D every 3rd step and the curriculum depend on the step: stopped at 5 of 8 (Ctrl-C) and resumed,
    the same losses and weights."""
    stopped_and_resumed(monkeypatch, tmp_path, "discogan", 5,
                        dataset="digits2photo", steps=8, **{**TINY, "d_every": 3, "curriculum_steps": 4, "fm_weight": 0.9})


@pytest.mark.learning
def test_discogan_learns_to_translate_both_ways(tmp_path, expect, one_thread):
    """digits2photo, 1,000 steps of small networks at the defaults (about a minute on one
    core): the loop closes, and translations into the grey-digit domain land near it (FD in the digits
    evaluator's features), nearer than the colour inputs themselves, and keep their digit."""
    settings = dict(ngf=16, ndf=16, batch_size=4)
    torch.manual_seed(SEED)
    untrained = held_out_metrics(ganthology.build_model("discogan", settings, build_dataset("digits2photo").info()).eval())
    run = ganthology.train_model("discogan", dataset="digits2photo", steps=1000, seed=SEED,
                                 out=str(tmp_path / "run"), progress=False, sample_every=100000, **settings)
    trained = held_out_metrics(ganthology.load(run).eval())
    print("untrained", untrained, "\ntrained", trained)
    # measured at the defaults (feature matching 0.9, D every 3rd step; seeds 0-2, 1,000 steps):
    # cycle_l1 0.62 -> 0.26-0.28 (ratio 0.43-0.45); fd_BtoA 1437 -> 110-149 (ratio 0.076-0.104; the
    # identity's 261, ratio 0.42-0.57); digits kept 0.57-0.60 (untrained 0.10, the identity 0.59)
    expect(cycle_ratio=(trained["cycle_l1"] / untrained["cycle_l1"], "<", 0.6),
           fd_ratio=(trained["fd_BtoA"] / untrained["fd_BtoA"], "<", 0.15),
           fd_vs_identity=(trained["fd_BtoA"] / trained["identity_fd_BtoA"], "<", 0.7),
           digit_kept_BtoA=(trained["digit_kept_BtoA"], ">", 0.45))
