"""Regression tests for the unconditional family (LSGAN, WGAN, WGAN-div, DRAGAN, BGAN, Softmax GAN,
Relativistic GAN): the known defects of the reference scripts, and the papers' update rules."""
from __future__ import annotations

import copy

import pytest
import torch

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.errors import GanthologyError
from ganthology.losses import dragan_penalty, wgan_div_penalty
from ganthology.train.checkpoint import load_checkpoint

from .conftest import tiny

NEW = ["lsgan", "wgan", "wgan_div", "dragan", "bgan", "softmax_gan", "relativistic_gan"]


def _build(name: str, seed: int = 0, **overrides):
    data = build_dataset("digits")
    torch.manual_seed(seed)
    model = ganthology.build_model(name, {**tiny(name), **overrides}, data.info())
    return model.train(), InMemoryLoader(data, model.cfg.batch_size, seed=seed)


@pytest.mark.parametrize("variant", ["standard", "average"])
def test_relativistic_generator_step_uses_the_critic_on_real_data(variant):
    """Known defect of the reference script: the relativistic G loss was computed and then
    overwritten by a plain one. The loss G's optimizer steps on must depend on C(x_r)."""
    model, loader = _build("relativistic_gan", variant=variant)
    batch = loader.next()
    x = batch["x"]
    seen = []

    def hook(module, inputs, output):
        if not any(p.requires_grad for p in module.parameters()):  # D frozen: G's step
            output = output.detach().requires_grad_(True)  # a leaf, to differentiate against
            seen.append((torch.equal(inputs[0], x), output))
        return output

    grads = {}
    update = model.update

    def spy(name, loss):  # the gradient of the loss G steps on w.r.t. C(x_r), before its backward
        if name == "G":
            real_scores = [out for is_real, out in seen if is_real]
            assert real_scores, "G's step evaluates the critic on the real batch"
            (grads["real"],) = torch.autograd.grad(loss, real_scores[0], retain_graph=True)
        update(name, loss)

    handle = model.D.register_forward_hook(hook)
    model.update = spy
    try:
        model.train_step(batch, 0)
    finally:
        handle.remove()
    assert grads["real"].abs().min() > 0, "loss_G moves with every real sample's critic score"


def test_relativistic_variant_is_checked():
    with pytest.raises(ganthology.GanthologyError, match="variant"):
        _build("relativistic_gan", variant="relative")


def test_dragan_step_penalizes_perturbed_real_points_with_the_configured_C_and_k():
    """The logged penalty is exactly dragan_penalty(D, x, C, k) with the model's D before the step
    and the same random draws (one flattened gradient norm per sample, see test_losses)."""
    model, loader = _build("dragan", perturb_scale=3.0, k=0.5)
    reference = copy.deepcopy(model)
    batch = loader.next()
    torch.manual_seed(7)
    logs = model.train_step(batch, 0)
    torch.manual_seed(7)
    torch.randn(batch["x"].shape[0], model.cfg.z_dim)  # the step's noise draw for G
    expected = dragan_penalty(reference.D, batch["x"], C=3.0, k=0.5)
    assert torch.allclose(logs["penalty"], expected.detach(), rtol=1e-5)


@pytest.mark.parametrize("critic_norm", ["none", "layer"])
def test_wgan_div_step_scores_real_and_fake_in_one_pass_with_the_penalty_of_losses(critic_norm):
    """The step's single critic pass over real and fake together gives the same Wasserstein estimate
    and divergence term as separate passes and `losses.wgan_div_penalty` (the critic is per sample)."""
    model, loader = _build("wgan_div", critic_norm=critic_norm, k=3.0, p=4.0)
    reference = copy.deepcopy(model)
    batch = loader.next()
    torch.manual_seed(7)
    logs = model.train_step(batch, 0)  # a critic-only step
    torch.manual_seed(7)
    with torch.no_grad():
        fake = reference.G(torch.randn(batch["x"].shape[0], model.cfg.z_dim))
        wdist = reference.D(batch["x"]).mean() - reference.D(fake).mean()
    div = wgan_div_penalty(reference.D, batch["x"], fake, k=3.0, p=4.0)
    assert torch.allclose(logs["div"], div.detach(), rtol=1e-4)
    assert torch.allclose(logs["wasserstein"], wdist, rtol=1e-4, atol=1e-6)


def test_wgan_div_refuses_a_batchnorm_critic():
    with pytest.raises(ganthology.GanthologyError, match="per sample"):
        _build("wgan_div", critic_norm="batch")


@pytest.mark.parametrize("name", ["dragan", "wgan_div"])
def test_per_sample_penalties_have_no_batchnorm_in_D(name):
    model, _ = _build(name)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.D.modules())


def test_wgan_clips_the_critic_after_every_critic_step():
    model, loader = _build("wgan")
    c = model.cfg.clip_value
    assert max(p.abs().max() for p in model.D.parameters()) > c, "DCGAN init exceeds c: clipping is visible"
    for step in range(model.cfg.n_critic):
        model.train_step(loader.next(), step)
        assert all(p.abs().max() <= c for p in model.D.parameters()), f"after critic step {step}"
    assert max(p.abs().max() for p in model.G.parameters()) > c, "the generator is not clipped"
    assert isinstance(model.opt["D"], torch.optim.RMSprop) and model.opt["D"].param_groups[0]["lr"] == 5e-5


def test_wgan_clipped_critic_is_what_the_trainer_checkpoints(tmp_path):
    out = ganthology.train_model("wgan", dataset="digits", steps=3, out=str(tmp_path / "run"), progress=False,
                                 sample_every=10**9, log_every=1, channels_last=False, **tiny("wgan"))
    state = load_checkpoint(out / "checkpoints" / "last.pt")["state"]
    critic = [v for k, v in state.items() if k.startswith("D.") and v.is_floating_point() and "running" not in k]
    assert critic and all(v.abs().max() <= 0.01 for v in critic)


@pytest.mark.parametrize("name", NEW)
def test_batchnorm_keeps_pytorch_defaults(name):
    """Known defect of the reference scripts: nn.BatchNorm2d(C, 0.8) sets eps = 0.8."""
    model, _ = _build(name)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert bns, "the DCGAN generator has BatchNorm"
    for m in bns:
        assert m.eps == 1e-5 and m.momentum == 0.1, (name, m)


@pytest.mark.parametrize("name", NEW)
def test_models_build_for_two_dimensional_vector_data(name):
    """The networks come from nn.factory, so each model also trains on 2-D toy data (ring8, grid25)."""
    from ganthology.models.base import DataInfo

    info = DataInfo(name="toy", channels=1, image_size=1, dim=2)
    torch.manual_seed(0)
    model = ganthology.build_model(name, tiny(name), info).train()
    steps = getattr(model.cfg, "n_critic", 1)
    for step in range(steps):
        logs = model.train_step({"x": torch.randn(8, 2)}, step)
        assert all(torch.isfinite(v) for v in logs.values())
    assert "loss_G" in logs and model.sample(5).shape == (5, 2)


# --- BEGAN's optional refinements (section 3.5.1) -----------------------------------------------
def _began(image_size: int = 16, **overrides):
    from ganthology.models.base import DataInfo

    torch.manual_seed(0)
    return ganthology.build_model("began", {**tiny("began"), **overrides}, DataInfo("t", 1, image_size)).train()


def test_began_vanishing_residuals_start_as_identity_and_fade_out_linearly():
    """in_{x+1} = carry in_x + (1 - carry) out_x around each same-sized conv, the carry falling from 1
    to 0 over `vanishing_steps` steps: at step 0 those convs are skipped, from the last step on they
    are plain layers."""
    from ganthology.models.began import VanishingResidual

    assert not any(isinstance(m, VanishingResidual) for m in _began().modules())
    model = _began(vanishing_steps=4)
    residuals = [m for m in model.modules() if isinstance(m, VanishingResidual)]
    # G: two at 8x8 and one at 16x16 (with skip, the default, the first conv after an up-sampling
    # takes 2n channels: not same-sized); D's encoder two per level and two at the top; its decoder as G
    assert len(residuals) == 3 + 4 + 3
    assert len([m for m in _began(vanishing_steps=4, skip=False).modules() if isinstance(m, VanishingResidual)]) == 12
    x = torch.randn(3, 8, 5, 5)
    r = residuals[0]
    r.carry.fill_(1.0)
    assert torch.equal(r(x), x)
    r.carry.fill_(0.0)
    assert torch.equal(r(x), r.layer(x))
    batch = {"x": torch.rand(8, 1, 16, 16) * 2 - 1}
    for step, carry in [(0, 1.0), (1, 0.75), (2, 0.5), (4, 0.0), (9, 0.0)]:
        model.train_step(batch, step)
        assert all(m.carry.item() == carry for m in residuals), (step, carry)


def test_began_skip_connections_concatenate_the_upsampled_h0_after_each_upsampling():
    """Section 3.5.1: after each up-sampling, G's (and the decoder's) tensor is concatenated with h_0,
    the first 8x8xn tensor, up-sampled to the same size."""
    model = _began(image_size=32)  # on by default
    n, G = model.cfg.n, model.G
    seen = {}
    for level in (1, 2):
        G.blocks[level].register_forward_pre_hook(lambda m, a, level=level: seen.__setitem__(level, a[0]))
    z = model.noise(4)
    assert model.generate(z).shape == (4, 1, 32, 32)
    h0 = G.fc(z).view(4, n, 8, 8)
    for level, size in [(1, 16), (2, 32)]:
        assert seen[level].shape == (4, 2 * n, size, size)
        torch.testing.assert_close(seen[level][:, n:], torch.nn.functional.interpolate(h0, size=size))
    assert model.D.decoder.skip and model.D.decoder.blocks[2][0][0].in_channels == 2 * n
    assert _began(image_size=32, skip=False).G.blocks[1][0][0].in_channels == n  # section 3.5 without 3.5.1


def test_began_reconstruction_loss_follows_eq1_for_both_etas():
    """Eq. 1: L(v) = |v - D(v)|^eta, eta in {1, 2}, averaged over elements and the batch; any other
    eta is refused with a sentence, not a traceback."""
    v = torch.rand(4, 1, 16, 16) * 2 - 1
    for eta in (1, 2):
        model = _began(eta=eta)
        with torch.no_grad():
            torch.testing.assert_close(model.recon_loss(v), (v - model.D(v)).abs().pow(eta).mean())
    with pytest.raises(GanthologyError, match=r"--eta 3 is out of range; give a number from 1 to 2\."):
        _began(eta=3)
