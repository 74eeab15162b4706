"""MUNIT: its parts as the paper builds them, the defects of the PyTorch-GAN script it must not
repeat (the detached content target, the style prior that changed between training and sampling,
the style encoder's pool as large as the channel count, channels ignored), its use on a user's
images with random and reference styles, exact resume, and that it learns."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganthology
from ganthology.metrics.evaluate import held_out_metrics
from ganthology.data import build_dataset
from ganthology.nn.adain import AdaINDecoder, AdaptiveInstanceNorm2d, MultiScaleDiscriminator, StyleEncoder

from .conftest import SEED, run_cli, stopped_and_resumed, tiny, two_domain_info as _info, two_domain_batch as _batch


def _strided(net: torch.nn.Module) -> int:
    return sum(isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2) for m in net.modules())


@pytest.mark.parametrize("c_a, c_b", [(1, 1), (1, 3), (3, 1), (3, 3)])
def test_both_domains_with_their_own_channel_count(c_a, c_b):
    """PyTorch-GAN's MUNIT ignored --channels (its issue #170): here A and B may differ (A grey, B colour)."""
    torch.manual_seed(0)
    model = ganthology.build_model("munit", tiny("munit"), _info(c_a, c_b))
    batch = _batch(c_a, c_b)
    out = model.train_step(batch, 0)
    assert all(torch.isfinite(v) for v in out.values())
    assert model.translate(batch["A"], "AtoB").shape == (4, c_b, 32, 32)
    assert model.translate(batch["B"], "BtoA").shape == (4, c_a, 32, 32)


@pytest.mark.parametrize("c", [1, 3, 4, 8])
def test_the_style_encoder_pools_globally_whatever_the_channels(c):
    """PyTorch-GAN's StyleEncoder pooled with AvgPool2d(in_channels): a kernel as large as the channel
    count, wrong for any count but the one it was tried with. Here the pool is global: one style per image."""
    E = StyleEncoder(c, dim=8, n_down=4, style_dim=8)
    for side in (32, 48, 64):
        assert E(torch.randn(2, c, side, side)).shape == (2, 8)


def test_the_style_encoder_keeps_the_official_four_downsamples_at_32():
    """The official StyleEncoder has four stride-2 convs; at 32x32 they leave 2x2 for the pool, and
    only smaller images get fewer."""
    for size, n in ((32, 4), (64, 4), (16, 3)):
        m = ganthology.build_model("munit", tiny("munit"), _info(1, 3, size))
        assert _strided(m.G_A.style) == n


def test_adain_takes_its_scale_and_shift_from_the_style():
    """Section 4: AdaIN(z, s) = gamma(s) (z - mu(z)) / sigma(z) + beta(s): after it each channel of each
    sample has the mean beta and the standard deviation gamma that the MLP gives for the style."""
    dec = AdaINDecoder(3, content_channels=8, n_up=2, n_res=1, style_dim=8, mlp_dim=16)
    seen = {}
    norm = dec.adain[0]
    # the output is copied before the in-place ReLU that follows
    norm.register_forward_hook(lambda mod, inp, out: seen.update(out=out.clone(), gamma=mod.gamma, beta=mod.beta))
    c, s = torch.randn(2, 8, 8, 8), torch.randn(2, 8)
    y = dec(c, s)
    assert y.shape == (2, 3, 32, 32) and y.abs().max() <= 1
    assert torch.allclose(seen["out"].mean((2, 3)), seen["beta"], atol=1e-4)
    assert torch.allclose(seen["out"].std((2, 3), unbiased=False), seen["gamma"].abs(), atol=1e-3)
    assert norm.gamma is None, "no tensor of the graph is left on the module"
    assert not torch.allclose(dec(c, s), dec(c, torch.randn(2, 8))), "the style changes the image"
    with pytest.raises(RuntimeError, match="style code"):
        AdaptiveInstanceNorm2d(4)(torch.randn(1, 4, 2, 2))


def test_the_discriminator_judges_three_scales_without_norm():
    D = MultiScaleDiscriminator(3, 32, dim=8, n_layers=4, n_scales=3)
    outs = D(torch.randn(2, 3, 32, 32))
    assert len(outs) == 3 and all(o.shape == (2, 1, 2, 2) for o in outs)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d)) for m in D.modules())
    assert [_strided(net) for net in D.nets] == [4, 3, 2]
    assert [o.shape[-1] for o in MultiScaleDiscriminator(1, 256, 8)(torch.randn(1, 1, 256, 256))] == [16, 8, 4]


def test_the_content_loss_reaches_the_source_encoder_through_its_target():
    """Eq. 2 compares E^c_B(G_B(c_A, s_B)) with c_A = E^c_A(a) and the official code lets the
    gradient flow into both; PyTorch-GAN detached the target c_A, so E^c_A learnt only through
    the decoder. The model's gradient must equal the undetached expression's, not the detached one's."""
    torch.manual_seed(0)
    model = ganthology.build_model("munit", tiny("munit"), _info(1, 3))
    batch = _batch(1, 3)
    s_A, s_B = model.random_style(4), model.random_style(4)

    def grads(loss):
        params = list(model.G_A.content.parameters())
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])

    ours = grads(model.generator_losses(batch["A"], batch["B"], s_A, s_B)["loss_c"])

    def by_hand(detach: bool):
        c_A, c_B = model.G_A.content(batch["A"]), model.G_B.content(batch["B"])
        c_A_rec = model.G_B.content(model.G_B.decode(c_A, s_B))
        c_B_rec = model.G_A.content(model.G_A.decode(c_B, s_A))
        t_A, t_B = (c_A.detach(), c_B.detach()) if detach else (c_A, c_B)
        return grads(F.l1_loss(c_A_rec, t_A) + F.l1_loss(c_B_rec, t_B))

    assert torch.allclose(ours, by_hand(detach=False), atol=1e-6)
    assert not torch.allclose(ours, by_hand(detach=True), atol=1e-4), "the target's path carries gradient"


def test_training_and_translation_draw_styles_from_the_same_prior(monkeypatch):
    """Section 3.1: p(s) = N(0, I), in training and when translating. PyTorch-GAN trained on N(0, I)
    styles but sampled U(-1, 1) ones, outside the region the decoder had learnt."""
    torch.manual_seed(0)
    model = ganthology.build_model("munit", tiny("munit"), _info(1, 3))
    s = model.random_style(20000)
    assert abs(float(s.mean())) < 0.02 and abs(float(s.std()) - 1) < 0.02 and float(s.abs().max()) > 3
    calls = []
    original = type(model).random_style

    def spy(self, n):
        calls.append(n)
        return original(self, n)

    monkeypatch.setattr(type(model), "random_style", spy)
    batch = _batch(1, 3)
    model.train_step(batch, 0)
    assert len(calls) == 4, "the discriminator's and the generator's translations both use the prior"
    calls.clear()
    x = batch["A"][:2]
    torch.manual_seed(5)
    y = model.translate(x)
    assert calls == [2]
    torch.manual_seed(5)
    s = torch.randn(2, model.cfg.style_dim)
    with torch.no_grad():
        assert torch.allclose(y, model.G_B.decode(model.G_A.content(x), s), atol=1e-6)


def test_translate_draws_a_new_style_each_call_unless_given_a_reference():
    torch.manual_seed(0)
    model = ganthology.build_model("munit", tiny("munit"), _info(1, 3)).eval()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    torch.manual_seed(1)
    y1, y2 = model.translate(x), model.translate(x)
    assert not torch.allclose(y1, y2), "one input, many translations"
    torch.manual_seed(1)
    assert torch.equal(model.translate(x), y1), "the draws come from torch's RNG"
    # a reference image of B, as a user's file is read: grey or colour, any size
    for ref in (torch.rand(1, 3, 50, 40) * 2 - 1, torch.rand(1, 1, 32, 32) * 2 - 1):
        r1, r2 = model.translate(x, style=ref), model.translate(x, style=ref)
        assert r1.shape == (3, 3, 32, 32) and torch.equal(r1, r2), "the reference's style, every call"
        s = model.style_of(ref)
        assert torch.allclose(r1, model.map(x, "AtoB", s), atol=1e-6), "the same style for every input"
    assert model.translate(torch.rand(2, 3, 32, 32), "BtoA", style=torch.rand(1, 3, 32, 32)).shape == (2, 1, 32, 32)
    with pytest.raises(ganthology.GanthologyError, match="style image"):
        model.translate(x, style=torch.rand(2, 3, 32, 32))
    with pytest.raises(ganthology.GanthologyError, match="1-channel"):
        model.translate(torch.rand(1, 3, 32, 32))


def test_the_learning_rate_is_halved_every_step_size():
    model = ganthology.build_model("munit", {**tiny("munit"), "lr_step": 10}, _info(1, 3))
    model.setup_optimizers()
    opt = model.opt["G"]
    assert opt.param_groups[0]["weight_decay"] == 1e-4 and opt.param_groups[0]["betas"] == (0.5, 0.999)
    lrs = []
    for _ in range(25):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        model.sched["G"].step()
    assert lrs[0] == lrs[9] == 1e-4 and lrs[10] == lrs[19] == 5e-5 and lrs[20] == 2.5e-5


def test_the_paper_defaults():
    cfg = ganthology.get_model("munit").Config()
    assert (cfg.lambda_gan, cfg.lambda_x, cfg.lambda_c, cfg.lambda_s, cfg.lambda_x_cyc) == (1, 10, 1, 1, 0)
    assert (cfg.style_dim, cfg.lr, cfg.weight_decay, cfg.lr_step, cfg.lr_gamma) == (8, 1e-4, 1e-4, 100_000, 0.5)
    assert (cfg.d_scales, cfg.d_layers, cfg.n_res, cfg.style_down) == (3, 4, 4, 4)
    on = ganthology.build_model("munit", {**tiny("munit"), "lambda_x_cyc": 1.0}, _info(1, 3)).train_step(_batch(1, 3), 0)
    assert "loss_x_cyc" in on


def test_translate_on_images_through_the_cli(tmp_path):
    """`ganthology translate --style REF` (a reference image of B, of another size) and `--outputs 3`
    (a row per input: the input, then three translations with random styles)."""
    from ganthology.api import translate

    run = ganthology.train_model("munit", dataset="digits2photo", steps=2, out=str(tmp_path / "run"),
                                 progress=False, **tiny("munit"))
    ins = tmp_path / "in"
    ins.mkdir()
    Image.new("L", (32, 32), 200).save(ins / "grey.png")
    ref = tmp_path / "ref.png"
    Image.new("RGB", (48, 40), (10, 200, 10)).save(ref)
    r = run_cli("translate", str(run), "--input", str(ins), "--out", str(tmp_path / "styled"), "--style", str(ref))
    assert r.returncode == 0, r.stderr
    styled = Image.open(tmp_path / "styled" / "grey.png")
    assert styled.mode == "RGB" and styled.size == (32, 32), "A (grey digits) -> B (colour)"
    translate(run, ins, tmp_path / "again", style=str(ref), seed=7)
    assert Image.open(tmp_path / "again" / "grey.png").tobytes() == styled.tobytes(), "a reference style, one output"
    r = run_cli("translate", str(run), "--input", str(ins), "--out", str(tmp_path / "many"), "--outputs", "3")
    assert r.returncode == 0, r.stderr
    row = torch.from_numpy(np.array(Image.open(tmp_path / "many" / "grey.png").convert("RGB")))
    assert row.shape == (32, 4 * 32, 3)
    outs = [row[:, 32 * k:32 * (k + 1)] for k in (1, 2, 3)]
    assert not torch.equal(outs[0], outs[1]) and not torch.equal(outs[1], outs[2]), "three different translations"


def _metrics(model) -> dict:
    torch.manual_seed(0)  # the random styles of the evaluation
    return held_out_metrics(model.eval())


@pytest.mark.learning
def test_munit_learns_to_translate_with_many_styles(tmp_path, expect, one_thread):
    """digits2photo (grey digits <-> digits blended over photos), 600 steps of tiny networks at 5 times
    the paper's learning rate (a short run; about a minute): translations of the photo digits into the
    grey-digit domain land near it (FD in the digits evaluator's features, below the input's own),
    keep their digit, and still differ from one random style to another; so do the translations that
    take the style of a held-out grey digit (example-guided)."""
    settings = dict(dim=8, mlp_dim=64, n_res=1, ndf=8, batch_size=4, lr=5e-4)
    torch.manual_seed(SEED)
    untrained = _metrics(ganthology.build_model("munit", settings, build_dataset("digits2photo").info()))
    run = ganthology.train_model("munit", dataset="digits2photo", steps=600, seed=SEED, out=str(tmp_path / "run"),
                                 progress=False, sample_every=1000, **settings)
    trained = _metrics(ganthology.load(run))
    print("untrained", untrained, "\ntrained", trained)
    # measured (seeds 0-2, 600 steps): fd_BtoA 1037-1107 -> 79-137 (ratio 0.07-0.13; the identity's 261);
    # digits kept 0.08-0.14 -> 0.63-0.65 (the identity's 0.59); diversity 4.1-6.4 -> 8.0-8.8; with the
    # styles of held-out grey digits: FD 0.23-0.41 of the identity's, digits kept 0.62-0.67
    expect(fd_ratio=(trained["fd_BtoA"] / untrained["fd_BtoA"], "<", 0.25),
           fd_vs_identity=(trained["fd_BtoA"] / trained["identity_fd_BtoA"], "<", 0.8),
           digit_kept_BtoA=(trained["digit_kept_BtoA"], ">", 0.45),
           diversity_BtoA=(trained["diversity_BtoA"], ">", 4.0),
           guided_fd_vs_identity=(trained["guided_fd_BtoA"] / trained["identity_fd_BtoA"], "<", 0.8),
           guided_digit_kept_BtoA=(trained["guided_digit_kept_BtoA"], ">", 0.45))


def test_stopped_mid_run_it_resumes_exactly(tmp_path, monkeypatch):
    """Both domains' shuffles, the random styles (torch's RNG) and the step schedule, stopped at step 6
    of 8 (Ctrl-C) and resumed: the same losses, rates and weights."""
    full, _, _ = stopped_and_resumed(monkeypatch, tmp_path, "munit", 6,
                        dataset="digits2photo", steps=8, **{**tiny("munit"), "lr_step": 3})
    assert float(full[-1]["lr_G"]) < float(full[0]["lr_G"]), "the run steps its rate down"
