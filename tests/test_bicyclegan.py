"""BicycleGAN: its parts as the paper and the official code build them, the defects of the
PyTorch-GAN script it must not repeat, its use on a user's images, and that it learns a one-to-many
mapping."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.data.info import DataInfo, Part
from ganthology.models.bicyclegan import Encoder, Generator, MultiScaleDiscriminator

from .conftest import SEED, run_cli, stopped_and_resumed

# the registry tests' tiny settings (tests/conftest.py TINY); decay_from=1.0: no decay, as cyclegan
TINY = dict(ngf=8, nef=8, ndf=8, decay_from=1.0, batch_size=4)


def _info(c_a: int, c_b: int, size: int = 32) -> DataInfo:
    return DataInfo(name="pairs", channels=c_b, image_size=size, paired=True, in_channels=c_a, parts={
        "A": Part("input", (c_a, size, size), 0), "B": Part("target", (c_b, size, size), 0)})


def _batch(c_a: int, c_b: int, n: int = 4, size: int = 32) -> dict:
    return {"A": torch.rand(n, c_a, size, size) * 2 - 1, "B": torch.rand(n, c_b, size, size) * 2 - 1}


def test_z_is_tiled_over_the_image_and_concatenated_to_the_input():
    """Section 3.5 (add_to_input): every pixel gets all of z. The script mapped z through a Linear
    layer to one H x W channel instead."""
    G = Generator(1, 3, z_dim=8, size=32, ngf=8, dropout=0.0)
    x, z = torch.randn(2, 1, 32, 32), torch.randn(2, 8)
    xz = G.with_z(x, z)
    assert xz.shape == (2, 9, 32, 32) and torch.equal(xz[:, :1], x)
    assert torch.equal(xz[:, 1:], z[:, :, None, None].expand(-1, -1, 32, 32)), "constant over H x W, equal to z"
    assert G.unet.down[0][0].in_channels == 1 + 8
    assert not torch.allclose(G(x, z), G(x, torch.randn(2, 8))), "the output depends on z"


@pytest.mark.parametrize("size, stages", [(16, 0), (32, 1), (64, 2), (128, 3), (256, 4)])
def test_the_encoder_adapts_to_the_image_size(size, stages):
    """The script's AvgPool2d(8) fitted 128x128 images only; the official E_ResNet ends on an 8x8 map
    (resnet_128: 3 stages, resnet_256: 4), and so does ours at every size."""
    E = Encoder(3, 8, size, nef=8)
    assert sum(type(m).__name__ == "BasicBlock" for m in E.modules()) == stages
    x = torch.randn(2, 3, size, size)
    assert E.conv[:-3](x).shape[2:] == (8, 8)
    mu, logvar = E(x)
    assert mu.shape == logvar.shape == (2, 8)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [32, 64])
def test_the_two_scale_discriminator_builds_for_any_channel_count(channels, size):
    """PyTorch-GAN's MultiDiscriminator referred to an undefined `in_channels` (its issue #105)."""
    D = MultiScaleDiscriminator(channels, size, ndf=8, n_layers=3, num_Ds=2)
    out = D(torch.randn(2, channels, size, size))
    assert len(out) == 2 and all(o.shape[:2] == (2, 1) and o.shape[2] >= 2 for o in out)
    assert D.down(torch.randn(1, channels, size, size)).shape[2] == size // 2, "the second scale sees the image halved"
    assert D.scales[1].net[0].out_channels == 4, "half the width at half the scale (official D_NLayersMulti)"


def test_the_latent_loss_updates_G_only():
    """Section 3.4: the latent regression ||z - E(G(A, z))||_1 trains G, not E (E would otherwise
    learn to read whatever G hides)."""
    model = ganthology.build_model("bicyclegan", TINY, _info(1, 3))
    t = model.losses(_batch(1, 3))
    t["latent"].backward()
    assert all(p.grad is None or not p.grad.any() for p in model.E.parameters()), "E untouched"
    assert any(p.grad is not None and p.grad.any() for p in model.G.parameters()), "G moves"
    model.zero_grad(set_to_none=True)
    t = model.losses(_batch(1, 3))
    (t["l1"] + t["kl"]).backward()
    assert any(p.grad is not None and p.grad.any() for p in model.E.parameters()), "the cVAE terms train E"


def test_the_batch_is_split_between_the_branches():
    """Official bicycle_gan_model.py: the first half (A1, B1) feeds the cVAE-GAN and, with random z,
    the cLR-GAN; the second half's targets B2 are only D2's real images (the script used one batch
    for both). An odd batch cannot be split."""
    model = ganthology.build_model("bicyclegan", TINY, _info(1, 3))
    batch = _batch(1, 3)
    torch.manual_seed(0)
    a = model.losses(batch)
    other = dict(batch, B=torch.cat([batch["B"][:2], torch.rand(2, 3, 32, 32)]))
    torch.manual_seed(0)
    b = model.losses(other)
    for k in ("gan", "gan2", "kl", "l1", "latent"):
        assert torch.equal(a[k], b[k]), f"{k} does not see B2"
    assert a["fake_encoded"].shape[0] == a["fake_random"].shape[0] == 2 and torch.equal(b["B2"], other["B"][2:])
    with pytest.raises(ganthology.GanthologyError, match="even"):
        ganthology.build_model("bicyclegan", {**TINY, "batch_size": 3}, _info(1, 3))


def test_no_batchnorm_with_eps_as_momentum_and_instance_norm_as_the_official_code():
    model = ganthology.build_model("bicyclegan", TINY, _info(1, 3))
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            assert m.eps <= 1e-3
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()), "--norm instance"
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in model.G.modules())


@pytest.mark.parametrize("c_a, c_b", [(1, 1), (1, 3), (3, 1), (3, 3)])
def test_steps_and_translates_for_one_and_three_channels(c_a, c_b):
    model = ganthology.build_model("bicyclegan", TINY, _info(c_a, c_b))
    logs = model.train_step(_batch(c_a, c_b), 0)
    assert set(logs) >= {"loss_D", "loss_D2", "loss_L1", "loss_kl", "loss_latent"}
    assert all(torch.isfinite(v) for v in logs.values())
    x = torch.rand(3, c_a, 32, 32) * 2 - 1
    assert model.translate(x).shape == (3, c_b, 32, 32)
    assert model.encode_target(torch.rand(3, c_b, 32, 32)).shape == (3, 8)


def test_translate_draws_a_new_z_on_every_call_from_torchs_rng():
    model = ganthology.build_model("bicyclegan", TINY, _info(1, 3)).eval()
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert model.multimodal and not model.has_latent_space and model.encode is None
    torch.manual_seed(1)
    a, b = model.translate(x), model.translate(x)
    torch.manual_seed(1)
    assert not torch.equal(a, b) and torch.equal(model.translate(x), a)
    z = model.encode_target(torch.rand(2, 3, 32, 32))
    assert torch.equal(model.translate_with(x, z), model.translate_with(x, z)), "a given z is deterministic"
    with pytest.raises(ganthology.GanthologyError, match="32x32"):
        model.translate(torch.rand(1, 1, 16, 16))


def test_translate_in_the_style_of_a_reference_image():
    """z read by E from a user's reference image (any size, grey or colour): every output takes it."""
    model = ganthology.build_model("bicyclegan", TINY, _info(1, 3)).eval()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    ref = torch.rand(1, 3, 32, 32) * 2 - 1
    z = model.encode_target(ref)
    assert torch.equal(model.translate(x, style=ref), model.translate_with(x, z.expand(3, -1)))
    assert model.translate(x, style=torch.rand(1, 1, 50, 40)).shape == (3, 3, 32, 32)
    with pytest.raises(ganthology.GanthologyError, match="one grey or colour image"):
        model.translate(x, style=torch.rand(2, 3, 32, 32))


def test_held_out_metrics_add_fidelity_with_the_encoded_z_and_z_recovery():
    test = build_dataset("edges2photodigits", train=False)
    model = ganthology.build_model("bicyclegan", TINY, test.info()).eval()
    m = model.held_out_metrics(InMemoryLoader(test, 1).fixed_batch(64))
    for k in ("psnr", "ssim", "l1", "psnr_encoded", "l1_encoded", "z_recovery", "z_recovery_baseline",
              "digit_kept", "fd", "diversity"):
        assert k in m, k
    assert next(iter(model.scores)) in m


def test_the_learning_rate_decays_linearly_to_zero_over_the_second_half():
    """Official --niter 100 --niter_decay 100 (lr_policy linear), for G and E and both Ds."""
    model = ganthology.build_model("bicyclegan", {**TINY, "decay_from": 0.5}, _info(1, 3))
    model.total_steps = 100
    model.setup_optimizers()
    assert set(model.sched) == {"G", "D", "D2"}
    for s in range(100):
        lr = model.opt["D2"].param_groups[0]["lr"]
        assert lr == (2e-4 if s <= 50 else pytest.approx(2e-4 * (100 - s) / 50))
        for k in model.opt:
            model.opt[k].step()
            model.sched[k].step()
    assert model.opt["G"].param_groups[0]["lr"] == 0


def test_translate_several_outputs_per_input_on_a_users_images(tmp_path):
    run = ganthology.train_model("bicyclegan", dataset="edges2photodigits", steps=2, out=str(tmp_path / "run"),
                                 progress=False, **TINY)
    ins = tmp_path / "in"
    ins.mkdir()
    Image.new("L", (32, 32), 0).save(ins / "edges.png")
    r = run_cli("translate", str(run), "--input", str(ins), "--out", str(tmp_path / "one"))
    assert r.returncode == 0, r.stderr
    one = Image.open(tmp_path / "one" / "edges.png")
    assert one.mode == "RGB" and one.size == (32, 32)
    r = run_cli("translate", str(run), "--input", str(ins), "--out", str(tmp_path / "many"), "--outputs", "3")
    assert r.returncode == 0, r.stderr
    many = Image.open(tmp_path / "many" / "edges.png")
    assert many.size[0] > many.size[1], "the input and its 3 translations in one row"
    Image.new("RGB", (48, 48), (200, 30, 30)).save(tmp_path / "red.png")
    r = run_cli("translate", str(run), "--input", str(ins), "--out", str(tmp_path / "styled"), "--style",
                str(tmp_path / "red.png"))
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "styled" / "edges.png").size == (32, 32)
    Image.new("L", (20, 20), 0).save(ins / "small.png")
    r = run_cli("translate", str(run), "--input", str(ins), "--out", str(tmp_path / "bad"))
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_stopped_in_its_decay_it_resumes_exactly(tmp_path, monkeypatch):
    """Three optimizers and their decay, random z and the reparameterisation noise, stopped at step 6
    of 8 (Ctrl-C) and resumed: the same losses, rates and weights."""
    full, _, _ = stopped_and_resumed(monkeypatch, tmp_path, "bicyclegan", 6,
                        dataset="edges2photodigits", steps=8, **{**TINY, "decay_from": 0.5})
    assert float(full[-1]["lr_D2"]) < float(full[0]["lr_D2"]), "the run decays"


def _held_out(model, test) -> dict:
    torch.manual_seed(123)  # the same z for every model measured
    return model.eval().held_out_metrics(InMemoryLoader(test, 1).fixed_batch(len(test)))


@pytest.mark.learning
def test_bicyclegan_learns_a_one_to_many_translation(tmp_path, expect, one_thread):
    """edges2photodigits (the photo behind each digit is random, so an edge map has many targets),
    400 steps of narrow networks (about a minute): translations land nearer the held-out photo-digits
    (FD in the photodigits evaluator's features) and keep their digit, different z give clearly
    different outputs (the untrained G, like pix2pix, ignores z), and z = E(B) reconstructs B better
    than a random z does (the cVAE branch encodes what A leaves open)."""
    test = build_dataset("edges2photodigits", train=False)
    settings = dict(ngf=16, nef=16, ndf=16, batch_size=8)
    torch.manual_seed(SEED)
    untrained = _held_out(ganthology.build_model("bicyclegan", settings, test.info()), test)
    run = ganthology.train_model("bicyclegan", dataset="edges2photodigits", steps=400, seed=SEED,
                                 out=str(tmp_path / "run"), progress=False, sample_every=1000, **settings)
    trained = _held_out(ganthology.load(run), test)
    print("untrained", untrained, "\ntrained", trained)
    # measured (seeds 0-2 on the AVX-512, AVX2 and no-SIMD paths, 400 steps): fd 2830 -> 1250-1890
    # (ratio 0.44-0.67); digit kept 0.09 -> 0.24-0.44; diversity 0.08 -> 4.4-10.4; l1 - l1_encoded
    # 0 -> 0.0011-0.0030 (z_recovery is not yet below its baseline this early: see docs/results.md)
    expect(fd_ratio=(trained["fd"] / untrained["fd"], "<", 0.8),
           digit_kept=(trained["digit_kept"], ">", 0.16),
           diversity=(trained["diversity"], ">", 2.0),
           encoded_gain=(trained["l1"] - trained["l1_encoded"], ">", 0.0004))
