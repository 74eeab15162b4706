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
# the equal wall-clock table (`--minutes`), beside PyTorch-GAN's script for the same paper
TIMED_START, TIMED_END = "<!-- bench-minutes:start -->", "<!-- bench-minutes:end -->"


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


def bench_model(name: str, out: Path, steps: int | None, dataset: str | None = None, n: int = 10_000,
                data_root: str | None = None, seed: int = 0, log=print, minutes: float | None = None,
                **settings) -> dict:
    """Train `name` from scratch into OUT/NAME-DATASET for `steps` steps, or for `minutes` of wall
    clock (then the record is a timed one, kept apart), and record its numbers. `settings`: more
    training settings (ema, augment, ...), written into the record and its command."""
    from .api import build_model, load, train_model
    from .data import build_dataset
    from .registry import get_model

    cls = get_model(name)
    dataset = dataset or cls.default_dataset
    run = out / record_name(name, dataset, minutes)
    if run.exists():
        shutil.rmtree(run)
    # the untrained baseline at the size the run trains at (a flag, else the model's own default)
    data = build_dataset(dataset, data_root, settings.get("image_size", cls.train_defaults.get("image_size")))
    torch.manual_seed(seed)  # the trainer's initial weights for this seed
    untrained = build_model(name, {}, data.info()).eval()
    evaluator, before = _score(untrained, n, data_root, seed)
    log(f"{name} on {dataset}: untrained {before}")
    t0 = time.perf_counter()
    every = steps or 10**9  # a timed run writes its grid and checkpoint when the clock stops it
    train_model(name, dataset=dataset, data_root=data_root, steps=None if minutes else steps, minutes=minutes,
                out=str(run), seed=seed, progress=False, sample_every=every, ckpt_every=every,
                ckpt_minutes=0, **settings)
    seconds = time.perf_counter() - t0
    from .train.checkpoint import load_checkpoint

    last = load_checkpoint(run / "checkpoints" / "last.pt")
    done = last["step"]
    if not minutes and done != steps:  # stopped by a signal: a record would misstate the budget
        raise GanthologyError(f"{name} stopped at step {done} of {steps}; no bench record written.")
    _, after = _score(load(run), n, data_root, seed)
    log(f"{name} on {dataset}: after {done} steps ({seconds:.0f} s) {after}")
    flags = "".join(f" --{k.replace('_', '-')} {v}" for k, v in sorted(settings.items()))
    budget = f"--minutes {minutes:g}" if minutes else f"--steps {steps}"
    record = {
        "model": name, "dataset": dataset, "steps": done, "minutes": minutes, "batch_size": untrained.cfg.batch_size,
        "train_seconds": round(seconds, 1), "machine": machine(), "threads": torch.get_num_threads(),
        "load_average": round(os.getloadavg()[0], 1), "evaluator": evaluator, "n": n,
        "seed": seed, "settings": settings, "before": before, "after": after,
        "grid": str((run / "samples" / f"step_{done:07d}.png").relative_to(out)),
        "command": f"ganthology bench {name} --dataset {dataset} {budget} --n {n}{flags}",
    }
    if last["config"]["train"].get("ema"):  # the run averaged (by flag or the model's default): its last iterate too
        _, record["after_live"] = _score(load(run, ema=False), n, data_root, seed)
        log(f"{name} on {dataset}: live weights {record['after_live']}")
    (run / "bench.json").write_text(json.dumps(record, indent=2))
    return record


def record_name(model: str, dataset: str, minutes: float | None = None) -> str:
    """MODEL-DATASET for a fixed number of steps, MODEL-DATASET-5min for a timed run."""
    return f"{model}-{dataset}" + (f"-{minutes:g}min" if minutes else "")


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


def _kept_name(r: dict) -> str:
    return ("pytorch_gan-" if r.get("reference") else "") + record_name(r["model"], r["dataset"], r.get("minutes"))


def _replace_between(text: str, start: str, end: str, lines: list[str]) -> str:
    if start not in text or end not in text:
        text = text.rstrip() + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    return f"{head}{start}\n" + "\n".join(lines) + f"\n{end}{rest.split(end, 1)[1]}"


def write_table(out: Path, doc: Path) -> int:
    """Copy every OUT/*/bench.json and its grid next to `doc`, then rewrite the bench tables of `doc`
    from all the records kept there (the fixed-steps table, and the equal wall-clock table beside
    PyTorch-GAN's scripts); returns the number of rows."""
    kept, images = doc.parent / "bench", doc.parent / "images" / "bench"
    for p in out.glob("*/bench.json"):
        r = json.loads(p.read_text())
        kept.mkdir(parents=True, exist_ok=True)
        images.mkdir(parents=True, exist_ok=True)
        (kept / f"{_kept_name(r)}.json").write_text(p.read_text())
        if (out / r["grid"]).is_file():
            shutil.copyfile(out / r["grid"], images / f"{_kept_name(r)}.png")
    records = sorted((json.loads(p.read_text()) for p in kept.glob("*.json")),
                     key=lambda r: (r["dataset"], r["model"]))
    if not records:
        raise GanthologyError(f"no bench records under {out} or {kept}; run 'ganthology bench MODEL' first.")
    text = doc.read_text() if doc.is_file() else "# Results\n"
    fixed = [r for r in records if not r.get("minutes")]
    timed = [r for r in records if r.get("minutes") and not r.get("reference")]
    refs = {(r["model"], r["dataset"], r["minutes"]): r for r in records if r.get("reference")}
    if fixed:
        text = _replace_between(text, START, END, _fixed_table(fixed, kept, images))
    if timed:
        text = _replace_between(text, TIMED_START, TIMED_END, _timed_table(timed, refs, kept))
    doc.write_text(text)
    return len(fixed) + len(timed)


def _fixed_table(records: list[dict], kept: Path, images: Path) -> list[str]:
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
    return lines + ["", f"Machine: {'; '.join(machines)} (1-minute load average up to {busy:.1f} at the end of a "
                    f"run: train times are comparable only between rows measured alike). Each cell: untrained → **trained** (same seed, "
                    f"n = {records[0]['n']} samples). Reproduce a row with the `command` in "
                    f"its record `{kept.name}/MODEL-DATASET.json`, e.g. `{records[0]['command']}`."]


# the bar of an equal wall-clock budget: every class drawn, this much recall, and an FD no worse than
# the PyTorch-GAN script for the same paper given the same budget
BAR_RECALL = 0.2


def meets_bar(r: dict, ref: dict | None) -> tuple[bool, str]:
    e = r["evaluator"]
    a = r["after"]
    why = []
    if a.get(f"classes_{e}", 0) < 10:
        why.append(f"{a.get(f'classes_{e}')} classes")
    if a.get(f"recall_{e}", 0) < BAR_RECALL:
        why.append(f"recall {a.get(f'recall_{e}', 0):.2g}")
    if ref is not None and a[f"fd_{e}"] > ref["after"][f"fd_{e}"]:
        why.append("FD above the script's")
    return not why, ", ".join(why)


def _timed_table(records: list[dict], refs: dict, kept: Path) -> list[str]:
    lines = ["| model | dataset | budget | steps x batch | FD | FD, last iterate | precision | recall | classes "
             "| PyTorch-GAN script: steps x batch, FD, recall, classes | bar | samples | script's samples |",
             "|" + "---|" * 13]
    for r in records:
        e, a = r["evaluator"], r["after"]
        if f"fd_{e}" not in a:  # the timed table compares generators of images by their FD
            continue
        ref = refs.get((r["model"], r["dataset"], r["minutes"]))
        ok, why = meets_bar(r, ref)
        live = r.get("after_live", {}).get(f"fd_{e}")
        ref_cell = "not run" if ref is None else (
            f"{ref['steps']} x {ref['batch_size']}, {_fmt(ref['after'][f'fd_{e}'])}, "
            f"{_fmt(ref['after'][f'recall_{e}'])}, {ref['after'][f'classes_{e}']}")
        ref_img = "" if ref is None else f"![script](images/bench/{_kept_name(ref)}.png)"
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['minutes']:g} min x {r.get('threads', '?')} thr. | "
            f"{r['steps']} x {r['batch_size']} | **{_fmt(a[f'fd_{e}'])}** | {'' if live is None else _fmt(live)} | "
            f"{_fmt(a[f'precision_{e}'])} | {_fmt(a[f'recall_{e}'])} | {a[f'classes_{e}']} | {ref_cell} | "
            f"{('yes' if ref is not None else 'yes, without a script: classes and recall') if ok else 'no: ' + why} | "
            f"![{r['model']}](images/bench/{_kept_name(r)}.png) | {ref_img} |")
    machines = sorted({r["machine"] for r in records})
    busy = max(r.get("load_average", 0) for r in records)
    return lines + ["", f"Machine: {'; '.join(machines)}; 1-minute load average up to {busy:.1f}. The bar: all 10 "
                    f"classes, recall at least {BAR_RECALL}, and an FD no worse than the script's at the same "
                    f"budget (the FD, precision, recall and class columns are {records[0]['evaluator']} on "
                    f"n = {records[0]['n']} samples). Reproduce a row with the `command` of its record in "
                    f"`{kept.name}/`, e.g. `{records[0]['command']}`; a script's row with the command in its "
                    "`pytorch_gan-*.json` record."]
