"""Run one of PyTorch-GAN's MNIST scripts (eriklindernoren/PyTorch-GAN, as published) for a fixed
wall-clock budget on local MNIST, then draw samples from its generator into a .npz that
`ganthology eval` scores exactly like one of our runs:

    python benchmarks/pytorch_gan.py PATH/TO/implementations/dcgan/dcgan.py --minutes 10 \
        --out runs/race/pytorch_gan-dcgan.npz [--n 10000] [--threads 2] [--seed 0]
    ganthology eval runs/race/pytorch_gan-dcgan.npz --reference mnist --n 10000

Only what stops a script running here is changed, from the outside, without editing its file:
- `torchvision.datasets.MNIST` reads `--data-root` (default $GANTHOLOGY_DATA) and never downloads;
- the script runs in a temporary folder (its `images/` grids land there) with its printing sent to
  `--log`, and it is stopped by an alarm when the budget is spent (the budget includes the
  script's own setup: building its networks and its data loader);
- numpy's and torch's RNGs are seeded from `--seed` (the scripts seed nothing);
- `x.data[0]` on a 0-d tensor (began.py's M), an IndexError since PyTorch 0.4, is read as `x.item()`.
Samples are drawn as the scripts draw their own grids: the generator in training mode (BatchNorm
on batch statistics, as in every `save_image` of these scripts), batches of the script's
`--batch_size`, z ~ N(0, I) of its `--latent_dim`, and for conditional scripts the labels 0..9
in turn. Script arguments go after `--`, e.g. `-- --latent_dim 1024`.

`--record DIR` also scores the samples with mnist-lenet and writes DIR/pytorch_gan-MODEL-mnist-Mmin/
bench.json (and a grid of 64 samples), the record that `ganthology bench --minutes M --out DIR` puts
beside our model of the same paper in the equal-time table of docs/results.md:

    python benchmarks/pytorch_gan.py .../dcgan/dcgan.py --minutes 5 --threads 1 --record runs/bench-5min
    ganthology bench dcgan --minutes 5 --out runs/bench-5min    # (OMP_NUM_THREADS=1 for 1 thread)
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path


# dragan.py and bgan.py loop over (and count the batches of) a loader they never define
_MNIST_LOADER = [("enumerate(mnist_loader)", "enumerate(dataloader)",
                  "the loop reads an undefined `mnist_loader`; the loader is named `dataloader`"),
                 ("len(mnist_loader)", "len(dataloader)", "the same name in its progress line")]

# scripts that print "[Epoch e/E]" once, after each epoch, instead of a line per batch: their
# batches are bounded by the epochs done and the length of their `dataloader`
LOGS_PER_EPOCH = {"clustergan"}

# What stops a published script running on today's PyTorch, and the smallest change that lets it
# run: script name -> [(text, replacement, why)]. Applied to the source in memory; each record says so.
PATCHES = {
    "dragan": _MNIST_LOADER,
    "bgan": _MNIST_LOADER,
    "began": [(").data[0]", ").item()", "indexing a 0-dim tensor with .data[0] is an error since PyTorch 0.5")],
    "softmax_gan": [("g_loss = g_target * (torch.sum(d_real) + torch.sum(d_fake)) + log(Z)",
                     "d_real, d_fake = discriminator(real_imgs), discriminator(gen_imgs); "
                     "Z = torch.sum(torch.exp(-d_real)) + torch.sum(torch.exp(-d_fake)); "
                     "g_loss = g_target * (torch.sum(d_real) + torch.sum(d_fake)) + log(Z)",
                     "G's loss backpropagated through D's graph after D's optimizer step (the in-place "
                     "autograd error of PyTorch >= 1.5); D's outputs are recomputed with the updated D")],
    # D's gradient is unchanged by detaching G's images in its loss; G's part of that gradient, which
    # the in-place error of PyTorch >= 1.5 refuses (G's optimizer already stepped), was thrown away
    "clustergan": [("fake_loss = bce_loss(D_gen, fake)", "fake_loss = bce_loss(discriminator(gen_imgs.detach()), fake)",
                    "D's fake term backpropagated through G after G's optimizer step (in-place autograd "
                    "error of PyTorch >= 1.5); recomputed on detached G images"),
                   ("d_loss = torch.mean(D_real) - torch.mean(D_gen) + grad_penalty",
                    "d_loss = torch.mean(D_real) - torch.mean(discriminator(gen_imgs.detach())) + grad_penalty",
                    "the same in its Wasserstein loss"),
                   ("real_loss = bce_loss(D_real, valid)", "real_loss = bce_loss(D_real, torch.ones_like(D_real))",
                    "D's real term reused the G step's 64 `valid` labels against an epoch's last batch of 32 "
                    "(a ValueError ending the first epoch)")],
}


class TimeUp(BaseException):  # not an Exception: a script's own `except Exception` cannot swallow it
    pass


CONDITIONAL = ("cgan", "acgan")  # scripts whose G takes a class label


def _sample(name: str, g: dict, n: int, torch, np):
    """n images in [-1, 1] from the script's generator, per the script's own sampling code, and for
    a conditional script the labels it was asked for (0, 1, ..., 9, 0, ...; else None)."""
    # clustergan.py names its options `args`; aae.py names its generator `decoder`
    opt, G = g.get("opt", g.get("args")), g.get("generator", g.get("decoder"))
    bs, zdim = opt.batch_size, getattr(opt, "latent_dim", None)
    out = []
    requested = torch.arange(n) % opt.n_classes if name in CONDITIONAL else None
    with torch.no_grad():
        for i in range(0, n, bs):
            k = min(bs, n - i)
            z = torch.from_numpy(np.random.normal(0, 1, (k, zdim))).float()
            if name in CONDITIONAL:
                imgs = G(z, requested[i : i + k])
            elif name == "infogan":
                y = torch.arange(i, i + k) % opt.n_classes
                onehot = torch.nn.functional.one_hot(y, opt.n_classes).float()
                code = torch.from_numpy(np.random.uniform(-1, 1, (k, opt.code_dim))).float()
                imgs = G(z, onehot, code)
            elif name == "clustergan":
                # its own grids: G in eval mode (set after each epoch); its images are a sigmoid's [0, 1]
                G.eval()
                zn, zc, _ = g["sample_z"](shape=k, latent_dim=g["latent_dim"], n_c=g["n_c"])
                imgs = G(zn, zc) * 2 - 1
            else:
                imgs = G(z)
            out.append(imgs.reshape(k, *imgs.shape[-3:]).float())
    return torch.cat(out), requested


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("script", type=Path)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--out", type=Path, default=None, help="the samples' .npz (default: in the --record folder)")
    ap.add_argument("--record", type=Path, default=None, help="score the samples and write a bench record here")
    ap.add_argument("--model", default=None, help="our model of the same paper (default: the script's name)")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default=os.environ.get("GANTHOLOGY_DATA"))
    ap.add_argument("--log", type=Path, default=None, help="the script's printing (default: OUT.log)")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    script_args = argv[cut + 1:]
    if not args.data_root:
        sys.exit("give --data-root (the folder holding MNIST/raw) or set $GANTHOLOGY_DATA.")
    if args.out is None and args.record is None:
        sys.exit("give --out FILE.npz or --record DIR.")
    import numpy as np
    import torch
    import torchvision

    if args.threads:
        torch.set_num_threads(args.threads)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    root = str(Path(args.data_root).resolve())

    class MNIST(torchvision.datasets.MNIST):  # the class name is the folder torchvision reads
        def __init__(self, _root=None, train=True, transform=None, target_transform=None, download=False):
            super().__init__(root, train=train, transform=transform, target_transform=target_transform,
                             download=False)

    original, torchvision.datasets.MNIST = torchvision.datasets.MNIST, MNIST
    script = args.script.resolve()
    name = script.stem
    model = args.model or {"clustergan": "cluster_gan"}.get(name, name)
    run = args.record / f"pytorch_gan-{model}-mnist-{args.minutes:g}min" if args.record else None
    if args.out is None:
        args.out = run / "samples.npz"
    source = script.read_text()
    patched = []
    for old, new, why in PATCHES.get(name, []):
        if old in source:
            source = source.replace(old, new)
            patched.append(f"{old} -> {new}: {why}")
    if name == "clustergan":
        # its sample_z and gradient penalty move tensors to CUDA unconditionally: on a machine
        # without CUDA they stay where the script's networks are (the one patch that depends on it)
        if not torch.cuda.is_available():
            source = source.replace("torch.cuda.FloatTensor", "torch.FloatTensor").replace(".cuda()", "")
        patched.append("CUDA-only tensors made device-neutral (on a machine without CUDA)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if run is not None:
        run.mkdir(parents=True, exist_ok=True)
    log = (args.log or args.out.with_suffix(".log")).resolve()
    out = args.out.resolve()
    g = {"__name__": "__main__", "__file__": str(script)}
    sys.argv = [str(script), *script_args]

    def stop(signum, frame):
        raise TimeUp

    signal.signal(signal.SIGALRM, stop)
    with tempfile.TemporaryDirectory() as tmp, open(log, "w") as logf:
        os.chdir(tmp)
        real_stdout, sys.stdout = sys.stdout, logf
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, 60 * args.minutes)
        try:
            exec(compile(source, str(script), "exec"), g)
            finished = True  # the script ended on its own before the budget
        except TimeUp:
            finished = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout = real_stdout
            torchvision.datasets.MNIST = original
        seconds = time.perf_counter() - t0
    lines = log.read_text().splitlines()
    imgs, requested = _sample(name, g, args.n, torch, np)
    u8 = ((imgs.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    np.savez_compressed(out, images=u8)
    last = next((ln for ln in reversed(lines) if ln.startswith("[Epoch")), "")
    print(f"{name}: {'finished' if finished else 'stopped'} after {seconds:.0f} s; last line: {last}")
    for p in patched:
        print(f"patched: {p}")
    print(f"{len(u8)} samples of shape {u8.shape[1:]} -> {out}")
    if run is not None:
        _record(run, model, name, args, imgs, requested, out, seconds, _batches(lines, g["dataloader"] if name in LOGS_PER_EPOCH else None),
                g.get("opt", g.get("args")).batch_size, torch, patched)


def _batches(lines: list[str], loader=None) -> int | str:
    """Batches trained, from the scripts' last "[Epoch e/E] [Batch i/N] ..." line; for a script of
    LOGS_PER_EPOCH, given its `loader`, the range that its "[Epoch e/E]" lines bound."""
    import re

    for ln in reversed(lines):
        m = re.match(r"\[Epoch (\d+)/\d+\] \[Batch (\d+)/(\d+)\]", ln)
        if m:
            e, i, n = map(int, m.groups())
            return e * n + i + 1
        m = re.match(r"\[Epoch (\d+)/\d+\]\s*$", ln)
        if m and loader is not None:
            done, n = int(m.group(1)) + 1, len(loader)
            return f"{done * n}-{(done + 1) * n - 1} (logs once per epoch; {done} epochs done)"
    return 0 if loader is None else f"under {len(loader)} (logs once per epoch; epoch 0 not done)"


def _record(run: Path, model: str, name: str, args, imgs, requested, npz: Path, seconds: float, steps: int,
            batch_size: int, torch, patched: list[str]) -> None:
    import json

    from ganthology.bench import machine
    from ganthology.metrics import load_evaluator
    from ganthology.metrics.evaluate import load_images, score_images
    from ganthology.viz import save_grid

    # the saved .npz, as `ganthology eval` reads it, in one evaluator pass; with the labels asked
    # for, a conditional script is also scored on how often it draws them (conditional accuracy)
    ev = load_evaluator("mnist-lenet")
    images = load_images(npz)
    scores = {"images": len(images), "evaluator_test_accuracy": ev.meta.get("test_accuracy"),
              **score_images(ev, images, requested=requested, dataset="mnist", data_root=args.data_root,
                             seed=args.seed)}
    scores = {k: v for k, v in scores.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    save_grid(imgs[:64], run / "grid.png")
    cmd = (f"python benchmarks/pytorch_gan.py PyTorch-GAN/implementations/{args.script.parent.name}/"
           f"{args.script.name} --minutes {args.minutes:g} --threads {torch.get_num_threads()} --n {args.n} "
           f"--record DIR")
    record = {"model": model, "dataset": "mnist", "reference": True, "script": f"PyTorch-GAN {name}.py",
              "minutes": args.minutes, "steps": steps, "batch_size": batch_size,
              "train_seconds": round(seconds, 1), "machine": machine(), "threads": torch.get_num_threads(),
              "load_average": round(os.getloadavg()[0], 1), "evaluator": "mnist-lenet", "n": len(imgs),
              "seed": args.seed, "patched": patched, "after": scores, "grid": str((run / "grid.png").relative_to(run.parent)),
              "command": cmd}
    (run / "bench.json").write_text(json.dumps(record, indent=2))
    print(f"record -> {run / 'bench.json'}: FD {scores.get('fd_mnist-lenet'):.1f}, "
          f"recall {scores.get('recall_mnist-lenet'):.3f}, classes {scores.get('classes_mnist-lenet')}")


if __name__ == "__main__":
    main()
