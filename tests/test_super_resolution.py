"""SRResNet and SRGAN (Ledig et al. 2017): the frozen VGG19 of the perceptual loss, the data (photo_sr
and image folders with LR copies made on the fly), SRGAN's start from an SRResNet run, `ganthology
upscale` end to end, regression tests for the PyTorch-GAN script's defects, and a learning test."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.models.base import DataInfo
from ganthology.models.srgan import VGG_LAYERS
from ganthology.models.srresnet import bicubic_down, bicubic_up, sharpness
from ganthology.nn.perceptual import FALLBACK, RELU5_4, VGG19_FILE, VGGFeatures, resolve_vgg_weights
from ganthology.train.checkpoint import export_generator

from .conftest import SEED, run_cli, tiny

QUIET = dict(progress=False, sample_every=10**9, log_every=1, channels_last=False)
RGB16 = DataInfo(name="rgb16", channels=3, image_size=16)


def _srgan(**overrides):
    torch.manual_seed(0)
    cfg = {**tiny("srgan"), "vgg_weights": FALLBACK, **overrides}
    return ganthology.build_model("srgan", cfg, RGB16)


def _batch(n: int = 4, size: int = 16) -> dict[str, torch.Tensor]:
    return {"x": torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1}


def _image_folder(folder, sizes, seed: int = 0):
    """Smooth random colour images (PNG) of the given (width, height) sizes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (w, h) in enumerate(sizes):
        small = rng.integers(0, 256, (max(1, h // 4), max(1, w // 4), 3), dtype=np.uint8)
        Image.fromarray(small).resize((w, h), Image.BICUBIC).save(folder / f"img{i}.png")
    return folder


# --- the frozen VGG19 ---------------------------------------------------------------------------
def test_vgg_cut_is_relu5_4_not_relu3_4():
    """Known defect of the PyTorch-GAN script: features[:18] ends at relu3_4, not the paper's VGG54."""
    net = VGGFeatures(FALLBACK).net
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    assert RELU5_4 == 36 and len(net) == 36 and VGG_LAYERS["relu5_4"] == 36
    assert isinstance(net[-1], torch.nn.ReLU) and isinstance(net[-2], torch.nn.Conv2d)
    assert len(convs) == 16 and convs[-1].out_channels == 512  # conv5_4 is VGG19's 16th conv
    assert isinstance(VGGFeatures(FALLBACK, cut=35).net[-1], torch.nn.Conv2d)  # ESRGAN's conv5_4
    assert _srgan(vgg_layer="relu5_4").vgg.cut == 36


def test_vgg_is_frozen_and_outside_state_dict_optimizers_and_export(tmp_path):
    model = _srgan()
    model.train_step(_batch(), 0)
    vgg_params = list(model.vgg.net.parameters())
    assert vgg_params and not any(p.requires_grad for p in vgg_params)
    assert not any(p.grad is not None for p in vgg_params)
    assert all(k.startswith(("G.", "D.")) for k in model.state_dict())  # no "vgg.*" entry
    ids = {id(p) for p in vgg_params}
    assert not any(id(p) in ids for o in model.opt.values() for g in o.param_groups for p in g["params"])
    assert not any(id(p) in ids for p in model.parameters())
    export_generator(tmp_path, model, {"model": "srgan", "model_config": dataclasses.asdict(model.cfg), "train": {}})
    from safetensors import safe_open

    with safe_open(tmp_path / "generator.safetensors", "pt") as f:
        assert all(k.startswith("G.") for k in f.keys())
    model.double()  # follows the model, as .to(device) does
    assert all(p.dtype == torch.float64 for p in model.vgg.net.parameters())


def test_gradient_reaches_G_through_the_vgg():
    model = _srgan()
    hr = _batch()["x"]
    model.content_loss(model.G(bicubic_down(hr)), hr).backward()
    assert model.G.tail.weight.grad is not None and model.G.tail.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.vgg.net.parameters())


def test_vgg_weights_load_from_the_path_given(tmp_path):
    from torchvision.models import vgg19

    torch.manual_seed(123)
    features = vgg19(weights=None).features  # a random VGG19 standing in for the ImageNet file
    path = tmp_path / VGG19_FILE
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    resolved = resolve_vgg_weights(str(path))
    assert resolved == f"imagenet:{path.resolve()}"
    net = VGGFeatures(resolved).net
    assert torch.equal(net[34].weight, features[34].weight)  # conv5_4
    model = _srgan(vgg_weights=str(path))
    assert model.cfg.vgg_weights == resolved
    (tmp_path / "bad.pth").write_bytes(b"not a state dict")
    with pytest.raises(ganthology.GanthologyError, match="cannot read"):
        VGGFeatures(resolve_vgg_weights(str(tmp_path / "bad.pth"))).net
    with pytest.raises(ganthology.GanthologyError, match="no such file"):
        resolve_vgg_weights(str(tmp_path / "missing.pth"))


def test_auto_without_weights_warns_once_and_the_run_records_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))  # an empty weight cache; offline
    with pytest.warns(UserWarning) as caught:
        run = ganthology.train_model("srgan", dataset="photo_sr", steps=1, out=str(tmp_path / "run"),
                                     image_size=16, **{**tiny("srgan"), "batch_size": 2}, **QUIET)
    msgs = [str(w.message) for w in caught if "VGG19" in str(w.message)]
    assert len(msgs) == 1 and VGG19_FILE in msgs[0] and "--vgg-weights" in msgs[0] and msgs[0].count(". ") == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model_config"]["vgg_weights"] == FALLBACK
    # a cached file is found, and recorded by its path
    cached = tmp_path / "hub" / "checkpoints" / VGG19_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert resolve_vgg_weights("auto") == f"imagenet:{cached}"


# --- the networks and the data ------------------------------------------------------------------
def test_output_range_contains_the_target_range():
    """Known defect of the PyTorch-GAN script: a Tanh output (range [-1, 1]) trained against
    ImageNet-normalised targets (about [-2.1, 2.6]). Here the targets are the images in [-1, 1], and
    G's last layer is a plain convolution, which reaches any value."""
    data = build_dataset("photo_sr", train=False)
    batch = InMemoryLoader(data, 4).fixed_batch(4)
    model = ganthology.build_model("srresnet", tiny("srresnet"), data.info())
    hr, lr = model.pair(batch)
    assert hr.min() >= -1 and hr.max() <= 1 and hr.min() < -0.9 and hr.max() > 0.9
    assert isinstance(model.G.tail, torch.nn.Conv2d)
    with torch.no_grad():
        model.G.tail.weight.zero_()
        for value in (-1.5, 1.5):
            model.G.tail.bias.fill_(value)
            assert torch.allclose(model.G(lr), torch.full_like(hr, value))
    assert model.translate(lr).abs().max() <= 1  # what users get is clamped to the image range


def test_batchnorm_eps_is_not_0_8():
    """Known defect: nn.BatchNorm2d(C, 0.8) in the script sets eps = 0.8, not momentum."""
    for net in (_srgan().G, _srgan().D):
        bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert bns and all(m.eps <= 1e-3 for m in bns)
    assert len([m for m in _srgan().D.modules() if isinstance(m, torch.nn.BatchNorm2d)]) == 7  # figure 4


def test_shapes_and_any_input_size():
    model = _srgan().eval()
    assert model.G(torch.zeros(2, 3, 5, 7)).shape == (2, 3, 20, 28)
    assert model.translate(torch.zeros(1, 3, 1, 1)).shape == (1, 3, 4, 4)
    assert model.D(torch.zeros(2, 3, 16, 16)).shape == (2,)
    assert model.input_spec() == (3, None) and model.upscale_factor == 4
    with pytest.raises(ganthology.GanthologyError, match="multiple of 4"):
        ganthology.build_model("srresnet", {}, DataInfo(name="odd", channels=3, image_size=30))


def test_photo_sr_uses_its_lr_and_an_image_folder_gets_lr_made_on_the_fly(tmp_path):
    sr = build_dataset("photo_sr", train=False)
    model = ganthology.build_model("srresnet", tiny("srresnet"), sr.info())
    batch = InMemoryLoader(sr, 4).fixed_batch(4)
    assert model.pair(batch)[1] is batch["lr"]
    folder = _image_folder(tmp_path / "photos", [(40, 40)] * 10)
    run = ganthology.train_model("srresnet", dataset=f"folder:{folder}", image_size=32, steps=2,
                                 out=str(tmp_path / "run"), **tiny("srresnet"), **QUIET)
    m = ganthology.load(run)
    assert not m.data.has("low-resolution input") and m.data.image_size == 32
    x = InMemoryLoader(build_dataset(f"folder:{folder}", image_size=32), 4).fixed_batch(4)
    hr, lr = m.pair(x)
    assert lr.shape == (4, 3, 8, 8) and torch.allclose(lr, F.interpolate(hr, size=8, mode="bicubic", antialias=True))
    scores = m.held_out_metrics(x)
    assert {"psnr", "ssim", "psnr_bicubic", "ssim_bicubic", "sharpness", "sharpness_bicubic"} <= set(scores)


def test_held_out_metrics_score_bicubic_the_same_way():
    from ganthology.metrics.scores import super_resolution_scores

    test = build_dataset("photo_sr", train=False)
    batch = InMemoryLoader(test, 1).fixed_batch(8)
    model = ganthology.build_model("srresnet", tiny("srresnet"), test.info())
    scores = model.held_out_metrics(batch)
    bic = bicubic_up(batch["lr"])
    assert scores["psnr_bicubic"] == super_resolution_scores(bic, batch["x"], 4, batch["photo"])["psnr"]
    # per photograph: the PSNR of each photograph's pooled squared error on luma, averaged
    half = (super_resolution_scores(bic[:4], batch["x"][:4], 4)["psnr"], super_resolution_scores(bic[4:], batch["x"][4:], 4)["psnr"])
    batch["photo"] = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    two = model.held_out_metrics(batch)
    assert two["psnr_tiles_bicubic"] == pytest.approx(sum(half) / 2, abs=1e-4)
    assert two["psnr_bicubic"] < two["psnr_tiles_bicubic"] + 1e-6, "pooling first weighs a flat tile less"
    assert scores["sharpness_bicubic"] == sharpness(bic, batch["x"]) < 1  # bicubic is smooth
    assert sharpness(batch["x"], batch["x"]) == 1.0


# --- SRGAN starts from SRResNet -----------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny srresnet run, a tiny pix2pix run (a model that cannot upscale), on offline data."""
    root = tmp_path_factory.mktemp("runs")
    torch.manual_seed(0)
    sr = ganthology.train_model("srresnet", dataset="photo_sr", image_size=16, steps=2, out=str(root / "sr"),
                                **tiny("srresnet"), **QUIET)
    p2p = ganthology.train_model("pix2pix", dataset="edges2digits", steps=2, out=str(root / "p2p"),
                                 **tiny("pix2pix"), **QUIET)
    return {"srresnet": sr, "pix2pix": p2p}


def test_srgan_starts_from_an_srresnet_run(runs):
    model = _srgan(init_from=str(runs["srresnet"]))
    model.bind_data(None)  # what the trainer calls before the first step
    a, b = ganthology.load(runs["srresnet"]).G.state_dict(), model.G.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("which,match", [("pix2pix", "holds a pix2pix model"), ("missing", "--init-from"),
                                         ("wider", "another shape")])
def test_init_from_refuses_what_is_not_a_fitting_srresnet(runs, tmp_path, which, match):
    model = _srgan(init_from={"pix2pix": str(runs["pix2pix"]), "missing": str(tmp_path / "nope"),
                              "wider": str(runs["srresnet"])}[which], **({"ngf": 16} if which == "wider" else {}))
    with pytest.raises(ganthology.GanthologyError, match=match) as e:
        model.bind_data(None)
    assert str(e.value).count("\n") == 0


# --- ganthology upscale, end to end -------------------------------------------------------------
def test_upscale_cli_end_to_end(runs, tmp_path):
    folder = _image_folder(tmp_path / "in", [(10, 6), (7, 7), (1, 1)])  # several sizes, one of 1x1
    (folder / "sub").mkdir()
    _image_folder(folder / "sub", [(5, 3)], seed=1)
    r = run_cli("upscale", str(runs["srresnet"]), "--input", str(folder), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    sizes = {p.relative_to(tmp_path / "out").as_posix(): Image.open(p).size for p in (tmp_path / "out").rglob("*.png")}
    assert sizes == {"img0.png": (40, 24), "img1.png": (28, 28), "img2.png": (4, 4), "sub/img0.png": (20, 12)}
    # one file
    r = run_cli("upscale", str(runs["srresnet"]), "--input", str(folder / "img1.png"), "--out", str(tmp_path / "one"))
    assert r.returncode == 0 and Image.open(tmp_path / "one" / "img1.png").size == (28, 28)


def test_upscale_cli_refuses_in_one_sentence_and_writes_nothing(runs, tmp_path):
    folder = _image_folder(tmp_path / "in", [(8, 8)])
    bad = _image_folder(tmp_path / "bad", [(8, 8)])
    (bad / "notes.png").write_text("hello")
    cases = {"cannot read": (runs["srresnet"], bad), "does not upscale": (runs["pix2pix"], folder),
             "does not exist": (runs["srresnet"], tmp_path / "nope")}
    for expected, (run, given) in cases.items():
        r = run_cli("upscale", str(run), "--input", str(given), "--out", str(tmp_path / "out"))
        _refused(r, expected, tmp_path / "out")
    # an option of another model (esrgan's network interpolation) is named, not ignored
    r = run_cli("upscale", str(runs["srresnet"]), "--input", str(folder), "--out", str(tmp_path / "out"), "--alpha", "0.5")
    _refused(r, "takes no --alpha", tmp_path / "out")


def _refused(r, expected, out):
    assert r.returncode != 0 and "Traceback" not in r.stderr
    message = r.stderr.strip().splitlines()
    assert len(message) == 1 and expected in message[0], r.stderr
    assert not out.exists()


# --- learning -----------------------------------------------------------------------------------
# SRResNet at a tiny width (ngf 16, 2 blocks) on photo_sr's 48x48 crops (so 12x12 LR), Adam at 1e-3,
# batch 16, 400 steps (15 s on an idle core, ~55 s on a shared one), scored on the 96 held-out 48x48
# tiles of coffee and china (PSNR on luma per photograph, the paper's protocol). Beating bicubic
# (25.06 dB) is out of reach at this budget (24.0-24.4 dB after 400 steps; the 3,600-step run of
# docs/results.md beats it), so the test asks what it can: PSNR well above the untrained network's,
# same network, same seed.
LEARN_STEPS, LEARN_GAIN = 400, 10.0  # gains over seeds 0, 1, 2: 12.31, 11.72, 12.12 dB; -0.13 untrained


@pytest.mark.learning
def test_srresnet_learns_to_upscale(tmp_path, one_thread, expect):
    settings = dict(ngf=16, n_blocks=2, lr=1e-3, batch_size=16)
    test = build_dataset("photo_sr", image_size=48, train=False)
    held_out = InMemoryLoader(test, 1).fixed_batch(len(test))
    torch.manual_seed(SEED)  # as the trainer seeds the weights
    untrained = ganthology.build_model("srresnet", settings, test.info()).eval().held_out_metrics(held_out)
    run = ganthology.train_model("srresnet", dataset="photo_sr", image_size=48, steps=LEARN_STEPS, seed=SEED,
                                 out=str(tmp_path / "run"), **settings, **{**QUIET, "log_every": 100})
    trained = ganthology.load(run).held_out_metrics(held_out)
    print(f"srresnet: PSNR untrained {untrained['psnr']:.2f} dB -> trained {trained['psnr']:.2f} dB "
          f"(bicubic {trained['psnr_bicubic']:.2f} dB)")
    expect(psnr_gain=(trained["psnr"] - untrained["psnr"], ">", LEARN_GAIN))


def test_sub_pixel_convolutions_start_without_a_checkerboard():
    """ICNR (Aitken et al. 2017): at initialisation each x2 sub-pixel layer is a nearest-neighbour
    upsampling, so the four pixels of every 2x2 output block are equal."""
    from ganthology.nn.srresnet import SRResNetGenerator

    G = SRResNetGenerator(3, 8, 1, 4)
    h = torch.randn(2, 8, 5, 5)
    for conv, shuffle in ((G.upsample[0], G.upsample[1]), (G.upsample[3], G.upsample[4])):
        out = shuffle(conv(h))
        assert torch.allclose(out[..., 0::2, 0::2], out[..., 1::2, 1::2])
        assert torch.allclose(out[..., 0::2, 0::2], out[..., 0::2, 1::2])


def test_super_resolution_psnr_follows_the_papers_protocol():
    """Section 3.3: PSNR on the luma channel with a 4-pixel border removed: an error confined to the
    border does not count, and a pure chroma change counts less than the same change in luma."""
    from ganthology.metrics.scores import luma, super_resolution_scores

    x = torch.rand(2, 3, 32, 32) * 2 - 1
    edge = x.clone()
    edge[..., :4, :] = -1
    assert super_resolution_scores(edge, x, 4)["psnr"] > 80
    grey = torch.full((1, 3, 4, 4), 0.2)
    assert torch.allclose(luma(grey), torch.full((1, 1, 4, 4), (0.6 * 219 + 16) / 255 * 2 - 1))


@pytest.mark.parametrize("channels", [1, 3])
def test_srresnet_and_srgan_build_and_step_for_grey_and_colour(channels):
    """Any channel count: G upscales C channels to C channels, D and the VGG loss take them (grey is
    repeated to the VGG's three)."""
    info = DataInfo(name=f"c{channels}", channels=channels, image_size=16)
    for name in ("srresnet", "srgan"):
        model = ganthology.build_model(name, tiny(name), info)
        assert model.translate(torch.rand(2, channels, 5, 7) * 2 - 1).shape == (2, channels, 20, 28)
        logs = model.train_step({"x": torch.rand(4, channels, 16, 16) * 2 - 1}, 0)
        assert all(torch.isfinite(v) for v in logs.values())
