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
    x = torch.zeros(4, *hook.shape)
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
