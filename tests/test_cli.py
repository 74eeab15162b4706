"""The CLI end to end, in subprocesses, as a user runs it; bad input included."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

import ganthology

from .conftest import needs_mnist, run_cli

TINY_DCGAN = ["--ngf", "8", "--ndf", "8", "--batch-size", "16", "--no-progress"]


def assert_one_line_error(r, *fragments):
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "dcgan"
    r = run_cli("train", "dcgan", "--dataset", "digits", "--steps", "6", "--sample-every", "3", "--out", str(out), *TINY_DCGAN)
    assert r.returncode == 0, r.stderr
    return out


def test_list_shows_every_model():
    r = run_cli("list")
    assert r.returncode == 0
    for name in ("gan", "dcgan", "wgan_gp", "cgan", "pix2pix"):
        assert f"\n{name} " in r.stdout
    assert "Radford" not in r.stdout and "2015" in r.stdout


def test_train_sample_info_end_to_end(dcgan_run, tmp_path):
    for f in ("samples/step_0000003.png", "samples/step_0000006.png", "checkpoints/last.pt",
              "generator.safetensors", "metrics.csv", "loss_curve.png", "config.yaml"):
        assert (dcgan_run / f).is_file(), f
    grid = tmp_path / "grid.png"
    r = run_cli("sample", str(dcgan_run), "--n", "16", "--out", str(grid), "--individual", str(tmp_path / "each"))
    assert r.returncode == 0, r.stderr
    assert Image.open(grid).size[0] > 100
    assert len(list((tmp_path / "each").glob("*.png"))) == 16
    # the safetensors export alone is enough to sample
    r = run_cli("sample", str(dcgan_run / "generator.safetensors"), "--n", "4", "--out", str(tmp_path / "g2.png"))
    assert r.returncode == 0 and (tmp_path / "g2.png").is_file(), r.stderr
    r = run_cli("info", str(dcgan_run))
    assert r.returncode == 0, r.stderr
    assert "dcgan" in r.stdout and "step        6" in r.stdout and "network     G" in r.stdout


def test_print_config_and_yaml_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lambda_gp: 5\nsteps: 7\nn-critic: 3\n")
    r = run_cli("train", "wgan_gp", "--config", str(cfg), "--n-critic", "4", "--print-config")
    assert r.returncode == 0, r.stderr
    assert "lambda_gp: 5.0" in r.stdout and "steps: 7" in r.stdout and "n_critic: 4" in r.stdout
    r = run_cli("train", "wgan_gp", "--print-config")
    assert "lambda_gp: 10.0" in r.stdout and "n_critic: 5" in r.stdout  # the paper's defaults


def test_conditional_sampling_by_label(tmp_path):
    out = tmp_path / "cgan"
    r = run_cli("train", "cgan", "--dataset", "digits", "--steps", "2", "--out", str(out), "--no-progress",
                "--g-hidden", "32", "--d-units", "16")
    assert r.returncode == 0, r.stderr
    r = run_cli("sample", str(out), "--labels", "7", "--n", "5", "--out", str(tmp_path / "sevens.png"))
    assert r.returncode == 0 and (tmp_path / "sevens.png").is_file(), r.stderr
    assert_one_line_error(run_cli("sample", str(out), "--labels", "12"), "labels must lie in 0..9")


@pytest.fixture(scope="module")
def pix2pix_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "p2p"
    r = run_cli("train", "pix2pix", "--steps", "2", "--out", str(out), "--ngf", "8", "--ndf", "8", "--no-progress")
    assert r.returncode == 0, r.stderr
    return out


def test_translation_sampling_from_a_folder(pix2pix_run, tmp_path):
    inputs = tmp_path / "edges"
    inputs.mkdir()
    for i in range(3):
        Image.fromarray((torch.rand(32, 32) * 255).byte().numpy(), mode="L").save(inputs / f"e{i}.png")
    r = run_cli("sample", str(pix2pix_run), "--input", str(inputs), "--out", str(tmp_path / "t.png"),
                "--individual", str(tmp_path / "outs"))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == ["e0.png", "e1.png", "e2.png"]


def test_wrong_size_input_image_for_pix2pix(pix2pix_run, tmp_path):
    img = tmp_path / "big.png"
    Image.new("L", (100, 80)).save(img)
    assert_one_line_error(run_cli("sample", str(pix2pix_run), "--input", str(img)), "100x80", "32x32", "--resize")
    r = run_cli("sample", str(pix2pix_run), "--input", str(img), "--resize", "--out", str(tmp_path / "ok.png"))
    assert r.returncode == 0, r.stderr


def test_translate_writes_one_png_per_input_and_nothing_on_bad_input(pix2pix_run, tmp_path):
    """`ganthology translate`: inputs keep their names and sub-folders; an input that is not an
    image, or a model that does not translate, gets one sentence and leaves --out untouched."""
    inputs = tmp_path / "edges"
    (inputs / "more").mkdir(parents=True)
    for name in ("a.png", "b.jpg", "more/c.png"):
        Image.fromarray((torch.rand(32, 32) * 255).byte().numpy(), mode="L").save(inputs / name)
    out = tmp_path / "out"
    r = run_cli("translate", str(pix2pix_run), "--input", str(inputs), "--out", str(out))
    assert r.returncode == 0, r.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["a.png", "b.png", "more/c.png"]
    assert Image.open(out / "more" / "c.png").size == (32, 32)
    # the same through the Python API, on one file
    assert ganthology.translate(pix2pix_run, inputs / "a.png", tmp_path / "api") == [tmp_path / "api" / "a.png"]

    (inputs / "notes.png").write_text("not an image")
    fresh = tmp_path / "fresh"
    assert_one_line_error(run_cli("translate", str(pix2pix_run), "--input", str(inputs), "--out", str(fresh)),
                          "notes.png", "as an image")
    assert not fresh.exists(), "nothing is written when an input is bad"


def test_translate_refuses_a_model_that_does_not_translate(tmp_path):
    out = tmp_path / "dcgan"
    r = run_cli("train", "dcgan", "--dataset", "digits", "--steps", "1", "--out", str(out), "--no-progress",
                "--ngf", "8", "--ndf", "8")
    assert r.returncode == 0, r.stderr
    img = tmp_path / "x.png"
    Image.new("L", (16, 16)).save(img)
    assert_one_line_error(run_cli("translate", str(out), "--input", str(img), "--out", str(tmp_path / "t")),
                          "does not translate", "ganthology sample")


def test_inpaint_and_upscale_refuse_models_that_do_not_fill_or_upscale(dcgan_run, tmp_path):
    img = tmp_path / "x.png"
    Image.new("L", (32, 32)).save(img)
    assert_one_line_error(run_cli("inpaint", str(dcgan_run), "--input", str(img), "--out", str(tmp_path / "o")),
                          "does not fill holes")
    assert_one_line_error(run_cli("upscale", str(dcgan_run), "--input", str(img), "--out", str(tmp_path / "u")),
                          "does not upscale")
    assert not (tmp_path / "o").exists() and not (tmp_path / "u").exists()


def test_unknown_model():
    assert_one_line_error(run_cli("train", "stylegan9"), "unknown model 'stylegan9'", "ganthology list")


def test_unknown_flag():
    assert_one_line_error(run_cli("train", "dcgan", "--lambda-gp", "3"), "--lambda-gp")
    assert_one_line_error(run_cli("train", "dcgan", "--lr", "fast"), "fast")


def test_a_run_of_no_steps_is_refused(tmp_path):
    r = run_cli("train", "dcgan", "--dataset", "digits", "--steps", "0", "--out", str(tmp_path / "r"))
    assert_one_line_error(r, "--steps 0 is out of range", "1 or more")


def test_unknown_key_in_yaml(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lamda_gp: 5\n")
    assert_one_line_error(run_cli("train", "wgan_gp", "--config", str(cfg)), "lamda_gp")


def test_missing_dataset_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTHOLOGY_DATA", str(tmp_path))
    assert_one_line_error(run_cli("train", "dcgan", "--dataset", "mnist", "--steps", "1"),
                          "mnist is not under", "--data-root")
    assert_one_line_error(run_cli("train", "dcgan", "--dataset", "folder:/nonexistent/x"), "does not exist")


def test_corrupt_checkpoint(tmp_path, dcgan_run):
    bad = tmp_path / "last.pt"
    data = (dcgan_run / "checkpoints" / "last.pt").read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    assert_one_line_error(run_cli("sample", str(bad)), "not a readable ganthology checkpoint")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage" * 100)
    assert_one_line_error(run_cli("info", str(junk)), "not a readable ganthology checkpoint")


def test_checkpoint_of_another_model(dcgan_run):
    assert_one_line_error(run_cli("train", "wgan_gp", "--resume", str(dcgan_run)), "checkpoint of 'dcgan'", "not 'wgan_gp'")


def test_existing_run_is_not_overwritten(dcgan_run):
    assert_one_line_error(run_cli("train", "dcgan", "--dataset", "digits", "--out", str(dcgan_run)), "--resume")


def test_resume_refuses_model_changes(dcgan_run):
    assert_one_line_error(run_cli("train", "dcgan", "--resume", str(dcgan_run), "--lr", "0.1"), "--lr")


def test_missing_path_for_sample():
    assert_one_line_error(run_cli("sample", "/nonexistent/run"), "does not exist")


@needs_mnist
def test_train_on_real_mnist(tmp_path):
    out = tmp_path / "mnist"
    r = run_cli("train", "gan", "--dataset", "mnist", "--steps", "3", "--out", str(out), "--no-progress",
                "--g-hidden", "32", "--d-units", "16")
    assert r.returncode == 0, r.stderr
    assert "mnist: 1x32x32, 10 classes" in run_cli("info", str(out)).stdout
