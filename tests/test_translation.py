"""What all translation models share: one-to-many paired data, paired data read as two domains, the
pix2pix folder layout with its held-out split, the scores every model is measured by, and
`ganthology translate --outputs K` / `--style`."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.errors import GanthologyError
from ganthology.metrics.translation import content_and_realism, diversity
from ganthology.models.pix2pix import Pix2Pix

from .conftest import needs_mnist, run_cli, tiny


def test_edges2photodigits_is_one_to_many_with_the_digit_kept():
    """A is the edge map of B's digit, B the digit over a random photo patch: a grey edge map does not
    determine the colours around the digit."""
    train, test = build_dataset("edges2photodigits"), build_dataset("edges2photodigits", train=False)
    assert train.info().has("input", "target", "label") and len(train) == 1497 and len(test) == 300
    assert train.tensors["A"].shape[1:] == (1, 32, 32) and train.tensors["B"].shape[1:] == (3, 32, 32)
    assert set(train.tensors["A"].unique().tolist()) == {0, 255}  # a binary edge map
    assert train.info().parts["B"].dataset == "photodigits"  # scored by photodigits-lenet
    # the same digit in photodigits has another background: B is one draw of many
    photo = build_dataset("photodigits")
    assert (photo.tensors["x"].float() - train.tensors["B"].float()).abs().mean() > 20
    assert torch.equal(photo.tensors["y"], train.tensors["y"])


def test_a_paired_dataset_read_as_two_domains_shuffles_each_side_on_its_own():
    data = build_dataset("domains:edges2photodigits")
    info = data.info()
    assert data.name == "domains:edges2photodigits" and info.has("domain A", "domain B")
    assert info.parts["A"].group != info.parts["B"].group
    assert info.parts["y"].group == info.parts["A"].group and info.parts["y_B"].group == info.parts["B"].group
    batch = InMemoryLoader(data, 64, seed=0).next()
    paired = build_dataset("edges2photodigits").tensors
    # A and its labels stay aligned; B is drawn independently of A
    idx_A = [int((paired["A"] == a).flatten(1).all(1).nonzero()[0]) for a in (batch["A"][:8] * 127.5 + 127.5).round().byte()]
    assert batch["y"][:8].tolist() == paired["y"][idx_A].tolist()
    assert not torch.equal(batch["y"], batch["y_B"])
    with pytest.raises(GanthologyError, match="not paired"):
        build_dataset("domains:digits")


def test_paired_folder_holds_out_val_or_test(tmp_path):
    for split, colour in (("train", 0), ("val", 255)):
        (tmp_path / split).mkdir()
        Image.new("RGB", (64, 32), (colour,) * 3).save(tmp_path / split / "0.png")
    assert build_dataset(f"paired:{tmp_path}", image_size=16).tensors["A"].max() == 0
    test = build_dataset(f"paired:{tmp_path}", image_size=16, train=False)
    assert test.tensors["A"].min() == 255 and test.name == f"paired:{tmp_path}"


class _Features:
    """A stand-in evaluator: the flattened image as features, its first 10 pixels as class scores."""

    def run(self, x):
        f = x.flatten(1)
        return f, f[:, :10].softmax(1)


def test_diversity_is_zero_for_one_output_and_grows_with_the_spread():
    x = torch.randn(5, 1, 4, 4)
    assert diversity([x, x.clone(), x.clone()], _Features()) == 0
    assert diversity([x, x + 1], _Features()) == pytest.approx(4.0)  # |(1, ..., 1)| over 16 pixels
    with pytest.raises(ValueError):
        diversity([x], _Features())
    scores = content_and_realism(x, torch.zeros(5, dtype=torch.long), x, _Features())
    assert set(scores) == {"digit_kept", "fd"} and abs(scores["fd"]) < 1e-3


def test_translate_writes_k_outputs_per_input_as_one_row_for_one_to_many_models(tmp_path, monkeypatch):
    run = tmp_path / "run"
    ganthology.train_model("pix2pix", dataset="edges2photodigits", steps=1, out=str(run), progress=False, **tiny("pix2pix"))
    Image.new("L", (32, 32)).save(tmp_path / "edge.png")
    with pytest.raises(GanthologyError, match="one translation per input"):
        ganthology.translate(run, tmp_path / "edge.png", tmp_path / "out", outputs=3)
    with pytest.raises(GanthologyError, match="takes no --style"):
        ganthology.translate(run, tmp_path / "edge.png", tmp_path / "out", style=str(tmp_path / "edge.png"))
    # a model whose translations vary (pix2pix's dropout, standing in for munit and bicyclegan)
    monkeypatch.setattr(Pix2Pix, "multimodal", True)
    out = tmp_path / "out"
    [png] = ganthology.translate(run, tmp_path / "edge.png", out, outputs=3, seed=5)
    row = torch.from_numpy(__import__("numpy").array(Image.open(png)))
    assert row.shape[:2] == (32, 4 * 32)  # the input, then three translations
    again = torch.from_numpy(__import__("numpy").array(Image.open(ganthology.translate(
        run, tmp_path / "edge.png", tmp_path / "again", outputs=3, seed=5)[0])))
    assert torch.equal(row, again)  # the seed fixes the codes
    assert not torch.equal(row[:, 32:64], row[:, 64:96])  # different codes, different outputs


def test_translate_outputs_on_the_cli_is_checked(tmp_path):
    r = run_cli("translate", str(tmp_path), "--input", str(tmp_path), "--out", str(tmp_path / "o"), "--outputs", "0")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "--outputs" in r.stderr


def test_paired_models_report_content_realism_and_diversity(tmp_path):
    """pix2pix on the one-to-many set: its held-out numbers include the digits the target's evaluator
    reads, the Fréchet distance to the held-out targets and the spread of its (dropout) outputs."""
    run = tmp_path / "run"
    ganthology.train_model("pix2pix", dataset="edges2photodigits", steps=2, out=str(run), progress=False, **tiny("pix2pix"))
    scores = ganthology.evaluate(run, n=100)
    assert {"psnr", "digit_kept", "fd", "diversity"} <= set(scores)
    assert 0 <= scores["digit_kept"] <= 1 and scores["diversity"] >= 0


def _two_domain_models() -> list[str]:
    from ganthology.models.two_domain import TwoDomainModel

    return [m for m in ganthology.list_models() if issubclass(ganthology.get_model(m), TwoDomainModel)]


@pytest.mark.parametrize("name", _two_domain_models())
def test_two_domain_models_translate_a_users_images_both_ways(name, tmp_path):
    """What TwoDomainModel gives every unpaired model (the CLI path is tested once, in test_cyclegan):
    grey A -> colour B and back, one file per input, the same output twice unless the model draws a
    code per translation, and a bad input refused with nothing written."""
    run = ganthology.train_model(name, dataset="digits2photo", steps=2, out=str(tmp_path / "run"), progress=False,
                                 **tiny(name))
    ins = tmp_path / "in"
    ins.mkdir()
    Image.new("L", (32, 32), 200).save(ins / "grey.png")
    Image.new("RGB", (32, 32), (200, 10, 10)).save(ins / "colour.png")
    [ab_grey, _] = sorted(ganthology.translate(run, ins, tmp_path / "ab"), key=lambda p: p.name != "grey.png")
    assert Image.open(ab_grey).mode == "RGB", "A (grey digits) -> B (colour)"
    ba = {p.name: p for p in ganthology.translate(run, ins, tmp_path / "ba", direction="BtoA")}
    assert Image.open(ba["colour.png"]).mode == "L", "B (colour) -> A (grey)"
    model = ganthology.load(run)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert torch.equal(model.translate(x), model.translate(x)) != model.multimodal
    (ins / "notes.png").write_text("not an image")
    with pytest.raises(GanthologyError, match="notes.png"):
        ganthology.translate(run, ins, tmp_path / "bad")
    assert not (tmp_path / "bad").exists(), "nothing written when one input is bad"
    with pytest.raises(GanthologyError, match="takes"):
        model.translate(torch.zeros(1, 3, 30, 30))


@needs_mnist
def test_edges2mnistm_pairs_each_mnist_edge_map_with_its_mnistm_digit():
    pairs = build_dataset("edges2mnistm", train=False)
    mnistm = build_dataset("mnistm", train=False)
    assert len(pairs) == 10_000 and torch.equal(pairs.tensors["B"], mnistm.tensors["x"])
    assert torch.equal(pairs.tensors["y"], mnistm.tensors["y"])
    assert pairs.tensors["A"].shape[1:] == (1, 32, 32) and set(pairs.tensors["A"].unique().tolist()) == {0, 255}
    assert pairs.info().parts["B"].dataset == "mnistm"
