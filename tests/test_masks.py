"""Holes for inpainting (data/masks.py). The inpainting models' own tests drive `ganthology inpaint`
end to end; tests/test_cli.py checks its refusals."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from ganthology.data.masks import composite, fill_hole, read_mask, square_masks
from ganthology.errors import GanthologyError



def test_center_mask_is_the_middle_square():
    m = square_masks("center", 2, 32, 8)
    assert m.shape == (2, 1, 32, 32) and m.dtype == torch.float32
    assert m.sum() == 2 * 8 * 8
    assert m[0, 0, 12:20, 12:20].all() and m[0, 0, 11].sum() == 0 and m[0, 0, 20].sum() == 0


def test_random_masks_lie_inside_vary_and_follow_the_generator():
    a = square_masks("random", 64, 32, 10, torch.Generator().manual_seed(1))
    b = square_masks("random", 64, 32, 10, torch.Generator().manual_seed(1))
    assert torch.equal(a, b), "a seeded torch.Generator fixes the holes (no np.random)"
    assert (a.sum(dim=(1, 2, 3)) == 100).all(), "every hole is whole, so none crosses the border"
    rows = a[:, 0].amax(dim=2).argmax(dim=1)  # the top row of each hole
    assert len(set(rows.tolist())) > 5, "positions vary from item to item"
    torch.manual_seed(3)
    c = square_masks("random", 64, 32, 10)
    torch.manual_seed(3)
    assert torch.equal(c, square_masks("random", 64, 32, 10)), "torch.manual_seed alone fixes them too"


@pytest.mark.parametrize("kind, hole", [("square", 8), ("center", 0), ("center", 33)])
def test_bad_mask_settings_are_refused(kind, hole):
    with pytest.raises(GanthologyError):
        square_masks(kind, 1, 32, hole)


def test_read_mask_white_is_the_hole_at_the_model_size(tmp_path):
    img = torch.zeros(64, 64, dtype=torch.uint8)
    img[:32, :32] = 255
    Image.fromarray(img.numpy()).convert("RGB").save(tmp_path / "m.png")
    m = read_mask(tmp_path / "m.png", 32)
    assert m.shape == (1, 1, 32, 32) and set(m.unique().tolist()) == {0.0, 1.0}
    assert m[0, 0, :16, :16].all() and m.sum() == 16 * 16
    Image.new("L", (8, 8)).save(tmp_path / "black.png")
    with pytest.raises(GanthologyError, match="no white pixels"):
        read_mask(tmp_path / "black.png", 32)
    with pytest.raises(GanthologyError, match="not a file"):
        read_mask(tmp_path / "missing.png", 32)


def test_fill_and_composite_touch_only_the_hole():
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    m = square_masks("center", 2, 8, 4)
    filled = fill_hole(x, m, torch.tensor([1.0, 0.0, -1.0]))
    assert torch.equal(filled[m.expand_as(x) == 0], x[m.expand_as(x) == 0])
    assert (filled[:, 0][m[:, 0] == 1] == 1).all() and (filled[:, 2][m[:, 0] == 1] == -1).all()
    out = composite(torch.zeros_like(x), x, m)
    assert torch.equal(out[m.expand_as(x) == 0], x[m.expand_as(x) == 0]) and (out[m.expand_as(x) == 1] == 0).all()

