"""All translation models side by side on the same held-out inputs: a table of what each keeps, how
real its outputs look and how varied they are, and one figure with the inputs in the first column
and each model's translation beside them.

    python benchmarks/translation_compare.py RUNS --out docs/images/translation-compare.png [--n 2000]

RUNS holds one run folder per model trained on the same paired dataset (benchmarks/translation.sh
trains them on edges2mnistm). Every model translates the first N held-out inputs A of that dataset
(unpaired models see the same inputs: `domains:` keeps the held-out order), and every number is
computed here, in the same way for every model, with the evaluator of the target domain
(`mnistm-lenet`):

- digit_kept: the share of translations the evaluator labels as the input's digit;
- fd: Fréchet distance of the translations to the N held-out targets, in its features;
- diversity: mean feature distance between 4 translations of each of the first 200 inputs
  (`metrics.translation.diversity`; deterministic models score 0);
- l1: mean |translation - target| in [-1, 1] (the target is one of many right answers for
  one-to-many data: lower is closer to *that* target, not necessarily better).
Each model is also scored before training (its run's config, the trainer's initial weights). The
two baselines are the input itself (the edge map repeated to colour) and the nearest class-mean
target (the mean held-out target image of the input's digit: what a model that ignores everything
but the digit could do at best for l1).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

ORDER = ("pix2pix", "bicyclegan", "cyclegan", "discogan", "dualgan", "unit", "munit")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="the figure (PNG); the table goes beside it as .md/.json")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=8, help="inputs shown in the figure")
    args = ap.parse_args()

    import ganthology
    from ganthology.data import build_dataset
    from ganthology.data.core import to_model_range
    from ganthology.metrics.evaluators import evaluator_for
    from ganthology.metrics.translation import content_and_realism, diversity
    from ganthology.models.two_domain import to_channels
    from ganthology.viz import match_channels, save_grid

    runs = [args.runs / m for m in ORDER if (args.runs / m / "checkpoints" / "last.pt").is_file()]
    if not runs:
        raise SystemExit(f"no runs of {', '.join(ORDER)} under {args.runs}")
    models = {r.name: ganthology.load(r).eval() for r in runs}
    dataset = next(iter(models.values())).data.name.removeprefix("domains:")
    test = build_dataset(dataset, train=False)
    a = to_model_range(test.tensors["A"][: args.n])
    b = to_model_range(test.tensors["B"][: args.n])
    y = test.tensors["y"][: args.n]
    ev = evaluator_for(test.info().parts["B"].dataset)

    def run_all(model, x):
        with torch.no_grad():
            return torch.cat([model.translate(xb) for xb in x.split(100)])

    rows, shown = {}, {}
    class_mean = torch.stack([b[y == k].mean(0) for k in range(10)])[y]
    for name, imgs in (("identity (the input)", to_channels(a, b.shape[1])), ("class-mean target", class_mean)):
        rows[name] = content_and_realism(imgs, y, b, ev) | {"diversity": 0.0, "l1": float((imgs - b).abs().mean())}
    for name, model in models.items():
        torch.manual_seed(0)
        fake = run_all(model, a)
        shown[name] = fake[: args.rows]
        div = diversity([run_all(model, a[:200]) for _ in range(4)], ev)
        rows[name] = content_and_realism(fake, y, b, ev) | {"diversity": div, "l1": float((fake - b).abs().mean())}
        rows[name]["steps"] = model.checkpoint_meta["step"] if model.checkpoint_meta else None
        # the same model before training: the run's config, the trainer's initial weights for its seed
        torch.manual_seed(model.run_config["train"]["seed"])
        untrained = ganthology.build_model(name, model.run_config["model_config"], model.data).eval()
        torch.manual_seed(0)
        before = content_and_realism(run_all(untrained, a), y, b, ev)
        rows[name] |= {f"untrained_{k}": v for k, v in before.items()}
        print(name, rows[name], flush=True)

    # the figure: one row per input: input | each model's translation (in ORDER) | the target
    cols = [match_channels(a[: args.rows], b)] + [shown[m] for m in shown] + [b[: args.rows]]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_grid(torch.stack(cols, 1).flatten(0, 1), args.out, nrow=len(cols), scale=3)
    lines = ["| model | steps | digit kept (untrained) | FD (untrained) | diversity | L1 to the target |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        steps = f"{r['steps']:,}" if r.get("steps") else "-"
        kept, fd = f"{r['digit_kept']:.3f}", f"{r['fd']:.1f}"
        if "untrained_fd" in r:
            kept, fd = f"{kept} ({r['untrained_digit_kept']:.3f})", f"{fd} ({r['untrained_fd']:.0f})"
        lines.append(f"| {name} | {steps} | {kept} | {fd} | {r['diversity']:.2f} | {r['l1']:.3f} |")
    table = "\n".join(lines)
    print(f"\ncolumns of {args.out.name}: input, {', '.join(shown)}, target\n\n{table}")
    args.out.with_suffix(".md").write_text(table + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
