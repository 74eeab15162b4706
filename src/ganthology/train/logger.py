"""metrics.csv (always), TensorBoard (when installed), and the loss-curve PNG at the end."""
from __future__ import annotations

import csv
from pathlib import Path


class MetricsLogger:
    """Rows of {step, epoch, images_per_s, <losses>} in `metrics.csv`. Columns may appear later in
    a run (WGAN-GP's loss_G first comes at step n_critic); the file is then rewritten with the
    wider header. On resume, rows after the checkpoint's step are dropped, so the file holds each
    step once."""

    def __init__(self, out: Path, resume_step: int | None = None, tensorboard: bool = True):
        self.path = out / "metrics.csv"
        self.rows: list[dict] = []
        self.columns: list[str] = []
        if resume_step is not None and self.path.exists():
            with open(self.path, newline="") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or [])
                self.rows = [r for r in reader if int(r["step"]) <= resume_step]
            self._rewrite()
        elif self.path.exists():
            self.path.unlink()
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out / "tb"))
            except ImportError:
                pass  # TensorBoard is optional: pip install ganthology[tensorboard]

    def log(self, row: dict) -> None:
        new = [k for k in row if k not in self.columns]
        self.rows.append(row)
        if new:
            self.columns += new
            self._rewrite()
        else:
            with open(self.path, "a", newline="") as f:
                csv.DictWriter(f, self.columns).writerow(row)
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])

    def _rewrite(self) -> None:
        with open(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, self.columns)
            w.writeheader()
            w.writerows(self.rows)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_metrics(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plot_losses(metrics_csv: Path, png: Path) -> None:
    """One line per loss column of metrics.csv against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_csv)
    if not rows:
        return
    skip = {"step", "epoch", "images_per_s"}
    keys = [k for k in rows[0] if k not in skip and not k.startswith("eval_")]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for k in keys:
        pts = [(int(r["step"]), float(r[k])) for r in rows if r.get(k) not in (None, "")]
        if pts:
            ax.plot(*zip(*pts), label=k, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
