"""Throughput of ganthology's dcgan training step against a straightforward PyTorch loop.

Both sides train the SAME networks (`ganthology.nn.DCGANGenerator` / `DCGANDiscriminator`, `dcgan_init`,
identical initial weights) with the same batch size, image size, losses and Adam settings, on MNIST
at 32x32, in one process, in alternating rounds (A B B A ...), so that machine noise hits both alike.

ganthology side ("ganthology"): the trainer's own code path. A `Trainer` makes the Fabric
(`Trainer._fabric()`: accelerator, precision) and sets everything up with `Trainer._setup()` (the
model from the registry, `channels_last` when `TrainConfig.channels_last`, its optimizers wrapped by
`fabric.setup_optimizers`, `FabricEngine`, `InMemoryLoader` over `build_dataset("mnist", root, 32)`,
the seeds); a step is what `Trainer.fit` does per step: `loader.next()`, then
`with fabric.autocast(): model.train_step(batch, step)`, then the on-device loss sums.
(Everything `fit` does only every N steps -- csv rows, sample grids, checkpoints -- is left out.)

baseline side ("baseline"): what one writes from the PyTorch-GAN `dcgan.py` script:
`torchvision.datasets.MNIST` with per-sample PIL transforms (Resize(32), ToTensor,
Normalize([0.5], [0.5])) in a `DataLoader(shuffle=True)`, NCHW float32, BCEWithLogits losses,
Adam(2e-4, (0.5, 0.999)); z ~ N(0, 1) -> G(z); D on real and fake.detach(), backward, step; G's loss through
D with D's requires_grad left on, backward, step.

Printed: images/s of both, the ratio, time per step split into data and compute, the FLOPs of one
training step (torch.utils.flop_counter, backward included; convolutions and matmuls only) and the
achieved GFLOP/s next to the float32 matmul rate measured in the same rounds.

Noise: every round also records how much CPU OTHER processes used meanwhile (/proc/stat). On a
2-core machine a second job makes every 2-thread op wait for a descheduled OpenMP thread and the
step 3-6x slower, so medians are taken over the CLEAN rounds only (others < --max-other-load
cores); measuring goes on until --rounds clean rounds are in or --max-time has passed. With
--wait-idle the script sleeps between rounds until the machine is quiet (use on a shared machine).

    python benchmarks/throughput.py                       # the comparison (~1-3 min on 2 cores)
    python benchmarks/throughput.py --wait-idle --max-time 900   # on a machine others use too
    python benchmarks/throughput.py --ablations           # + variants: channels_last on/off, D not
                                                          #   frozen, baseline with D frozen, baseline
                                                          #   without data, fused Adam, mkldnn off,
                                                          #   1 thread, flush denormals
    python benchmarks/throughput.py --profile             # + torch.profiler op tables of both loops
    python benchmarks/throughput.py --json out.json       # also write the numbers

See docs/benchmarks.md for measured numbers and the analysis.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
import warnings

import torch

Z_DIM = 100


# --------------------------------------------------------------------------------------------------
# the two training loops
# --------------------------------------------------------------------------------------------------
class Side:
    """One training loop. `step()` runs one training step and returns the seconds spent getting
    the batch. `setting()` is a context entered around every timed block of this side (used by the
    ablations to switch a global backend setting for that side only)."""

    name = ""
    note = ""

    def step(self) -> float:
        raise NotImplementedError

    @contextlib.contextmanager
    def setting(self):
        yield


class GanthologySide(Side):
    def __init__(self, name: str, data, args, channels_last: bool = True, frozen_d: bool = True,
                 precision: str = "32-true", adam: dict | None = None, note: str = ""):
        from ganthology.api import make_config
        from ganthology.train import TrainConfig, Trainer

        self.name, self.note = name, note
        # real_label 1 and lr_g 2e-4: the baseline's plain BCE targets and its one Adam rate, so
        # that both sides compute the same losses
        mcfg = make_config("dcgan", batch_size=args.batch_size, ngf=args.ngf, ndf=args.ndf, real_label=1.0,
                           lr_g=2e-4)
        cfg = TrainConfig(dataset="mnist", data_root=args.data_root, image_size=32, device=args.device,
                          precision=precision, channels_last=channels_last, progress=False)
        trainer = Trainer("dcgan", mcfg, cfg)
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")
            fabric = trainer._fabric()  # the trainer's own accelerator / precision resolution
            fabric.launch()
        model, self.loader, _ = trainer._setup(fabric)  # the trainer's own setup: model, optimizers, loader
        if adam:  # ablation: the same Adam with other implementation options (foreach / fused)
            model.opt = {k: fabric.setup_optimizers(torch.optim.Adam(
                o.param_groups[0]["params"], lr=o.param_groups[0]["lr"], betas=o.param_groups[0]["betas"],
                **adam)) for k, o in model.opt.items()}
        model.train()
        self.model, self.fabric, self.frozen_d = model, fabric, frozen_d
        self.sums: dict[str, torch.Tensor] = {}
        self.i = 0

    def step(self) -> float:
        t0 = time.perf_counter()
        batch = self.loader.next()
        t_data = time.perf_counter() - t0
        with self._maybe_unfrozen(), self.fabric.autocast():
            logs = self.model.train_step(batch, self.i)
        self.i += 1
        for k, v in logs.items():  # the trainer's per-step bookkeeping (on device, no sync)
            v = v.detach().float()
            self.sums[k] = self.sums[k] + v if k in self.sums else v
        if self.i % 50 == 0:  # the trainer's log_every reduction
            float(torch.stack(list(self.sums.values())).sum())
            self.sums = {}
        return t_data

    def _maybe_unfrozen(self):
        if self.frozen_d:
            return contextlib.nullcontext()
        # ablation: dcgan's `with frozen(self.D)` made a no-op (D's weight grads computed in G's step)
        import ganthology.models.dcgan as m

        @contextlib.contextmanager
        def patch():
            old = m.frozen
            m.frozen = lambda *mods: contextlib.nullcontext()
            try:
                yield
            finally:
                m.frozen = old

        return patch()

    def networks(self):
        return self.model.G, self.model.D


class BaselineSide(Side):
    def __init__(self, name: str, args, num_workers: int = 0, freeze_d: bool = False,
                 in_memory: bool = False, note: str = ""):
        import torchvision
        import torchvision.transforms as T
        from torch.utils.data import DataLoader

        from ganthology.nn import DCGANDiscriminator, DCGANGenerator, dcgan_init

        self.name, self.note = name, note
        tf = T.Compose([T.Resize(32), T.ToTensor(), T.Normalize([0.5], [0.5])])
        ds = torchvision.datasets.MNIST(root=args.data_root, train=True, download=False, transform=tf)
        self.device = torch.device(args.device)
        self.dl = DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=num_workers,
                             drop_last=True, persistent_workers=num_workers > 0,
                             pin_memory=self.device.type == "cuda")
        self.it = iter(self.dl)
        self.fixed = None
        if in_memory:  # ablation: a single pre-made batch, i.e. compute only
            self.fixed = next(self.it)[0].to(self.device)
        torch.manual_seed(0)  # the trainer's seed: identical initial weights to the ganthology side
        # same construction order as ganthology.models.dcgan.DCGAN.__init__ (G, then D, then init)
        self.G = DCGANGenerator(Z_DIM, 1, 32, args.ngf)
        self.D = DCGANDiscriminator(1, 32, args.ndf, norm="batch")
        self.G.apply(dcgan_init)
        self.D.apply(dcgan_init)
        self.G.to(self.device)
        self.D.to(self.device)
        self.optG = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optD = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.crit = torch.nn.BCEWithLogitsLoss()
        self.freeze_d = freeze_d
        torch.manual_seed(1)

    def _next(self):
        if self.fixed is not None:
            return self.fixed
        try:
            imgs, _ = next(self.it)
        except StopIteration:  # a new epoch
            self.it = iter(self.dl)
            imgs, _ = next(self.it)
        return imgs.to(self.device, non_blocking=True)

    def step(self) -> float:
        t0 = time.perf_counter()
        real = self._next()
        t_data = time.perf_counter() - t0
        b = real.shape[0]
        ones, zeros = torch.ones(b, device=self.device), torch.zeros(b, device=self.device)
        z = torch.randn(b, Z_DIM, device=self.device)
        fake = self.G(z)
        # D
        d_loss = (self.crit(self.D(real), ones) + self.crit(self.D(fake.detach()), zeros)) / 2
        self.optD.zero_grad()
        d_loss.backward()
        self.optD.step()
        # G (D's requires_grad left on, as typical scripts do, unless the freeze ablation)
        if self.freeze_d:
            for p in self.D.parameters():
                p.requires_grad_(False)
        g_loss = self.crit(self.D(fake), ones)
        self.optG.zero_grad()
        g_loss.backward()
        self.optG.step()
        if self.freeze_d:
            for p in self.D.parameters():
                p.requires_grad_(True)
        return t_data

    def networks(self):
        return self.G, self.D


class WithSetting(Side):
    """Another side run under a global setting (mkldnn off, thread count, flush-denormal)."""

    def __init__(self, name: str, inner: Side, enter, exit_, note: str = ""):
        self.name, self.inner, self.note = name, inner, note
        self._enter, self._exit = enter, exit_

    def step(self) -> float:
        return self.inner.step()

    @contextlib.contextmanager
    def setting(self):
        state = self._enter()
        try:
            yield
        finally:
            self._exit(state)

    def networks(self):
        return self.inner.networks()


def threads(n: int):
    def enter():
        old = torch.get_num_threads()
        torch.set_num_threads(n)
        return old

    return enter, torch.set_num_threads


def mkldnn_off():
    def enter():
        old = torch.backends.mkldnn.enabled
        torch.backends.mkldnn.enabled = False
        return old

    def exit_(old):
        torch.backends.mkldnn.enabled = old

    return enter, exit_


def flush_denormal():
    def enter():
        torch.set_flush_denormal(True)

    def exit_(_):
        torch.set_flush_denormal(False)

    return enter, exit_


# --------------------------------------------------------------------------------------------------
# FLOPs and the matmul reference
# --------------------------------------------------------------------------------------------------
def step_flops(side: Side) -> int:
    """FLOPs of one whole training step (forward + backward; the optimizer's elementwise work and
    BatchNorm are not counted by the FlopCounter, only convolutions / matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    with side.setting(), FlopCounterMode(display=False) as fc:
        side.step()
    return fc.get_total_flops()


def forward_flops_per_image(G, D, batch: int) -> tuple[float, float]:
    from torch.utils.flop_counter import FlopCounterMode

    z = torch.randn(batch, Z_DIM, device=next(G.parameters()).device)
    with torch.no_grad():
        x = G(z)
        with FlopCounterMode(display=False) as fg:
            x = G(z)
        with FlopCounterMode(display=False) as fd:
            D(x)
    return fg.get_total_flops() / batch, fd.get_total_flops() / batch


def sync(device: str) -> None:
    """Wait for the device's queued work, so that a timer read after it counts that work."""
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(n: int, reps: int = 5, device: str = "cpu") -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)  # warm
    best = float("inf")
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


# --------------------------------------------------------------------------------------------------
# the measurement
# --------------------------------------------------------------------------------------------------
class OtherLoad:
    """CPU time that OTHER processes used while we measured, in cores (Linux /proc/stat minus our
    own CPU time). Timings taken while it is well above 0 are contended and noisy: each parallel
    region of a 2-thread op then waits for a descheduled thread."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), self._own()

    @staticmethod
    def _busy():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
            return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
        except (OSError, ValueError, IndexError):
            return None

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system

    def cores(self):
        busy = self._busy()
        if busy is None or self.busy0 is None:
            return None
        wall = time.perf_counter() - self.t0
        return max(0.0, (busy - self.busy0 - (self._own() - self.own0)) / wall)


def wait_until_idle(threshold: float, deadline: float, probe: float = 2.0) -> None:
    """Sleep until other processes use fewer than `threshold` cores (probed over `probe` s)."""
    while time.perf_counter() < deadline:
        load = OtherLoad()
        time.sleep(probe)
        other = load.cores()
        if other is None or other < threshold:
            return


def measure(sides: list[Side], args) -> dict:
    """Rounds of `args.steps` timed steps of every side (order reversed every other round), plus a
    matmul, until `args.rounds` CLEAN rounds -- ones during which other processes used less than
    `args.max_other_load` cores -- have been collected or `args.max_time` seconds have passed.
    Medians are over the clean rounds (over all rounds, flagged, when fewer than 2 were clean)."""
    t_start = time.perf_counter()
    for s in sides:  # warmup: oneDNN primitive caches, allocator, DataLoader start
        with s.setting():
            for _ in range(args.warmup):
                s.step()
    flops = {s.name: step_flops(s) for s in sides}

    rounds = []  # {"ips": {name: x}, "data_ms": {...}, "step_ms": {...}, "mm": x, "other": cores}
    t_rounds = time.perf_counter()
    n_clean = 0
    while n_clean < args.rounds and time.perf_counter() - t_rounds < args.max_time:
        if args.wait_idle:
            wait_until_idle(args.max_other_load, t_rounds + args.max_time)
        r = len(rounds)
        order = sides if r % 2 == 0 else sides[::-1]  # A B, B A, A B, ... (cancels drift)
        row = {"ips": {}, "data_ms": {}, "step_ms": {}}
        load = OtherLoad()
        for s in order:
            with s.setting():
                t_data = 0.0
                sync(args.device)
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    t_data += s.step()
                sync(args.device)
                dt = time.perf_counter() - t0
            row["ips"][s.name] = args.steps * args.batch_size / dt
            row["data_ms"][s.name] = 1e3 * t_data / args.steps
            row["step_ms"][s.name] = 1e3 * dt / args.steps
        row["mm"] = matmul_gflops(args.matmul_n, device=args.device)
        other = load.cores()
        row["other"] = other
        row["clean"] = other is None or other < args.max_other_load
        n_clean += row["clean"]
        rounds.append(row)
        line = "  ".join(f"{s.name} {row['ips'][s.name]:6.1f}" for s in sides)
        tag = "" if row["clean"] else "  (contended: not used)"
        print(f"  round {r + 1}: images/s  {line}  | matmul {row['mm']:5.1f} GFLOP/s | "
              f"others {other if other is not None else float('nan'):.2f} cores{tag}",
              file=sys.stderr, flush=True)

    used = [r for r in rounds if r["clean"]]
    contended = len(used) < min(2, args.rounds)
    if contended:
        used = rounds
    med = statistics.median
    out = {"sides": {}, "matmul_gflops": med(r["mm"] for r in used),
           "rounds_total": len(rounds), "rounds_clean": n_clean, "contended": contended,
           "other_processes_cores": med(r["other"] or 0.0 for r in used),
           "rounds": rounds, "measure_s": time.perf_counter() - t_start}
    for s in sides:
        ms = med(r["step_ms"][s.name] for r in used)
        data = med(r["data_ms"][s.name] for r in used)
        out["sides"][s.name] = {
            "note": s.note,
            "images_per_s": med(r["ips"][s.name] for r in used),
            "images_per_s_rounds": [r["ips"][s.name] for r in used],
            "step_ms": ms,
            "data_ms": data,
            "compute_ms": ms - data,
            "step_gflop": flops[s.name] / 1e9,
            "gflops_achieved": flops[s.name] / 1e9 / (ms / 1e3),
        }
    return out


def per_round_ratio(res: dict, a: str, b: str) -> float:
    ra, rb = res["sides"][a]["images_per_s_rounds"], res["sides"][b]["images_per_s_rounds"]
    return statistics.median(x / y for x, y in zip(ra, rb))


def profile(sides: list[Side], steps: int, rows: int) -> None:
    from torch.profiler import ProfilerActivity, profile as tprofile

    for s in sides:
        with s.setting(), tprofile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                s.step()
        print(f"\n=== profile: {s.name} ({steps} steps), by self CPU time ===")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=48))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default=os.environ.get("GANTHOLOGY_DATA") or "/work/shared/data",
                   help="folder holding MNIST/raw (default: $GANTHOLOGY_DATA or /work/shared/data)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per side before timing")
    p.add_argument("--steps", type=int, default=4, help="timed steps per side per round")
    p.add_argument("--rounds", type=int, default=6,
                   help="clean alternating rounds to collect; medians over them are reported")
    p.add_argument("--max-time", type=float, default=120,
                   help="seconds of rounds at most (stops earlier once --rounds clean rounds are in)")
    p.add_argument("--wait-idle", action="store_true",
                   help="before each round, sleep until other processes are idle (within --max-time)")
    p.add_argument("--max-other-load", type=float, default=0.15,
                   help="a round is clean when other processes used fewer cores than this meanwhile")
    p.add_argument("--num-workers", type=int, default=0, help="the baseline DataLoader's workers")
    p.add_argument("--channels-last", choices=["default", "on", "off"], default="default",
                   help="ganthology side's TrainConfig.channels_last (default: TrainConfig's default)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads for the whole run (default: left at torch's default). "
                        "1 gives steadier numbers on a machine that other jobs share.")
    p.add_argument("--matmul-n", type=int, default=2048)
    p.add_argument("--ablations", action="store_true",
                   help="also time variants: channels_last on/off, D not frozen, baseline with D frozen, "
                        "baseline compute only, mkldnn off, 1 thread, flush denormals")
    p.add_argument("--profile", action="store_true", help="print torch.profiler op tables of both loops")
    p.add_argument("--profile-steps", type=int, default=3)
    p.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where both loops run (cuda: the timers wait for the GPU's queued work)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda needs a CUDA GPU that torch can see.")

    if args.threads:
        torch.set_num_threads(args.threads)
    import ganthology  # noqa: F401  (registers models and datasets)
    from ganthology.data import build_dataset
    from ganthology.train import TrainConfig

    cl_default = TrainConfig().channels_last
    cl = {"default": cl_default, "on": True, "off": False}[args.channels_last]

    t = time.perf_counter()
    data = build_dataset("mnist", args.data_root, 32)
    t_build = time.perf_counter() - t

    gan = GanthologySide("ganthology", data, args, channels_last=cl,
                         note=f"Trainer path, channels_last={cl}")
    base = BaselineSide("baseline", args, num_workers=args.num_workers,
                        note=f"DataLoader(num_workers={args.num_workers}) + PIL transforms, NCHW")
    # the same networks, the same initial weights
    for ng, nb in zip(gan.networks(), base.networks()):
        for (k, a), (_, b) in zip(ng.state_dict().items(), nb.state_dict().items()):
            assert torch.equal(a, b), f"initial weights differ at {k}"
    sides: list[Side] = [gan, base]
    if args.ablations:
        sides += [
            GanthologySide("gan_cl_" + ("off" if cl else "on"), data, args, channels_last=not cl,
                           note=f"ganthology with channels_last={not cl}"),
            GanthologySide("gan_unfrozen", data, args, channels_last=cl, frozen_d=False,
                           note="ganthology, D's requires_grad left on in G's step"),
            GanthologySide("gan_fused_adam", data, args, channels_last=cl, adam={"fused": True},
                           note="ganthology, Adam(fused=True)"),
            BaselineSide("base_frozen", args, freeze_d=True, note="baseline + D frozen in G's step"),
            BaselineSide("base_nodata", args, in_memory=True,
                         note="baseline compute only (one pre-made batch)"),
            WithSetting("gan_mkldnn_off", GanthologySide("_g1", data, args, channels_last=cl),
                        *mkldnn_off(), note="ganthology, torch.backends.mkldnn.enabled=False"),
            WithSetting("gan_1thread", GanthologySide("_g2", data, args, channels_last=cl),
                        *threads(1), note="ganthology, torch.set_num_threads(1)"),
            WithSetting("gan_ftz", GanthologySide("_g3", data, args, channels_last=cl),
                        *flush_denormal(), note="ganthology, torch.set_flush_denormal(True)"),
        ]

    G, D = base.networks()
    g_fwd, d_fwd = forward_flops_per_image(G, D, args.batch_size)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
          f"batch {args.batch_size}, 32x32, ngf {args.ngf}, ndf {args.ndf}, "
          f"up to {args.rounds} clean rounds x {args.steps} steps (+{args.warmup} warmup) per side",
          file=sys.stderr)
    res = measure(sides, args)
    res["build_dataset_s"] = t_build
    res["forward_mflop_per_image"] = {"G": g_fwd / 1e6, "D": d_fwd / 1e6}
    res["ratio"] = res["sides"]["ganthology"]["images_per_s"] / res["sides"]["baseline"]["images_per_s"]
    res["ratio_per_round_median"] = per_round_ratio(res, "ganthology", "baseline")
    res["config"] = {k: v for k, v in vars(args).items() if k != "json"}
    res["config"]["channels_last_resolved"] = cl
    res["env"] = {"torch": torch.__version__, "threads": torch.get_num_threads(),
                  "machine": platform.machine(), "python": platform.python_version(),
                  "cpu_count": os.cpu_count(),
                  "device": torch.cuda.get_device_name() if args.device == "cuda" else platform.processor()}

    mm = res["matmul_gflops"]
    print()
    print(f"forward FLOPs per image: G {g_fwd / 1e6:.1f} MFLOP, D {d_fwd / 1e6:.1f} MFLOP; "
          f"MNIST in-memory build {t_build:.1f} s (once, before training)")
    print(f"float32 matmul {args.matmul_n}x{args.matmul_n}: {mm:.1f} GFLOP/s (median over rounds)")
    print(f"rounds: {res['rounds_clean']} clean of {res['rounds_total']} "
          f"(clean: other processes used < {args.max_other_load} cores); medians over "
          + ("ALL rounds -- CONTENDED, other processes used a median "
             f"{res['other_processes_cores']:.2f} cores: not representative" if res["contended"]
             else "the clean rounds"))
    print()
    hdr = f"{'side':<15} {'images/s':>9} {'ms/step':>8} {'data ms':>8} {'compute':>8} {'GFLOP/step':>10} {'GFLOP/s':>8} {'% mm':>5}  note"
    print(hdr)
    print("-" * len(hdr))
    for name, s in res["sides"].items():
        print(f"{name:<15} {s['images_per_s']:9.1f} {s['step_ms']:8.1f} {s['data_ms']:8.1f} "
              f"{s['compute_ms']:8.1f} {s['step_gflop']:10.2f} {s['gflops_achieved']:8.1f} "
              f"{100 * s['gflops_achieved'] / mm:5.0f}  {s['note']}")
    if args.ablations:
        print()
        for name in res["sides"]:
            if name not in ("ganthology", "baseline"):
                print(f"  {name:<15} / ganthology = {per_round_ratio(res, name, 'ganthology'):.3f}x "
                      f"(median of per-round ratios)")
    print()
    print(f"ratio ganthology/baseline = {res['ratio']:.2f}x "
          f"(median of per-round ratios {res['ratio_per_round_median']:.2f}x)"
          + ("  [CONTENDED: rerun on an idle machine or with --wait-idle]" if res["contended"] else ""))

    if args.profile:
        profile([gan, base], args.profile_steps, 18)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
