"""2-D samples as a scatter plot over the data: what a sample grid is for images, for the toys."""
from __future__ import annotations

from pathlib import Path

import torch


def save_scatter(samples: torch.Tensor, path: str | Path, data: torch.Tensor | None = None,
                 title: str | None = None) -> Path:
    """Generated points (N, 2) in orange over real points (M, 2) in grey, as one PNG. The axes
    are fixed by the real data (plus a margin), so that successive previews of a run compare, and
    samples that land far away are drawn at the border instead of stretching the plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    s = samples.detach().float().cpu()
    if s.dim() != 2 or s.shape[1] != 2:
        raise ValueError(f"a scatter plot needs (N, 2) points, got {tuple(s.shape)}")
    ref = data.detach().float().cpu() if data is not None else s[torch.isfinite(s).all(1)]
    if len(ref):
        lo, hi = ref.min(0).values, ref.max(0).values
        pad = 0.15 * (hi - lo).max().clamp_min(1.0)
        lo, hi = lo - pad, hi + pad
    else:  # nothing finite to frame
        lo, hi = torch.full((2,), -1.0), torch.full((2,), 1.0)
    shown = torch.maximum(torch.minimum(s.nan_to_num(0.0), hi), lo)  # outliers at the border
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if data is not None:
        ax.scatter(ref[:, 0], ref[:, 1], s=4, c="0.6", alpha=0.5, linewidths=0, label="data")
    ax.scatter(shown[:, 0], shown[:, 1], s=4, c="tab:orange", alpha=0.7, linewidths=0, label="samples")
    ax.set_xlim(lo[0].item(), hi[0].item())
    ax.set_ylim(lo[1].item(), hi[1].item())
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
