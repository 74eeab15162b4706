"""The training loop, written once for every model, on Lightning Fabric.

Fabric chooses the device, launches one process per device (`--devices N`: DDP over NCCL on GPUs,
gloo on CPU; or under `torchrun`), sets up mixed precision (autocast + loss scaling) and provides
the collectives. The loop around it: resumable data position, periodic logging, sample grids from
a fixed seed, atomic checkpoints that resume exactly, and the generator export.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import signal
import sys
import time
import warnings
from pathlib import Path

import torch
import yaml

from ..data import InMemoryLoader, build_dataset
from ..data.core import as_domains
from ..errors import GanthologyError, check_size, settings_guard
from ..models.base import GANModel, clock_linear_decay, constant_then_linear_decay
from ..registry import get_model
from ..seeding import seeded
from ..viz import save_grid, save_scatter
from .augment import DiffAugment, parse_policy
from .checkpoint import atomic_write, export_generator, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .ema import EMA
from .engine import FabricEngine
from .logger import MetricsLogger, plot_losses

DEFAULT_STEPS = 2000  # generator updates of a run given no --steps, --epochs or --minutes
UNBOUNDED = 10**9  # the step count of a run that only --minutes ends
DDP_TIMEOUT_S = 300  # how long a rank waits for the others in a collective before the run stops
SCATTER_POINTS = 1000  # generated and real points in a preview of vector data (a grid shows n_samples)
PRECISIONS = {"32": "32-true", "32-true": "32-true", "16": "16-mixed", "16-mixed": "16-mixed",
              "bf16": "bf16-mixed", "bf16-mixed": "bf16-mixed"}


def resolve_run(path: str | Path) -> Path:
    """A run folder -> its last checkpoint; a checkpoint file -> itself."""
    p = Path(path)
    if p.is_dir():
        p = p / "checkpoints" / "last.pt"
        if not p.is_file():
            raise GanthologyError(f"{path} has no checkpoints/last.pt to resume from.")
    return p


class Trainer:
    """`Trainer(model_name, model_cfg, train_cfg).fit()` trains and returns the run folder.

    `resume`: a checkpoint path; the run continues exactly where that checkpoint stopped."""

    def __init__(self, model_name: str, model_cfg, cfg: TrainConfig, resume: str | Path | None = None):
        self.model_cls = get_model(model_name)
        self.model_name, self.model_cfg, self.cfg = model_name, model_cfg, cfg
        self.resume = Path(resume) if resume else None
        if cfg.precision not in PRECISIONS:
            raise GanthologyError(f"unknown precision {cfg.precision!r}; use 32-true, 16-mixed or bf16-mixed.")
        cfg.precision = PRECISIONS[cfg.precision]
        parse_policy(cfg.augment)  # an unknown transformation is refused before any work
        if cfg.devices < 1:
            raise GanthologyError("--devices must be at least 1.")
        self._stop = False
        self._lock = None
        self._seconds = 0.0  # training-loop seconds of the run's earlier segments (from the checkpoint)
        self._spent = 0.0  # the fraction of the --minutes budget used, which a clock-bound decay follows
        self._loop_start = time.monotonic()  # reset when the training loop starts

    # --- setup ----------------------------------------------------------------------------------
    def _fabric(self):
        from lightning_fabric import Fabric
        from lightning_fabric.utilities.exceptions import MisconfigurationException

        device = self.cfg.device
        if device == "cuda" and not torch.cuda.is_available():
            raise GanthologyError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu.")
        if device not in ("auto", "cpu", "cuda"):
            raise GanthologyError(f"unknown device {device!r}; use auto, cpu or cuda.")
        accelerator = {"auto": "cuda" if torch.cuda.is_available() else "cpu"}.get(device, device)
        if accelerator == "cpu" and self.cfg.precision == "16-mixed":
            raise GanthologyError(
                "16-mixed precision needs a CUDA GPU; on the CPU use --precision 32-true (bf16-mixed runs "
                "too, but is many times slower on CPUs without bf16 units)."
            )
        if accelerator == "cuda":
            # PyTorch already runs float32 convolutions in TF32 on GPUs that have it
            # (torch.backends.cudnn.allow_tf32); the FC layers do the same. This is also what
            # Lightning's hint asks for, which would otherwise print on every run.
            torch.set_float32_matmul_precision("high")
        strategy = "auto"
        if self.cfg.devices > 1:
            from datetime import timedelta

            from lightning_fabric.strategies import DDPStrategy

            # a rank that dies makes the others' next collective fail at once (the connection closes);
            # one that hangs is given up on after this long instead of the default 30 minutes
            strategy = DDPStrategy(timeout=timedelta(seconds=DDP_TIMEOUT_S))
        try:
            return Fabric(accelerator=accelerator, devices=self.cfg.devices, strategy=strategy,
                          precision=self.cfg.precision)
        except (ValueError, RuntimeError, MisconfigurationException) as e:  # e.g. --devices 2 on one GPU
            raise GanthologyError(f"cannot set up {self.cfg.devices} x {accelerator}: {' '.join(str(e).split())}") from None

    def resolved_config(self) -> dict:
        return {
            "model": self.model_name,
            "model_config": dataclasses.asdict(self.model_cfg),
            "train": dataclasses.asdict(self.cfg),
        }

    # --- the loop -------------------------------------------------------------------------------
    def fit(self) -> Path:
        try:
            return self._fit()
        except RuntimeError as e:
            if self.cfg.devices > 1 and _peer_failure(e):
                raise GanthologyError(
                    "another process of this run stopped unexpectedly, so this one stopped too; resume with "
                    f"'ganthology train {self.model_name} --out {self.cfg.out} --resume'.") from None
            raise
        finally:  # however the run ends, the folder is free again
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def _fit(self) -> Path:
        cfg = self.cfg
        fabric = self._fabric()
        fabric.launch()
        rank, world = fabric.global_rank, fabric.world_size
        out = Path(cfg.out)
        model, loader, total = self._setup(fabric)
        judge = self._evaluation(model) if cfg.eval_every and rank == 0 else None
        self.ema = EMA(model, cfg.ema, cfg.ema_rampup) if cfg.ema else None
        augment = DiffAugment(model, cfg.augment) if cfg.augment else None
        step = self._restore(load_checkpoint(self.resume), model, loader, fabric) if self.resume else 0

        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            self._lock = lock_run(out)
            (out / "config.yaml").write_text(yaml.safe_dump(self.resolved_config(), sort_keys=False))
        logger = MetricsLogger(out, resume_step=step if self.resume else None) if rank == 0 else None
        bar = None
        if rank == 0 and cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=None if total == UNBOUNDED else total, initial=step, desc=self.model_name,
                       dynamic_ncols=True, mininterval=0.2 if sys.stderr.isatty() else 10.0)
        fixed = loader.fixed_batch(SCATTER_POINTS if model.data.is_vector else cfg.n_samples)
        restore_signals = self._install_signal_handlers(world)

        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        count, t0 = 0, time.perf_counter()
        watch = DivergenceWatch(fabric.device)
        self._last_ckpt = (step, time.monotonic())
        model.train()
        first = step
        self._loop_start = time.monotonic()
        deadline = None
        if cfg.minutes:  # a resumed run continues its budget, so a clock-bound decay resumes where it stood
            deadline = self._loop_start + 60 * cfg.minutes - self._seconds
        clock_decay = total == UNBOUNDED and cfg.lr_decay_from is not None
        out_of_time = stopping = False
        while step < total and not stopping and not out_of_time:
            with fabric.autocast(), settings_guard(self.model_name) if step == first else contextlib.nullcontext():
                logs = model.train_step(loader.next(), step)
            if clock_decay:  # the rates of the next step follow the budget used when it starts
                self._spent = self._budget_spent(step, fabric, cfg.log_every)
            if model.sched:  # once per train_step; a player that steps its optimizer only every
                # n_critic-th train_step (WGAN's G) would make torch warn at the first one
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
                    for sched in model.sched.values():
                        sched.step()
            step += 1
            count += 1
            if self.ema is not None:
                self.ema.update(step)
            if augment is not None and not augment.seen:
                augment.check()
            for k, v in logs.items():  # accumulate on the device: no host sync per step
                v = v.detach().float()
                sums[k] = sums[k] + v if k in sums else v
                counts[k] = counts.get(k, 0) + 1  # a key of 1 step in n_critic is averaged over those
            watch.see(logs, step)
            if bar is not None:
                bar.update(1)

            if deadline is not None:
                out_of_time = self._time_up(deadline, step, fabric, cfg.log_every)
            stopping = self._stop  # read once: a signal that lands later in this step stops the next one,
            # so the step that ends the run is always the one that decided to checkpoint
            last = step == total or stopping or out_of_time
            ckpt_due = step % cfg.ckpt_every == 0 or last or self._clock_due(step, fabric, cfg.log_every)
            if step % cfg.log_every == 0 or last or ckpt_due:
                watch.check(fabric, self._last_ckpt[0], out)  # a non-finite loss stops the run before it is logged or saved
            if step % cfg.log_every == 0 or last:
                ips = count * loader.batch_size * world / (time.perf_counter() - t0)
                row = {"step": step, "epoch": round(loader.epoch_float, 4), "images_per_s": round(ips, 1),
                       **self._reduce_logs(sums, counts, fabric),
                       **{f"lr_{k}": sched.get_last_lr()[0] for k, sched in sorted(model.sched.items())}}
                if logger is not None:
                    logger.log(row)
                if bar is not None:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if k not in ("step", "epoch")})
            if rank == 0 and (step % cfg.sample_every == 0 or last):
                self._sample_grid(model, fixed, out / "samples" / f"step_{step:07d}.png", step)
            if ckpt_due:
                self._checkpoint(out, model, loader, fabric, step)
            if cfg.eval_every and (step % cfg.eval_every == 0 or last):
                self._evaluate(judge, model, loader, fabric, step, out, logger)
            if step % cfg.log_every == 0 or last:  # the next interval's speed excludes grids and checkpoints
                sums, counts, count, t0 = {}, {}, 0, time.perf_counter()

        restore_signals()
        if bar is not None:
            bar.close()
        self.model = model  # kept for callers of the Python API
        if rank == 0:
            logger.close()
            plot_losses(out / "metrics.csv", out / "loss_curve.png")
            self._report(out)
            if stopping and step < total:
                print(f"stopped at step {step}; continue with: ganthology train {self.model_name} "
                      f"--out {out} --resume", file=sys.stderr)
        return out

    @staticmethod
    def _report(out: Path) -> None:
        """RUN/report.html; a page that cannot be written costs a warning, never the run."""
        from ..viz.report import write_report

        try:
            write_report(out)
        except (GanthologyError, OSError, ValueError) as e:
            warnings.warn(f"report.html was not written: {e}")

    def _setup(self, fabric):
        """The model on its device with its optimizers wrapped by Fabric, and the data loader."""
        cfg, rank, world = self.cfg, fabric.global_rank, fabric.world_size
        if fabric.device.type == "cpu" and world > 1:
            # N processes on one CPU: split the cores, or their OpenMP threads wait on each other
            # (docs/benchmarks.md measured 2 spinning threads on a busy core 3-6x slower).
            local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
        data = build_dataset(cfg.dataset, cfg.data_root, cfg.image_size, direction=cfg.direction)
        if "domain A" in self.model_cls.requires and data.paired:
            data = as_domains(data)  # unpaired translation on a paired set: each side shuffled on its own
        check_size(self.model_name, lambda: self.model_cls(copy.deepcopy(self.model_cfg), data.info()))
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        with settings_guard(self.model_name):
            model = self.model_cls(self.model_cfg, data.info())
            model.bind_data(data)  # e.g. sgan's labelled examples (seeded: the same on every rank)
        channels_last = model.conv and cfg.channels_last and not model.data.is_vector
        model = fabric.to_device(model)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        loader = InMemoryLoader(data, self.model_cfg.batch_size, cfg.seed, rank, world, fabric.device, channels_last)
        model.total_steps = total = self._total_steps(loader, model)  # before the schedules are built
        with settings_guard(self.model_name):
            model.setup_optimizers()
        if cfg.lr_decay_from is not None:  # a schedule that settles, for a model without its own
            if not 0 <= cfg.lr_decay_from <= 1:
                raise GanthologyError(f"--lr-decay-from {cfg.lr_decay_from} must lie in [0, 1]: the fraction "
                                      "of the run after which the learning rates fall to 0.")
            model.sched |= {k: clock_linear_decay(o, lambda: self._spent, cfg.lr_decay_from) if total == UNBOUNDED
                            else constant_then_linear_decay(o, total, cfg.lr_decay_from)
                            for k, o in model.opt.items() if k not in model.sched}
        model.opt = {k: fabric.setup_optimizers(o) for k, o in model.opt.items()}
        model.engine = FabricEngine(fabric)
        if world > 1:
            self._broadcast_state(model)  # the same start on every rank, whatever the platform
        torch.manual_seed(cfg.seed + 1 + rank)  # from here on each rank draws its own noise
        if fabric.device.type == "cuda":
            torch.cuda.manual_seed(cfg.seed + 1 + rank)
        return model, loader, total

    def _total_steps(self, loader: InMemoryLoader, model: GANModel) -> int:
        if self.cfg.steps is not None and self.cfg.epochs is not None:
            raise GanthologyError("give --steps or --epochs, not both.")
        if (self.cfg.steps is not None and self.cfg.steps < 1) or (self.cfg.epochs is not None and self.cfg.epochs <= 0):
            raise GanthologyError("--steps must be at least 1 (and --epochs above 0): a run takes at least one step.")
        if self.cfg.epochs is not None:
            return max(1, math.ceil(self.cfg.epochs * loader.steps_per_epoch))
        if self.cfg.steps is not None:
            return self.cfg.steps
        if not self.cfg.minutes:  # 2000 generator updates: 10,000 critic steps of a WGAN at n_critic 5
            return DEFAULT_STEPS * model.steps_per_update
        # only the clock ends this run: --lr-decay-from follows the clock, but a model's own schedule
        # is written over the run's length in steps
        if self.model_cls.follows_run_length:
            raise GanthologyError(f"{self.model_name}'s schedule follows the run's length in steps, which --minutes "
                                  "alone does not fix; give --steps (or --epochs) too: the run stops at whichever "
                                  "comes first.")
        return UNBOUNDED

    def _reduce_logs(self, sums: dict, counts: dict, fabric) -> dict:
        """Each logged value is the mean over the steps that returned it (a generator loss of WGAN,
        returned once every n_critic steps, is the mean of those generator steps), then over ranks."""
        if not sums:
            return {}
        keys = sorted(sums)
        vec = torch.stack([sums[k] / counts[k] for k in keys])
        if fabric.world_size > 1:
            vec = fabric.all_reduce(vec, reduce_op="mean")
        return dict(zip(keys, vec.tolist()))

    # --- sampling, checkpoints ------------------------------------------------------------------
    def _sample_grid(self, model, fixed: dict, path: Path, step: int = 0) -> None:
        """A grid from a fixed seed: the same noise at every step, and the training RNG untouched.
        For vector data (the 2-D toys) a scatter plot of samples over the fixed real points."""
        with seeded(self.cfg.seed + 12345, model.device), self._averaged():
            model.eval()
            images, nrow = model.preview(fixed)
            model.train()
        if model.data.is_vector:
            save_scatter(images, path, data=fixed["x"], title=f"{self.model_name} on {model.data.name}, step {step}")
        else:
            save_grid(images, path, nrow=nrow)

    def _averaged(self):
        """The generator's weight average in place while sampling, evaluating and exporting (--ema)."""
        return self.ema.applied() if self.ema is not None else contextlib.nullcontext()

    def _broadcast_state(self, model, buffers_only: bool = False) -> None:
        import torch.distributed as dist

        tensors = list(model.buffers()) if buffers_only else list(model.state_dict().values())
        for t in tensors:
            dist.broadcast(t, src=0)

    # --- evaluation during training -----------------------------------------------------------
    def _evaluation(self, model):
        """The --eval-every criterion, resolved (evaluator loaded) before training starts."""
        from ..metrics.evaluate import EvalCriterion

        return EvalCriterion(self.cfg.eval_metric, model, self.cfg)

    def _evaluate(self, judge, model, loader, fabric, step: int, out: Path, logger) -> None:
        """Score the model (rank 0, eval mode, training RNG untouched), log the value, and keep the
        checkpoint with the best value so far as checkpoints/best.pt (its value in best.json)."""
        improved = False
        if fabric.global_rank == 0:
            model.eval()
            with self._averaged():
                value = judge(model)
            model.train()
            logger.log({"step": step, f"eval_{judge.key}": round(value, 6)})
            best_file = out / "checkpoints" / "best.json"
            best = json.loads(best_file.read_text()) if best_file.is_file() else None
            improved = best is None or judge.better(value, best["value"])
            if improved:
                best = {"metric": judge.key, "value": value, "step": step}
        if fabric.world_size > 1:
            improved = fabric.broadcast(improved, src=0)
        if improved:
            self._checkpoint(out, model, loader, fabric, step, name="best.pt")
            if fabric.global_rank == 0:
                atomic_write(best_file, lambda tmp: tmp.write_text(json.dumps(best, indent=2)))

    @staticmethod
    def _clock_says(passed, step: int, fabric, every: int) -> bool:
        """`passed()`, a question to the clock. With several processes rank 0's clock decides, asked
        only at logging steps, so that the ranks agree (and act after the same step) without a sync
        per step."""
        if fabric.world_size == 1:
            return passed()
        return False if step % every else bool(fabric.broadcast(passed(), src=0))

    def _budget_spent(self, step: int, fabric, every: int) -> float:
        """The fraction of the --minutes budget used so far. With several processes it is rank 0's,
        shared at logging steps (the ranks keep the last shared value in between), so that every
        rank sets the same learning rates."""
        spent = (self._seconds + time.monotonic() - self._loop_start) / (60 * self.cfg.minutes)
        if fabric.world_size == 1:
            return spent
        return self._spent if step % every else float(fabric.broadcast(spent, src=0))

    def _time_up(self, deadline: float, step: int, fabric, every: int) -> bool:
        """Whether the --minutes budget is spent."""
        return self._clock_says(lambda: time.monotonic() >= deadline, step, fabric, every)

    def _clock_due(self, step: int, fabric, every: int) -> bool:
        """Whether `ckpt_minutes` have passed since the last checkpoint."""
        minutes = self.cfg.ckpt_minutes
        if not minutes or step == self._last_ckpt[0]:
            return False
        return self._clock_says(lambda: time.monotonic() - self._last_ckpt[1] >= 60 * minutes, step, fabric, every)

    def _checkpoint(self, out: Path, model, loader, fabric, step: int, name: str = "last.pt") -> None:
        if fabric.world_size > 1:
            # Parameters are identical on every rank by construction (same init, same averaged
            # gradients); BatchNorm running statistics are per rank and rank 0's are kept.
            self._broadcast_state(model, buffers_only=True)
        rng = {"cpu": self._gather(torch.get_rng_state(), fabric)}
        if fabric.device.type == "cuda":
            rng["cuda"] = self._gather(torch.cuda.get_rng_state(fabric.device), fabric)
        if fabric.global_rank == 0:
            payload = {
                "model": self.model_name,
                "config": self.resolved_config(),
                "data": model.data.to_dict(),
                "step": step,
                "world_size": fabric.world_size,
                "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizers": {k: o.state_dict() for k, o in model.opt.items()},
                "schedulers": {k: sc.state_dict() for k, sc in model.sched.items()},
                "precision": fabric.strategy.precision.state_dict(),
                "rng": rng,
                "loader": loader.state_dict(),
                "seconds": self._seconds + time.monotonic() - self._loop_start,  # of the training loop, all segments
            }
            if self.ema is not None:
                payload["ema"] = self.ema.state_dict()
            save_checkpoint(out / "checkpoints" / name, payload)
            if name == "last.pt":
                self._keep(out / "checkpoints", step)
                with self._averaged():
                    export_generator(out, model, self.resolved_config())
        if name == "last.pt":
            self._last_ckpt = (step, time.monotonic())
        fabric.barrier()

    def _keep(self, folder: Path, step: int) -> None:
        """last.pt also as step_N.pt (a hard link: no second copy on disk), and only the newest
        `keep_last` of those, so a run that went bad late can go back a few checkpoints."""
        if self.cfg.keep_last <= 0:
            return
        kept = folder / f"step_{step:07d}.pt"
        if not kept.exists():
            try:
                os.link(folder / "last.pt", kept)
            except OSError:  # a file system without hard links: a copy
                import shutil

                atomic_write(kept, lambda tmp: shutil.copyfile(folder / "last.pt", tmp))
        for old in sorted(folder.glob("step_*.pt"))[:-self.cfg.keep_last]:
            old.unlink(missing_ok=True)

    @staticmethod
    def _gather(t: torch.Tensor, fabric) -> torch.Tensor:
        """Every rank's copy of a CPU tensor, stacked: (world_size, *t.shape)."""
        if fabric.world_size == 1:
            return t.unsqueeze(0).clone()
        import torch.distributed as dist

        dev = torch.device("cpu") if dist.get_backend() == "gloo" else fabric.device
        parts = [torch.empty_like(t, device=dev) for _ in range(fabric.world_size)]
        dist.all_gather(parts, t.to(dev))
        return torch.stack(parts).cpu()

    def _restore(self, ckpt: dict, model, loader, fabric) -> int:
        if ckpt["model"] != self.model_name:
            raise GanthologyError(
                f"{self.resume} is a checkpoint of {ckpt['model']!r}, not {self.model_name!r}; "
                f"resume it with 'ganthology train {ckpt['model']} --resume ...'."
            )
        model.load_state_dict(ckpt["state"])
        if self.ema is not None:
            try:
                self.ema.load_state_dict(ckpt["ema"])
            except (KeyError, TypeError, RuntimeError):
                raise GanthologyError(f"{self.resume} holds no usable weight average for --ema; resume from "
                                      "another checkpoint of the run.") from None
        for k, o in model.opt.items():
            o.load_state_dict(ckpt["optimizers"][k])
        for k, sched in model.sched.items():  # where the schedule stands; its shape is the model's
            sched.load_state_dict(ckpt.get("schedulers", {}).get(k) or {"last_epoch": int(ckpt["step"])})
        if ckpt.get("precision"):
            fabric.strategy.precision.load_state_dict(ckpt["precision"])
        loader.load_state_dict(ckpt["loader"])
        self._seconds = float(ckpt.get("seconds", 0.0))
        if self.cfg.minutes and self._seconds >= 60 * self.cfg.minutes:
            raise GanthologyError(f"{self.resume} has spent its --minutes {self.cfg.minutes:g} already; resume with "
                                  "a larger --minutes (the run's total budget) to train on.")
        rank = fabric.global_rank
        if ckpt["world_size"] == fabric.world_size:
            torch.set_rng_state(ckpt["rng"]["cpu"][rank].clone())
            if "cuda" in ckpt["rng"] and fabric.device.type == "cuda":
                torch.cuda.set_rng_state(ckpt["rng"]["cuda"][rank].clone(), fabric.device)
        else:
            fabric.print(
                f"note: the checkpoint was written by {ckpt['world_size']} process(es), this run has "
                f"{fabric.world_size}; training continues but not bit-for-bit."
            )
        return int(ckpt["step"])

    def _install_signal_handlers(self, world: int):
        """Single process: Ctrl-C / SIGTERM finish the current step, checkpoint and stop. With
        several processes the ranks could stop at different steps, so the default applies and the
        last periodic checkpoint is what a resume starts from."""
        if world > 1:
            return lambda: None

        def stop(signum, frame):
            if self._stop:  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self._stop = True

        try:
            old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread (e.g. a notebook worker): keep the defaults
            return lambda: None
        return lambda: [signal.signal(s, h) for s, h in old.items()]


def _peer_failure(e: RuntimeError) -> bool:
    """Whether a collective failed because another rank went away (killed, crashed, timed out)."""
    import torch.distributed as dist

    text = str(e)
    return (isinstance(e, getattr(dist, "DistError", ())) or "gloo" in text or "NCCL" in text
            or "Connection reset" in text or "Connection closed" in text or "timed out" in text.lower())


def lock_run(out: Path):
    """Hold an exclusive lock on the run folder for as long as this process trains in it (released
    when the process ends, however it ends), so that a second `ganthology train` on the same folder
    refuses at once instead of both writing its checkpoints. Returns the open lock file (keep it)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        return None
    f = open(out / ".lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        pid = f.read().strip() or "another process"
        f.close()
        raise GanthologyError(f"{out} is in use by another training process (pid {pid}); wait for it to finish "
                              "or train into another --out.") from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


class DivergenceWatch:
    """Notices the first step whose logged losses are not finite, without a host sync per step: the
    check runs on the device, and the host reads the verdict only at logging and checkpoint steps,
    before anything is written. The run then stops with one sentence, and the last checkpoint, which
    was written before the losses went bad, stays as it was."""

    def __init__(self, device: torch.device):
        self.first_bad = torch.full((), -1, dtype=torch.long, device=device)
        self.bad_key = torch.full((), -1, dtype=torch.long, device=device)
        self.keys: list[str] = []
        self._index: dict[tuple, torch.Tensor] = {}

    def see(self, logs: dict[str, torch.Tensor], step: int) -> None:
        if not logs:
            return
        for k in logs:
            if k not in self.keys:
                self.keys.append(k)
        names = tuple(logs)
        if names not in self._index:  # which of self.keys each value is, on the device, built once
            self._index[names] = torch.tensor([self.keys.index(k) for k in names], device=self.first_bad.device)
        vals = torch.stack([logs[k].detach().float().reshape(()) for k in names])
        bad = ~torch.isfinite(vals)
        new = (self.first_bad < 0) & bad.any()
        self.bad_key = torch.where(new, self._index[names][bad.int().argmax()], self.bad_key)
        self.first_bad = torch.where(new, torch.full_like(self.first_bad, step), self.first_bad)

    def check(self, fabric, last_good: int, out: Path) -> None:
        first = self.first_bad
        if fabric.world_size > 1:  # any rank's bad loss stops every rank
            first = fabric.all_reduce(torch.where(first < 0, torch.full_like(first, 1 << 62), first).float(),
                                      reduce_op="min").long()
            first = torch.where(first >= 1 << 62, torch.full_like(first, -1), first)
        step = int(first)
        if step < 0:
            return
        key = self.keys[int(self.bad_key)] if int(self.bad_key) >= 0 else "loss"
        kept = (f"{out}/checkpoints/last.pt (step {last_good}) is kept as it was" if last_good
                else "no checkpoint had been written yet")
        raise GanthologyError(f"the loss {key} became non-finite at step {step}, so training stopped and {kept}; "
                              "train again with a lower learning rate or other settings.")
