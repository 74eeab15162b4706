"""benchmarks/stroke_width.py: the ink and width of digits, the measure of began's narrow samples."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from stroke_width import ink_and_width, main  # noqa: E402


def bars(n: int, size: int, first: int, width: int) -> torch.Tensor:
    """n black (-1) images with a white (+1) vertical bar of `width` columns from column `first`."""
    x = -torch.ones(n, 1, size, size)
    x[..., first : first + width] = 1
    return x


def test_ink_and_width_of_known_bars():
    ink, width = ink_and_width(bars(4, 16, 5, 3))
    assert width == 3
    assert abs(ink - 3 / 16) < 1e-6
    ink, width = ink_and_width(torch.cat([bars(1, 16, 0, 2), bars(1, 16, 8, 6)]))
    assert width == 4  # the mean over images
    assert abs(ink - 8 / 32) < 1e-6
    # a pixel at one half or below is no ink for the width
    assert ink_and_width(torch.zeros(2, 1, 16, 16))[1] == 0


def test_cli_scores_an_npz_against_the_test_split_and_refuses_colour(tmp_path, capsys):
    npz = tmp_path / "s.npz"
    np.savez(npz, images=((bars(100, 16, 7, 2) + 1) * 127.5).round().to(torch.uint8).numpy())
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stroke_width.py"), str(npz),
                          "--dataset", "digits", "--n", "100"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("digits test (100): ink")
    assert "width 2.00 px" in lines[1]
    real_width = float(lines[0].split("width ")[1].split(" px")[0])
    assert f"({2 / real_width:.2f}x)" in lines[1]

    np.savez(npz, images=np.zeros((10, 3, 16, 16), dtype=np.uint8))
    assert main([str(npz), "--dataset", "digits", "--n", "100"]) == 1
    assert capsys.readouterr().err.strip().startswith("error: stroke width needs single-channel images")
