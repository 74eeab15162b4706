"""The floor and ceilings of docs/metrics.md: real MNIST train images against the test split,
uniform noise, and untrained generators, all scored by mnist-lenet with every metric.

    python benchmarks/reference_points.py [--n 10000] [--data-root PATH]

Prints a Markdown table; needs MNIST under the data root and a trained mnist-lenet
(`ganthology evaluator train mnist-lenet`).
"""
from __future__ import annotations

import argparse

import torch

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.metrics import load_evaluator
from ganthology.metrics.evaluate import evaluate_model, score_images

KEYS = ["fd", "kid", "precision", "recall", "is", "classes", "class_kl"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args()
    ev = load_evaluator("mnist-lenet")
    train = build_dataset("mnist", args.data_root, train=True)
    rows = {}
    rows[f"MNIST train (first {args.n:,}) vs test: the floor"] = score_images(
        ev, InMemoryLoader(train, 1).fixed_batch(args.n)["x"], dataset="mnist", data_root=args.data_root)
    torch.manual_seed(0)
    rows["uniform noise in [-1, 1]: a ceiling"] = score_images(
        ev, torch.rand(args.n, 1, 32, 32) * 2 - 1, dataset="mnist", data_root=args.data_root)
    for name in ("dcgan", "gan", "wgan_gp", "cgan"):
        torch.manual_seed(0)  # the trainer's initial weights for seed 0
        model = ganthology.build_model(name, {}, train.info()).eval()
        out = evaluate_model(model, ev, n=args.n, data_root=args.data_root)
        label = f"untrained `{name}`" + (f" (accuracy {out['accuracy_mnist-lenet']:.3f})" if name == "cgan" else "")
        rows[label] = out
    print("| images | " + " | ".join(KEYS) + " |")
    print("|---|" + "---:|" * len(KEYS))
    for label, out in rows.items():
        cells = [out[f"{k}_mnist-lenet"] for k in KEYS]
        print(f"| {label} | " + " | ".join(f"{c:.3g}" if isinstance(c, float) else str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
