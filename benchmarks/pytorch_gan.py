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
- numpy's and torch's RNGs are seeded from `--seed` (the scripts seed nothing).
Samples are drawn as the scripts draw their own grids: the generator in training mode (BatchNorm
on batch statistics, as in every `save_image` of these scripts), batches of the script's
`--batch_size`, z ~ N(0, I) of its `--latent_dim`, and for conditional scripts the labels 0..9
in turn. Script arguments go after `--`, e.g. `-- --latent_dim 1024`.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path


class TimeUp(BaseException):  # not an Exception: a script's own `except Exception` cannot swallow it
    pass


def _sample(name: str, g: dict, n: int, torch, np):
    """n images in [-1, 1] from the script's generator, per the script's own sampling code."""
    opt, G = g["opt"], g["generator"]
    bs, zdim = opt.batch_size, getattr(opt, "latent_dim", None)
    out = []
    with torch.no_grad():
        for i in range(0, n, bs):
            k = min(bs, n - i)
            z = torch.from_numpy(np.random.normal(0, 1, (k, zdim))).float()
            if name in ("cgan", "acgan"):
                imgs = G(z, torch.arange(i, i + k) % opt.n_classes)
            elif name == "infogan":
                y = torch.arange(i, i + k) % opt.n_classes
                onehot = torch.nn.functional.one_hot(y, opt.n_classes).float()
                code = torch.from_numpy(np.random.uniform(-1, 1, (k, opt.code_dim))).float()
                imgs = G(z, onehot, code)
            elif name == "clustergan":
                zn, zc, _ = g["sample_z"](shape=k, latent_dim=opt.latent_dim, n_c=g["n_c"])
                imgs = G(zn, zc)
            else:
                imgs = G(z)
            out.append(imgs.reshape(k, *imgs.shape[-3:]).float())
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("script", type=Path)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--out", type=Path, required=True)
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
    import numpy as np
    import torch
    import torchvision

    if args.threads:
        torch.set_num_threads(args.threads)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    root = str(Path(args.data_root).resolve())

    class MNIST(torchvision.datasets.MNIST):  # the class name is the folder torchvision reads
        def __init__(self, _root, train=True, transform=None, target_transform=None, download=False):
            super().__init__(root, train=train, transform=transform, target_transform=target_transform,
                             download=False)

    torchvision.datasets.MNIST = MNIST
    script = args.script.resolve()
    name = script.stem
    source = script.read_text()
    args.out.parent.mkdir(parents=True, exist_ok=True)
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
        seconds = time.perf_counter() - t0
    lines = log.read_text().splitlines()
    imgs = _sample(name, g, args.n, torch, np)
    u8 = ((imgs.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    np.savez_compressed(out, images=u8)
    last = next((ln for ln in reversed(lines) if ln.startswith("[Epoch")), "")
    print(f"{name}: {'finished' if finished else 'stopped'} after {seconds:.0f} s; last line: {last}")
    print(f"{len(u8)} samples of shape {u8.shape[1:]} -> {out}")


if __name__ == "__main__":
    main()
