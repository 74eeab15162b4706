"""An inpainting run against its baselines on held-out images: the numbers and a figure.

    python benchmarks/inpainting_figure.py RUN OUT.png [--n 6] [--json OUT.json]

Prints L1 and PSNR inside the hole (metrics.inpainting: what `ganthology eval RUN` reports) for the
trained model, for the same network untrained (the run's config and seed, its fill value from the
training set), and for the mean-colour and border-blur fills; writes OUT.png, one held-out crop per
row: the input with its hole (white) | the model's fill | the border-blur fill | the original. The
crops are the first n held-out tiles whose hole is not flat (the most varied ones of an even spread
over the split), with the model's central hole.
"""
from __future__ import annotations

import argparse
import json

import torch

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.metrics.inpainting import border_blur_fill
from ganthology.viz.grid import save_grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = ganthology.load(a.run)
    cfg = model.run_config
    data = build_dataset(model.data.name, image_size=model.data.image_size)
    test = build_dataset(model.data.name, image_size=model.data.image_size, train=False)
    held_out = InMemoryLoader(test, 1).fixed_batch(len(test))
    trained = model.held_out_metrics(held_out)
    torch.manual_seed(cfg["train"].get("seed", 0))  # the weights the run started from
    untrained = ganthology.build_model(model.name, cfg["model_config"], data.info())
    untrained.bind_data(data)
    untrained = untrained.held_out_metrics(held_out)
    rows = [("trained", trained["l1"], trained["psnr"]), ("untrained", untrained["l1"], untrained["psnr"]),
            ("mean colour", trained["l1_mean_fill"], trained["psnr_mean_fill"]),
            ("border blur", trained["l1_blur_fill"], trained["psnr_blur_fill"])]
    print(f"{model.name} on {len(test)} held-out {model.data.name} images, hole {model.cfg.hole}x{model.cfg.hole} (center)")
    for name, l1, psnr in rows:
        print(f"  {name:12s} L1 {l1:.4f}  PSNR {psnr:.2f} dB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"trained": trained, "untrained": untrained}, f, indent=1)

    x = held_out["x"].float()
    m = model.masks(len(x), "center")
    spread = x.flatten(1).std(1)  # skip flat tiles (sky, table): the figure should show structure
    picks = torch.linspace(0, len(x) - 1, 4 * a.n).long()
    picks = picks[spread[picks].argsort(descending=True)[: a.n]].sort().values
    x, m = x[picks], m[picks]
    holed = x * (1 - m) + m
    ours = model.inpaint(x, m)
    blur = border_blur_fill(x, m)
    save_grid(torch.stack([holed, ours, blur, x], dim=1).flatten(0, 1), a.out, nrow=4, scale=2)
    print(f"figure: {a.out} (rows: held-out crops; columns: masked | {model.name} | border blur | original)")


if __name__ == "__main__":
    main()
