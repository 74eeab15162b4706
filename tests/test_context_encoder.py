"""Context Encoders (Pathak et al. 2016): the hole's fill value and what reaches G (PyTorch-GAN #165),
the loss on the hole and its overlap band only, the channel-wise bottleneck, masks of any shape,
the inpainting scores and their baselines, the `photos` data, exact resume, `ganthology inpaint` end
to end, and a learning test."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.data.masks import square_masks
from ganthology.errors import GanthologyError
from ganthology.metrics.inpainting import border_blur_fill, hole_scores, inpainting_scores, mean_colour_fill
from ganthology.models.base import DataInfo

from .conftest import SEED, run_cli, stopped_and_resumed, tiny

QUIET = dict(progress=False, sample_every=10**9, log_every=1, channels_last=False)


def _model(channels: int = 3, size: int = 32, **overrides):
    torch.manual_seed(0)
    cfg = {**tiny("context_encoder"), **overrides}
    return ganthology.build_model("context_encoder", cfg, DataInfo(name="rgb", channels=channels, image_size=size))


def _images(n: int = 4, channels: int = 3, size: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _g_input(model, x, mask) -> torch.Tensor:
    """What G sees when the model fills x's holes."""
    seen = []
    handle = model.G.register_forward_pre_hook(lambda _, args: seen.append(args[0].clone()))
    try:
        model.inpaint(x, mask)
    finally:
        handle.remove()
    return seen[0]


@pytest.mark.parametrize("fill, value", [("0.25", 0.25), ("-1", -1.0), ("imagenet", None)])
def test_the_hole_is_filled_with_the_configured_value(fill, value):
    """PyTorch-GAN #165: the script filled the hole with 1.0 whatever the paper says; here G's input
    holds exactly the configured value inside the hole and the image outside it."""
    model = _model(fill=fill)
    x, m = _images(), square_masks("center", 4, 32, 16)
    seen = _g_input(model, x, m)
    expected = torch.tensor([117, 104, 123]) / 255 * 2 - 1 if value is None else torch.full((3,), value)
    inside = seen.permute(1, 0, 2, 3)[:, m[:, 0] > 0]  # (C, pixels in the holes)
    assert torch.allclose(inside, expected.view(3, 1).expand_as(inside), rtol=0, atol=1e-7)
    assert torch.equal(seen * (1 - m), x * (1 - m))


def test_the_dataset_fill_is_the_training_images_mean_colour():
    """Section 3.3's zero of zero-centred inputs, the data mean: computed from the training set before training, kept in the state."""
    data = build_dataset("photos", image_size=32)
    model = ganthology.build_model("context_encoder", tiny("context_encoder"), data.info())
    model.bind_data(data)
    mean = data.tensors["x"].double().mean(dim=(0, 2, 3)) / 127.5 - 1
    assert torch.allclose(model.G.fill_value.double(), mean, atol=1e-6)
    assert "G.fill_value" in model.state_dict()  # in checkpoints, and in exports (G's state)


def test_bad_settings_are_refused():
    for bad in (dict(fill="white"), dict(fill="2"), dict(mask="ring"), dict(hole=40), dict(hole=12),
                dict(bottleneck="wide")):
        with pytest.raises(GanthologyError):
            _model(**bad)
    with pytest.raises(GanthologyError, match="power of 2"):
        _model(size=24)


@pytest.mark.parametrize("kind", ["center", "random"])
def test_pixels_inside_the_hole_never_reach_the_output(kind):
    """The model must ignore whatever the hole holds, and return x's pixels outside it exactly."""
    model = _model(mask=kind)
    x = _images()
    m = square_masks(kind, 4, 32, 16, torch.Generator().manual_seed(3))
    other = torch.where(m > 0, _images(seed=7) * 1000, x)  # the same image, anything inside the hole
    a, b = model.inpaint(x, m), model.inpaint(other, m)
    assert torch.equal(a, b)
    assert torch.equal(a * (1 - m), x * (1 - m))
    assert a.abs().max() <= 1


def test_a_center_model_fills_a_users_mask_of_any_shape():
    """A model trained on central holes still fills any mask: G sees the whole image with that hole
    filled, and the result is composited; one mask serves a whole batch."""
    model = _model()
    x = _images()
    m = torch.zeros(1, 1, 32, 32)
    m[..., 2:9, 20:31] = 1  # an off-centre rectangle
    m[..., 25:30, 3:6] = 1  # and a second hole
    out = model.inpaint(x, m)
    assert out.shape == x.shape
    assert torch.equal(out * (1 - m), x * (1 - m))
    assert not torch.equal(out * m, x * m)
    seen = _g_input(model, x, m)
    assert torch.equal(seen * (1 - m), x * (1 - m))
    with pytest.raises(GanthologyError):
        model.inpaint(x, torch.zeros(4, 1, 16, 16))
    with pytest.raises(GanthologyError):
        model.inpaint(_images(size=16), m)


def test_reconstruction_loss_sees_only_the_hole_and_its_overlap_band():
    """Eq. 1 (the loss on the hole) with train.lua's overlap: the gradient with respect to G's output
    is zero outside the hole and a band of `overlap` pixels around it, and 10x larger on the band."""
    model = _model(overlap=2)
    x, m = torch.full((1, 3, 32, 32), 0.5), square_masks("center", 1, 32, 16)
    out = torch.zeros_like(x, requires_grad=True)
    model.reconstruction_loss(out, x, m).backward()
    g = out.grad.abs()[0]
    band = torch.zeros(32, 32, dtype=torch.bool)
    band[6:26, 6:26] = True
    band[8:24, 8:24] = False
    hole = m[0, 0] > 0
    assert (g[:, ~(hole | band)] == 0).all()
    g_hole = g[:, hole]
    assert (g_hole > 0).all() and torch.allclose(g[:, band], 10 * g_hole[:, :1].expand(3, int(band.sum())))
    # random masks: no band (train_random.lua runs without the overlap)
    assert torch.equal(_model(mask="random").reconstruction_weights(m), m)


def test_the_loss_ignores_the_output_outside_hole_and_band():
    model = _model()
    x, m = _images(2), square_masks("center", 2, 32, 16)
    out = _images(2, seed=5)
    w = model.reconstruction_weights(m)
    changed = torch.where(w > 0, out, -out)
    assert torch.equal(model.reconstruction_loss(out, x, m), model.reconstruction_loss(changed, x, m))


def test_the_bottleneck_is_channel_wise_and_narrows():
    """Section 3.1: within each channel a fully connected layer (no weights across channels), then a
    stride-1 convolution; the code is smaller than the image (the PyTorch-GAN script's 1x1 conv to
    4000 channels at 4x4 holds more numbers than its 128x128 input)."""
    from ganthology.models.context_encoder import ChannelwiseFC

    model = _model(size=64, nef=8, ngf=8)
    cw = model.G.bottleneck[0]
    assert isinstance(cw, ChannelwiseFC)
    c = cw.weight.shape[0]
    assert cw.weight.shape == (c, 16, 16)
    code = model.G.encoder(_images(2, size=64))
    assert code.shape[1:] == (c, 4, 4) and code[0].numel() < 3 * 64 * 64
    # no mixing before the 1x1 conv: changing channel 0 changes only channel 0 of the fc's output
    h = torch.randn(1, c, 4, 4)
    h2 = h.clone()
    h2[:, 0] += 1
    fc = lambda t: torch.einsum("bci,cij->bcj", t.reshape(1, c, 16), cw.weight)  # noqa: E731
    d = (fc(h) - fc(h2)).abs().sum(-1)[0]
    assert d[0] > 0 and (d[1:] == 0).all()
    # the fc variant (train.lua's nBottleneck) also builds and runs
    fc_model = _model(size=64, bottleneck="fc", n_bottleneck=32)
    assert fc_model.inpaint(_images(2, size=64), square_masks("center", 2, 64, 32)).shape == (2, 3, 64, 64)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [16, 64])
def test_shapes_and_what_d_sees(channels, size):
    """G paints the whole image for 1 and 3 channels at any power-of-2 size; D sees the hole's patch
    for center masks (train.lua) and the whole image for random ones (train_random.lua)."""
    for kind in ("center", "random"):
        model = _model(channels, size, mask=kind)
        x = _images(2, channels, size)
        m = model.masks(2, generator=torch.Generator().manual_seed(0))
        assert model.G(x).shape == x.shape
        assert model.patch(x).shape[-1] == (size // 2 if kind == "center" else size)
        assert model.inpaint(x, m).shape == x.shape
        losses = model.train_step({"x": x}, 0)
        assert all(torch.isfinite(v) for v in losses.values())


def test_the_paper_defaults():
    from ganthology.models.context_encoder import ContextEncoderConfig

    c = ContextEncoderConfig()
    assert (c.lambda_rec, c.lambda_adv, c.batch_size, c.beta1) == (0.999, 0.001, 64, 0.5)
    assert (c.overlap, c.overlap_weight, c.lr, c.lr_G_scale) == (4, 10.0, 2e-4, 10.0)
    model = ganthology.build_model("context_encoder", dict(nef=8, ngf=8, ndf=8),
                                   DataInfo(name="rgb", channels=3, image_size=64))
    assert model.cfg.hole == 32  # a quarter of the area, as 64 of 128
    opt = model.optimizers()
    assert opt["G"].param_groups[0]["lr"] == pytest.approx(2e-3) and opt["D"].param_groups[0]["lr"] == 2e-4


def test_seeding_torch_makes_random_masks_and_steps_reproducible():
    """The script drew masks with np.random, which torch.manual_seed does not fix."""
    x = _images(4)
    runs = []
    for _ in range(2):
        model = _model(mask="random")
        torch.manual_seed(5)
        runs.append({k: float(v) for k, v in model.train_step({"x": x}, 0).items()})
    assert runs[0] == runs[1]


# --- the inpainting scores and their baselines --------------------------------------------------
def test_baselines_keep_the_known_pixels_and_fill_flat_images_exactly():
    x = _images(3)
    m = square_masks("random", 3, 32, 12, torch.Generator().manual_seed(0))
    for fill in (mean_colour_fill(x, m), border_blur_fill(x, m)):
        assert torch.equal(fill * (1 - m), x * (1 - m))
    flat = torch.full((2, 3, 32, 32), 0.3)
    flat[1] = -0.5
    m2 = square_masks("center", 2, 32, 16)
    for fill in (mean_colour_fill(flat, m2), border_blur_fill(flat, m2)):
        assert torch.allclose(fill, flat, atol=1e-6)
    # a horizontal ramp: the border blur continues it into the hole far better than a flat colour
    ramp = torch.linspace(-1, 1, 32).expand(1, 3, 32, 32).clone()
    assert hole_scores(border_blur_fill(ramp, m2[:1]), ramp, m2[:1])["l1"] < \
        0.5 * hole_scores(mean_colour_fill(ramp, m2[:1]), ramp, m2[:1])["l1"]


def test_hole_scores_count_the_hole_only():
    x = _images(2)
    m = square_masks("center", 2, 32, 16)
    worse_outside = torch.where(m > 0, x, -x)
    assert hole_scores(worse_outside, x, m)["psnr"] > 90  # perfect inside: mse clamped at 1e-10
    off = torch.where(m > 0, x + 0.2, x)  # 0.1 on [0, 1]'s scale inside the hole
    s = hole_scores(off, x, m)
    assert s["l1"] == pytest.approx(0.1, abs=1e-5) and s["psnr"] == pytest.approx(20.0, abs=1e-3)


def test_inpainting_scores_measure_model_and_baselines_alike():
    x = _images(6)
    perfect = inpainting_scores(lambda xb, mb: xb, x, 16, ("center", "random"))
    assert set(perfect) == {f"{k}{b}{s}" for k in ("l1", "psnr") for b in ("", "_mean_fill", "_blur_fill")
                            for s in ("", "_random")}
    assert perfect["l1"] == 0 and perfect["l1_random"] == 0
    same = inpainting_scores(lambda xb, mb: mean_colour_fill(xb, mb), x, 16)
    assert same["l1"] == pytest.approx(same["l1_mean_fill"]) and same["psnr"] == pytest.approx(same["psnr_mean_fill"])


def test_photos_split_and_held_out_scores():
    """photos: photo_sr's split (coffee and china held out, every non-overlapping tile), and an
    inpainting model's held-out numbers come from metrics.inpainting with its own hole."""
    from ganthology.metrics.evaluate import held_out_metrics

    train, test = build_dataset("photos"), build_dataset("photos", train=False)
    assert train.tensors["x"].shape == (8000, 3, 64, 64) and test.tensors["x"].shape == (114, 3, 64, 64)
    assert set(test.tensors["photo"].tolist()) == {0, 1}
    model = ganthology.build_model("context_encoder", tiny("context_encoder") | {"mask": "random"},
                                   build_dataset("photos", image_size=32).info())
    out = held_out_metrics(model)
    assert {"l1", "psnr", "l1_blur_fill", "psnr_mean_fill", "psnr_random", "n"} <= set(out)
    assert out["n"] == len(build_dataset("photos", image_size=32, train=False))


def test_exact_resume(monkeypatch, tmp_path):
    """Random masks come from torch's RNG, which the checkpoint carries: a run stopped and resumed
    draws the same holes and ends with the same weights (and the same fill value)."""
    stopped_and_resumed(monkeypatch, tmp_path, "context_encoder", 2, dataset="digits", steps=4, seed=3,
                        mask="random", **tiny("context_encoder"))


# --- ganthology inpaint -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ce") / "run"
    return ganthology.train_model("context_encoder", dataset="photos", image_size=32, steps=2, out=str(out),
                                  **tiny("context_encoder"), **QUIET)


def test_inpaint_command_center_random_and_a_mask_file(tiny_run, tmp_path):
    rng = np.random.default_rng(0)
    inputs = tmp_path / "in"
    inputs.mkdir()
    pics = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2)]
    for i, p in enumerate(pics):
        Image.fromarray(p).save(inputs / f"p{i}.png")
    mask = np.zeros((64, 64), dtype=np.uint8)  # resized to the model's 32x32 (nearest)
    mask[8:24, 40:60] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    holes = {"center": square_masks("center", 1, 32, 16)[0, 0],
             str(tmp_path / "mask.png"): torch.nn.functional.interpolate(
                 torch.from_numpy(mask > 127).float()[None, None], size=(32, 32), mode="nearest")[0, 0]}
    for kind in ("center", "random", str(tmp_path / "mask.png")):
        out = tmp_path / f"out-{len(kind)}"
        r = run_cli("inpaint", str(tiny_run), "--input", str(inputs), "--mask", kind, "--out", str(out))
        assert r.returncode == 0, r.stderr
        for i, p in enumerate(pics):
            got = np.array(Image.open(out / f"p{i}.png"))
            assert got.shape == (32, 32, 3)
            if kind in holes:  # outside the hole the user's pixels come back unchanged
                keep = (holes[kind] == 0).numpy()
                assert (got[keep] == p[keep]).all()
    r = run_cli("inpaint", str(tiny_run), "--input", str(inputs), "--mask", str(tmp_path / "none.png"),
                "--out", str(tmp_path / "bad"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "mask" in r.stderr


# --- learning -----------------------------------------------------------------------------------
# A context encoder at a tiny width (nef = ngf = ndf = 16) on photos' 32x32 crops (a 16x16 central
# hole), batch 32, 300 steps (about 50 s on a shared core), scored on the 476 held-out 32x32 tiles of
# coffee and china: PSNR inside the hole against the same network untrained (same seed; its near-
# constant output scores 10.3 dB). Beating the mean-colour (25.9 dB) and border-blur (29.0 dB) fills
# is out of reach at this budget (21.0-21.9 dB), so the test asks what it can.
LEARN_STEPS, LEARN_GAIN = 300, 8.0  # gains over seeds 0, 1, 2: 11.63, 10.68, 11.50 dB; -0.38 untrained


@pytest.mark.learning
def test_context_encoder_learns_to_fill_holes(tmp_path, one_thread, expect):
    settings = dict(nef=16, ngf=16, ndf=16, batch_size=32)
    test = build_dataset("photos", image_size=32, train=False)
    held_out = InMemoryLoader(test, 1).fixed_batch(len(test))
    train = build_dataset("photos", image_size=32)
    torch.manual_seed(SEED)  # as the trainer seeds the weights
    model = ganthology.build_model("context_encoder", settings, train.info())
    model.bind_data(train)
    untrained = model.held_out_metrics(held_out)
    run = ganthology.train_model("context_encoder", dataset="photos", image_size=32, steps=LEARN_STEPS, seed=SEED,
                                 out=str(tmp_path / "run"), **settings, **{**QUIET, "log_every": 100})
    trained = ganthology.load(run).held_out_metrics(held_out)
    print(f"context_encoder: hole PSNR untrained {untrained['psnr']:.2f} dB -> trained {trained['psnr']:.2f} dB "
          f"(mean colour {trained['psnr_mean_fill']:.2f}, border blur {trained['psnr_blur_fill']:.2f}); "
          f"L1 {untrained['l1']:.4f} -> {trained['l1']:.4f}")
    expect(psnr_gain=(trained["psnr"] - untrained["psnr"], ">", LEARN_GAIN))
