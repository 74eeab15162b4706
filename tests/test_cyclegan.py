"""CycleGAN: its parts as the paper builds them, the defects of the PyTorch-GAN script it must not
repeat, its use on a user's images, and that it learns."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.models.cyclegan import ImagePool
from ganthology.nn import PatchGANDiscriminator, ResnetGenerator

from .conftest import SEED, run_cli, stopped_and_resumed, tiny, two_domain_info as _info


@pytest.mark.parametrize("c_in, c_out", [(1, 1), (1, 3), (3, 1), (3, 3), (4, 4)])
def test_generators_and_discriminators_for_any_channel_count(c_in, c_out):
    """PyTorch-GAN's ReflectionPad2d(channels) was right only for 3 channels (its issue #128)."""
    G = ResnetGenerator(c_in, c_out, ngf=8, n_blocks=2)
    x = torch.randn(2, c_in, 32, 32)
    assert G(x).shape == (2, c_out, 32, 32)
    assert PatchGANDiscriminator(c_out, 8, 3, norm="instance")(G(x)).shape[:2] == (2, 1)


def test_the_discriminator_sees_70x70_patches():
    """Appendix 7.2: a 70x70 PatchGAN (the script's extra stride-2 block gave H/16 outputs instead)."""
    D = PatchGANDiscriminator(1, 8, 3, norm="batch").eval()  # instance norm would mix in the whole image
    x = torch.randn(1, 1, 160, 160, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    cols = x.grad[0, 0].abs().sum(0).nonzero()
    assert int(rows.max() - rows.min() + 1) == 70 and int(cols.max() - cols.min() + 1) == 70


def test_image_pool_keeps_at_most_its_size_and_is_repeatable():
    torch.manual_seed(0)
    pool = ImagePool(50, (1, 2, 2))
    first = torch.randn(30, 1, 2, 2)
    assert torch.equal(pool(first), first), "while the pool fills, D sees the new images"
    outs = []
    for seed in (1, 1):
        torch.manual_seed(seed)
        p = ImagePool(50, (1, 2, 2))
        p.load_state_dict(pool.state_dict())
        batches = [p(torch.full((4, 1, 2, 2), float(i))) for i in range(40)]
        outs.append(torch.cat(batches))
        assert int(p.count) == 50 and p.images.shape[0] == 50
    assert torch.equal(outs[0], outs[1]), "seeding torch makes the history repeatable"
    assert all(b.shape[0] == 4 for b in batches)
    old = (outs[0][-40:].flatten(1)[:, 0] < 30).sum()
    assert 0 < old < 40, "once full, about half the images D sees come from the history"
    assert ImagePool(0, (1, 2, 2))(first) is first


def test_identity_loss_only_between_domains_of_the_same_channels():
    for c_b, has_id in ((3, False), (1, True)):
        model = ganthology.build_model("cyclegan", tiny("cyclegan"), _info(1, c_b))
        batch = {"A": torch.rand(4, 1, 32, 32) * 2 - 1, "B": torch.rand(4, c_b, 32, 32) * 2 - 1}
        assert ("loss_id" in model.train_step(batch, 0)) == has_id


def test_the_learning_rate_decays_linearly_to_zero_over_the_second_half():
    model = ganthology.build_model("cyclegan", {**tiny("cyclegan"), "decay_from": 0.5}, _info(1, 3))
    model.total_steps = 100
    model.setup_optimizers()
    lrs = []
    for _ in range(100):
        lrs.append(model.opt["G"].param_groups[0]["lr"])
        model.opt["G"].step()
        for s in model.sched.values():
            s.step()
    assert lrs[0] == lrs[50] == 2e-4 and lrs[75] == pytest.approx(1e-4) and lrs[99] == pytest.approx(4e-6)
    assert model.opt["G"].param_groups[0]["lr"] == 0


def test_translate_both_ways_and_refuse_what_it_cannot(tmp_path):
    run = ganthology.train_model("cyclegan", dataset="digits2photo", steps=2, out=str(tmp_path / "run"),
                                 progress=False, **tiny("cyclegan"))
    ins = tmp_path / "in"
    ins.mkdir()
    Image.new("L", (32, 32), 200).save(ins / "grey.png")
    Image.new("RGB", (32, 32), (200, 10, 10)).save(ins / "colour.png")
    r = run_cli("translate", str(run), "--input", str(ins), "--out", str(tmp_path / "ab"))
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "ab" / "grey.png").mode == "RGB", "A (grey digits) -> B (colour)"
    r = run_cli("translate", str(run), "--input", str(ins), "--out", str(tmp_path / "ba"), "--direction", "BtoA")
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "ba" / "colour.png").mode == "L", "B (colour) -> A (grey)"
    (ins / "notes.png").write_text("not an image")
    r = run_cli("translate", str(run), "--input", str(ins), "--out", str(tmp_path / "bad"))
    assert r.returncode != 0 and "notes.png" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad").exists(), "nothing written when one input is bad"
    r = run_cli("translate", str(run), "--input", str(ins / "grey.png"), "--out", str(tmp_path / "x"),
                "--attributes", "red=1")
    assert r.returncode != 0 and "takes no --attributes" in r.stderr and "--direction" in r.stderr
    with pytest.raises(ganthology.GanthologyError, match="needs a dataset with domain A and domain B"):
        ganthology.build_model("cyclegan", {}, build_dataset("digits").info())


def _digit_kept_and_fd(model, test) -> dict:
    batch = InMemoryLoader(test, 1).fixed_batch(len(test))
    return model.eval().held_out_metrics(batch)


@pytest.mark.learning
def test_cyclegan_learns_to_translate_both_ways(tmp_path, expect, one_thread):
    """digits2photo, 600 steps of tiny networks (about a minute): the cycle closes, translations into the
    grey-digit domain land near it (FD in the digits evaluator's features) and keep their digit more
    often than the input itself would."""
    test = build_dataset("digits2photo", train=False)
    settings = dict(ngf=16, ndf=16, batch_size=4)
    torch.manual_seed(SEED)
    untrained = _digit_kept_and_fd(ganthology.build_model("cyclegan", settings, build_dataset("digits2photo").info()),
                                   test)
    run = ganthology.train_model("cyclegan", dataset="digits2photo", steps=600, seed=SEED, out=str(tmp_path / "run"),
                                 progress=False, sample_every=1000, **settings)
    trained = _digit_kept_and_fd(ganthology.load(run), test)
    print("untrained", untrained, "\ntrained", trained)
    # measured (seeds 0-2, 600 steps): cycle_l1 0.68-0.72 -> 0.17-0.2; fd_BtoA ~1200 -> 45-60;
    # digit kept 0.72 against the identity's 0.59
    expect(cycle_ratio=(trained["cycle_l1"] / untrained["cycle_l1"], "<", 0.5),
           fd_ratio=(trained["fd_BtoA"] / untrained["fd_BtoA"], "<", 0.2),
           fd_vs_identity=(trained["fd_BtoA"] / trained["identity_fd_BtoA"], "<", 1.0),
           digit_kept_BtoA=(trained["digit_kept_BtoA"], ">", trained["identity_digit_kept_BtoA"]))


def test_stopped_in_its_decay_it_resumes_exactly_with_both_domains_and_the_pool(tmp_path, monkeypatch):
    """Unpaired domains (two shuffles and positions), the image pool (buffers) and the decaying
    learning rate, stopped at step 6 of 8 (Ctrl-C) and resumed: the same losses, rates and weights."""
    full, a, b = stopped_and_resumed(monkeypatch, tmp_path, "cyclegan", 6,
                        dataset="digits2photo", steps=8, **{**tiny("cyclegan"), "decay_from": 0.5, "pool_size": 3})
    assert float(full[-1]["lr_G"]) < float(full[0]["lr_G"]), "the run decays"
    assert a["loader"] == b["loader"] and len(a["loader"]["groups"]) == 2
