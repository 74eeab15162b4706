"""--augment: DiffAugment (Zhao et al. 2020) of every image the discriminator sees."""
from __future__ import annotations

import pytest
import torch

import ganthology
from ganthology.train.augment import DiffAugment, color, cutout, diff_augment, translation
from ganthology.train.checkpoint import load_checkpoint
from ganthology.train.logger import read_metrics

from .conftest import train_tiny as _train


def test_translation_shifts_each_image_by_at_most_an_eighth_and_fills_with_zeros():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 16, 16) + 1  # all pixels >= 1: a zero can only come from the padding
    y = translation(x)
    for a, b in zip(x, y):
        zero_rows = (b == 0).all(dim=(0, 2)).sum().item()
        zero_cols = (b == 0).all(dim=(0, 1)).sum().item()
        assert zero_rows <= 2 and zero_cols <= 2  # 16 / 8 = a shift of at most 2 pixels
        kept = b[:, (b != 0).any(dim=(0, 2))][:, :, (b != 0).any(dim=(0, 1))]
        found = any(torch.equal(kept, a[:, r:r + kept.shape[1], c:c + kept.shape[2]])
                    for r in range(0, 3) for c in range(0, 3))
        assert found, "the visible part is the original image, moved"
    assert sum(not torch.equal(a, b) for a, b in zip(x, y)) > 40, "most images move"


def test_cutout_zeroes_one_square_of_half_the_size_at_most():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 16, 16) + 1
    zeros = (cutout(x) == 0).flatten(1).sum(1)
    assert (zeros <= 64).all() and (zeros > 0).all() and (zeros == 64).sum() > 10


def test_color_changes_brightness_and_contrast_and_every_op_is_differentiable():
    torch.manual_seed(0)
    x = torch.rand(32, 3, 8, 8, requires_grad=True)
    y = color(x)
    assert not torch.allclose(y.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)))
    diff_augment(x, ["color", "translation", "cutout"]).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0, "G's gradient flows through the augmentation"


def test_augment_reaches_d_in_training_only_and_resumes_exactly(tmp_path):
    """A run with --augment trains, augments real and fake batches (D sees differently transformed
    copies), resumes bit for bit, and its D in eval mode (sgan's classifier) is left alone."""
    policy = "color,translation,cutout"
    full = read_metrics(_train("dcgan", tmp_path / "full", steps=6, augment=policy) / "metrics.csv")
    plain = read_metrics(_train("dcgan", tmp_path / "plain", steps=6) / "metrics.csv")
    assert full[0]["loss_D"] != plain[0]["loss_D"], "the augmentation changes what D sees"
    _train("dcgan", tmp_path / "part", steps=3, augment=policy)
    part = read_metrics(_train("dcgan", tmp_path / "part", steps=6, resume=tmp_path / "part") / "metrics.csv")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows]  # noqa: E731
    assert strip(part) == strip(full)
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["state"]
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["state"]
    assert all(torch.equal(a[k], b[k]) for k in a)

    model = ganthology.load(tmp_path / "full")
    hook = DiffAugment(model, policy)
    x = torch.zeros(4, *next(iter(hook.shapes)))
    model.eval()
    model.D(x)
    assert hook.seen == 0, "no augmentation outside training (evaluation, a classifier's test accuracy)"
    model.train()
    model.D(x)
    assert hook.seen == 1


def test_augment_is_refused_clearly_where_it_cannot_apply(tmp_path):
    with pytest.raises(ganthology.GanthologyError, match="unknown transformation 'blur'"):
        _train("dcgan", tmp_path / "a", steps=1, augment="color,blur")
    with pytest.raises(ganthology.GanthologyError, match="never receives images"):
        _train("aae", tmp_path / "b", steps=1, augment="translation")  # AAE's D judges codes


@pytest.mark.parametrize("name", ["dcgan", "infogan", "ebgan", "cyclegan", "bicyclegan", "esrgan"])
def test_every_batch_a_discriminator_sees_is_augmented(tmp_path, monkeypatch, name):
    """With a transformation that blanks the image, D's first convolution sees nothing but blanks:
    real and fake, in D's update and G's, whether the trainer hooks D or the model calls
    `augmented` itself (InfoGAN calls D in parts; EBGAN's D is an autoencoder), and in both domains
    of a translation (mnist2mnistm-like data: a 1-channel and a 3-channel domain), by each of
    BicycleGAN's two discriminators, and by ESRGAN's once its G-only pretraining steps are over."""
    from ganthology.train import augment

    monkeypatch.setattr(augment, "diff_augment", lambda x, names: x * 0)
    seen = []
    real_init = augment.DiffAugment.__init__

    def watching(self, model, policy):
        real_init(self, model, policy)
        for net in [m for n, m in model.named_children() if n.startswith("D")]:  # D, D_A, D_B, D2
            first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
            first.register_forward_pre_hook(lambda m, args: seen.append(bool((args[0] == 0).all())))

    monkeypatch.setattr(augment.DiffAugment, "__init__", watching)
    _train(name, tmp_path / name, steps=4 if name == "esrgan" else 2, augment="translation")
    assert len(seen) >= 4 and all(seen), f"{seen.count(False)} of {len(seen)} batches reached D untransformed"


def _flip(x, names):
    return x.flip(-1)


@pytest.mark.parametrize("name", ["began", "ebgan"])
def test_an_autoencoder_discriminator_is_scored_against_the_image_it_was_given(monkeypatch, name):
    """An autoencoder D under --augment reconstructs T(x) and is scored against T(x), not x:
    |T(x) - D(T(x))| (scoring it against x would ask it to undo a random transformation)."""
    from ganthology.data.info import DataInfo
    from ganthology.train import augment

    monkeypatch.setattr(augment, "diff_augment", _flip)
    model = ganthology.build_model(name, {}, DataInfo(name="synthetic", channels=1, image_size=16))
    augment.DiffAugment(model, "translation")
    model.train()
    x = torch.rand(4, 1, 16, 16) * 2 - 1

    def score(v):  # L(v) = |v - D(v)| (BEGAN, eq. 1); EBGAN's energy, the mean squared error
        if name == "began":
            return (v - model.D(v)).abs().mean()
        return (model.D.decoder(model.D.encoder(v)) - v).pow(2).mean()

    def loss(v):
        return model.recon_loss(v) if name == "began" else model.energy(v)[0].mean()

    with torch.no_grad():
        assert torch.allclose(loss(x), score(x.flip(-1)))
        model.eval()  # outside training the image is left alone
        assert torch.allclose(loss(x), score(x))


def test_batches_augmented_together_get_the_same_transformation_and_the_run_stays_reproducible():
    """VAE/GAN compares Dis_l's features of x and its reconstruction: both must be transformed
    alike, while separate calls draw fresh transformations, reproducibly from the seed."""
    from ganthology.data.info import DataInfo

    model = ganthology.build_model("vae_gan", {}, DataInfo(name="synthetic", channels=1, image_size=16))
    hook = DiffAugment(model, "color,translation,cutout")
    model.train()
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    torch.manual_seed(0)
    a, b = model.augmented(x, x.clone())
    c = model.augmented(x)
    assert torch.equal(a, b) and not torch.equal(a, x) and not torch.equal(a, c)
    torch.manual_seed(0)
    a2, _ = model.augmented(x, x.clone())
    assert torch.equal(a, a2) and torch.equal(c, model.augmented(x))
    assert hook.seen == 4
