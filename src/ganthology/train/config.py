"""The trainer's own settings (the model's live in the model's Config dataclass)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class TrainConfig:
    dataset: str | None = None  # None: the model's default dataset
    data_root: str | None = None  # None: $GANTHOLOGY_DATA or ~/.cache/ganthology/data
    image_size: int | None = None  # None: the dataset's own size (32 for MNIST / CIFAR-10)
    direction: str = "AtoB"  # for paired folders: which half is the input
    steps: int | None = None  # optimisation steps (batches); when neither is set, 2000 generator updates (2000 x n_critic steps for a model with a critic schedule)
    epochs: float | None = None  # alternatively, passes over the data
    minutes: float | None = None  # wall-clock budget of the training loop (setup excluded); the run stops at the first step past it, or at --steps/--epochs if those come first (with neither given, only the clock ends it)
    lr_decay_from: float | None = None  # from this fraction of the run on (of its steps, or of --minutes when only the clock ends it), lower every learning rate linearly to 0 (0.5: CycleGAN's schedule); none: the model's own (constant for most)
    out: str | None = None  # run folder; None: runs/MODEL-DATASET
    seed: int = 0  # initial weights, noise and data order all follow from it
    device: str = "auto"  # auto | cpu | cuda
    devices: int = 1  # processes (GPUs, or CPU processes with gloo); > 1 runs DDP
    precision: str = "32-true"  # 32-true | 16-mixed | bf16-mixed (Lightning Fabric's names); on a GPU, 32-true computes in TF32
    channels_last: bool = True  # memory format of conv nets and image batches
    log_every: int = 50  # steps between metrics.csv rows (losses averaged over the interval)
    sample_every: int = 500  # steps between sample grids (from a fixed seed)
    ckpt_every: int = 1000  # steps between checkpoints (one is always written at the end)
    ckpt_minutes: float = 5.0  # also checkpoint when this many minutes have passed since the last one (0: off), so a killed run loses at most that
    keep_last: int = 3  # checkpoints kept beside last.pt as checkpoints/step_N.pt, to go back to when a run went bad late (0: none)
    augment: str = ""  # DiffAugment (Zhao et al. 2020) of every image D sees, real and generated: comma-separated color, translation, cutout ("": off; the paper's choice for small data is color,translation,cutout)
    ema: float = 0.0  # decay of an exponential moving average of the generator's weights, used for samples, evaluation and export (0: off; 0.999 a common value)
    ema_rampup: float = 0.0  # with --ema: the average's half-life is at most this fraction of the steps so far (StyleGAN2-ADA's ema_rampup, 0.05), so a short run averages over its last few percent only; 0: the fixed warm-up (1+t)/(10+t)
    n_samples: int = 64  # images in a sample grid
    eval_every: int = 0  # steps between evaluations (0: none); values go to metrics.csv as eval_*
    eval_metric: str | None = None  # kept-best criterion, e.g. fd_mnist-lenet [default: fd_ of the dataset's evaluator]
    eval_n: int = 2000  # samples per evaluation
    progress: bool = True  # progress bar on the terminal

    #: the range of each numeric setting (config_fields.bounds; others: 0 or more)
    BOUNDS: ClassVar[dict] = {
        "image_size": (8, 4096), "steps": (1, 10**9), "epochs": (1e-6, 10**6), "minutes": (1e-3, 10**7), "lr_decay_from": (0, 1),
        "seed": (0, 2**32 - 1), "devices": (1, 1024), "log_every": (1, 10**9), "sample_every": (1, 10**9),
        "ckpt_every": (1, 10**9), "ckpt_minutes": (0, 10**6), "keep_last": (0, 10**6), "ema": (0, 0.999999), "ema_rampup": (0, 1), "n_samples": (1, 4096),
        "eval_every": (0, 10**9), "eval_n": (1, 10**7),
    }
