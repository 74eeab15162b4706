"""`ganthology bench`: train each model for a stated budget, score it before and after, and
regenerate the results table of docs/results.md from the records.

One record per (model, dataset) lands in `OUT/MODEL-DATASET/bench.json`: the budget (steps, batch,
wall-clock, machine), the metrics of the untrained model (the same seed's initial weights) and of
the trained one, and the last sample grid. `write_table` copies every record under OUT (and its
grid) next to the docs file, into `bench/MODEL-DATASET.json` and `images/bench/`, which are
committed, and turns all the records there into the Markdown table between `<!-- bench:start -->`
and `<!-- bench:end -->`: re-running one model replaces its row and keeps the others, and the
published numbers are always the output of this one command, on any machine.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import time
from pathlib import Path

import torch

from .errors import GanthologyError

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{os.cpu_count()} CPU cores ({platform.machine()}), torch {torch.__version__}"


def _score(model, n: int, data_root: str | None, seed: int) -> tuple[str | None, dict]:
    """(evaluator name, metrics) of a model with the evaluator of its dataset."""
    from .metrics.evaluate import default_evaluator, evaluate_model

    if model.data.is_vector or model.scored_by_claim:  # mode coverage, or its held-out claim
        return None, evaluate_model(model, None, n=n, data_root=data_root, seed=seed)
    from .metrics import load_evaluator

    ev = load_evaluator(default_evaluator(model.data.name))
    return ev.name, evaluate_model(model, ev, n=n, data_root=data_root, seed=seed)


def bench_model(name: str, out: Path, steps: int, dataset: str | None = None, n: int = 10_000,
                data_root: str | None = None, seed: int = 0, log=print) -> dict:
    """Train `name` for `steps` steps from scratch into OUT/NAME-DATASET and record its numbers."""
    from .api import build_model, load, train_model
    from .data import build_dataset
    from .registry import get_model

    cls = get_model(name)
    dataset = dataset or cls.default_dataset
    run = out / f"{name}-{dataset}"
    if run.exists():
        shutil.rmtree(run)
    data = build_dataset(dataset, data_root)
    torch.manual_seed(seed)  # the trainer's initial weights for this seed
    untrained = build_model(name, {}, data.info()).eval()
    evaluator, before = _score(untrained, n, data_root, seed)
    log(f"{name} on {dataset}: untrained {before}")
    t0 = time.perf_counter()
    train_model(name, dataset=dataset, data_root=data_root, steps=steps, out=str(run), seed=seed,
                progress=False, sample_every=steps, ckpt_every=steps)
    seconds = time.perf_counter() - t0
    from .train.checkpoint import load_checkpoint

    done = load_checkpoint(run / "checkpoints" / "last.pt")["step"]
    if done != steps:  # stopped by a signal: a record would misstate the budget
        raise GanthologyError(f"{name} stopped at step {done} of {steps}; no bench record written.")
    _, after = _score(load(run), n, data_root, seed)
    log(f"{name} on {dataset}: after {steps} steps ({seconds:.0f} s) {after}")
    record = {
        "model": name, "dataset": dataset, "steps": steps, "batch_size": untrained.cfg.batch_size,
        "train_seconds": round(seconds, 1), "machine": machine(), "load_average": round(os.getloadavg()[0], 1), "evaluator": evaluator, "n": n,
        "seed": seed, "before": before, "after": after,
        "grid": str((run / "samples" / f"step_{steps:07d}.png").relative_to(out)),
        "command": f"ganthology bench {name} --dataset {dataset} --steps {steps} --n {n}",
    }
    (run / "bench.json").write_text(json.dumps(record, indent=2))
    return record


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


# columns of the table: (header, key template); {e} is the evaluator's name
COLUMNS = [("FD", "fd_{e}"), ("KID", "kid_{e}"), ("precision", "precision_{e}"), ("recall", "recall_{e}"),
           ("IS", "is_{e}"), ("classes", "classes_{e}"), ("cond. acc.", "accuracy_{e}"),
           ("PSNR", "psnr"), ("SSIM", "ssim"), ("modes", "modes"), ("high quality", "high_quality")]
# the models' own claims on the test split (`held_out_metrics`), gathered in one column
HELD_OUT = [("test acc.", "test_accuracy"), ("cluster ACC", "cluster_acc"), ("NMI", "nmi"), ("ARI", "ari"),
            ("recon. MSE", "recon_mse")]


def _cell(r: dict, key: str) -> str:
    a, b = r["after"].get(key), r["before"].get(key)
    return "" if a is None else (f"{_fmt(b)} → **{_fmt(a)}**" if b is not None else _fmt(a))


def write_table(out: Path, doc: Path) -> int:
    """Copy every OUT/*/bench.json and its grid next to `doc`, then rewrite the bench table of `doc`
    from all the records kept there; returns the number of rows."""
    kept, images = doc.parent / "bench", doc.parent / "images" / "bench"
    for p in out.glob("*/bench.json"):
        r = json.loads(p.read_text())
        kept.mkdir(parents=True, exist_ok=True)
        images.mkdir(parents=True, exist_ok=True)
        (kept / f"{r['model']}-{r['dataset']}.json").write_text(p.read_text())
        if (out / r["grid"]).is_file():
            shutil.copyfile(out / r["grid"], images / f"{r['model']}-{r['dataset']}.png")
    records = sorted((json.loads(p.read_text()) for p in kept.glob("*.json")),
                     key=lambda r: (r["dataset"], r["model"]))
    if not records:
        raise GanthologyError(f"no bench records under {out} or {kept}; run 'ganthology bench MODEL' first.")
    used = [(h, k) for h, k in COLUMNS
            if any(k.format(e=r["evaluator"]) in r["after"] for r in records)]
    lines = ["| model | dataset | steps x batch | train time | evaluator | "
             + " | ".join(h for h, _ in used) + " | held-out (the model's own claim) | samples |",
             "|" + "---|" * (len(used) + 7)]
    for r in records:
        cells = [_cell(r, k.format(e=r["evaluator"])) for _, k in used]
        cells.append("; ".join(f"{h} {_cell(r, k)}" for h, k in HELD_OUT if k in r["after"]))
        grid = images / f"{r['model']}-{r['dataset']}.png"
        lines.append(f"| {r['model']} | {r['dataset']} | {r['steps']} x {r['batch_size']} | "
                     f"{r['train_seconds'] / 60:.1f} min | {r['evaluator'] or '-'} | " + " | ".join(cells)
                     + f" | ![{r['model']}](images/bench/{grid.name}) |")
    machines = sorted({r["machine"] for r in records})
    busy = max(r.get("load_average", 0) for r in records)
    lines += ["", f"Machine: {'; '.join(machines)} (1-minute load average up to {busy:.1f} at the end of a "
              f"run: train times are comparable only between rows measured alike). Each cell: untrained → **trained** (same seed, "
              f"n = {records[0]['n']} samples). Reproduce a row with the `command` in "
              f"its record `{kept.name}/MODEL-DATASET.json`, e.g. `{records[0]['command']}`."]
    text = doc.read_text() if doc.is_file() else f"# Results\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    doc.write_text(f"{head}{START}\n" + "\n".join(lines) + f"\n{END}{tail}")
    return len(records)
