"""A run as one HTML page: `ganthology report RUN` writes RUN/report.html, and the trainer writes it at
the end of every run.

One self-contained file (images inlined as base64 PNG, no scripts, no network): what was trained on
what and for how long, the resolved config, the losses as curves and as a table of the last rows,
the sample grids over training, and every evaluation the run holds (the `eval_*` columns that
`--eval-every` logs, `checkpoints/best.json`, and the `*.json` files `ganthology eval --json` wrote
into the run folder). Open it in any browser, attach it to an email, keep it with the run.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import yaml

from ..errors import GanthologyError

#: sample grids shown at most: the first, the last and evenly spaced ones between
MAX_GRIDS = 12
#: rows of metrics.csv shown in the table (the last ones); the curves show them all
TABLE_ROWS = 10

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-size:90%}th{background:#f4f4f4}
td:first-child{text-align:left}img{image-rendering:pixelated;max-width:100%}figure{display:inline-block;margin:6px}
figcaption{text-align:center;color:#666;font-size:85%}pre{background:#f7f7f7;padding:1em;overflow:auto}"""


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else f"{f:.4g}"


def _evaluations(run: Path, rows: list[dict]) -> str:
    parts = []
    evals = [{k: v for k, v in r.items() if k == "step" or (k.startswith("eval_") and v not in ("", None))}
             for r in rows]
    evals = [e for e in evals if len(e) > 1]
    if evals:
        cols = ["step"] + sorted({k for e in evals for k in e if k != "step"})
        parts.append("<h3>During training (--eval-every)</h3>" + _table(evals, cols))
    best = run / "checkpoints" / "best.json"
    if best.is_file():
        b = json.loads(best.read_text())
        parts.append(f"<p>Best checkpoint: <code>checkpoints/best.pt</code>, {html.escape(str(b.get('metric')))} = "
                     f"{_fmt(b.get('value'))} at step {_fmt(b.get('step'))}.</p>")
    for f in sorted(run.glob("*.json")):
        if f.name == "generator.json":
            continue
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict):
            items = [{"metric": k, "value": v} for k, v in rec.items() if not isinstance(v, (dict, list))]
            parts.append(f"<h3>{html.escape(f.name)} (ganthology eval)</h3>" + _table(items, ["metric", "value"]))
    return "".join(parts) or "<p>No evaluation yet: <code>ganthology eval RUN --json RUN/eval.json</code> adds one.</p>"


def _curves(rows: list[dict], run: Path) -> str:
    if not rows:
        return "<p>No metrics logged yet.</p>"
    png = run / "loss_curve.png"
    if not png.is_file():
        from ..train.logger import plot_losses

        plot_losses(run / "metrics.csv", png)
    return f'<img alt="losses" src="{_png(png)}">' if png.is_file() else ""


def _grids(run: Path) -> str:
    grids = sorted((run / "samples").glob("step_*.png"))
    if not grids:
        return "<p>No sample grids yet.</p>"
    if len(grids) > MAX_GRIDS:  # evenly spaced, always with the first and the last
        idx = sorted({round(i * (len(grids) - 1) / (MAX_GRIDS - 1)) for i in range(MAX_GRIDS)})
        grids = [grids[i] for i in idx]
    figs = [f'<figure><img alt="{g.stem}" src="{_png(g)}" width="320"><figcaption>step '
            f'{int(g.stem.split("_")[1])}</figcaption></figure>' for g in grids]
    return "".join(figs)


def write_report(run: str | Path) -> Path:
    """Write RUN/report.html (atomically) and return its path."""
    from ..registry import get_model
    from ..train.checkpoint import atomic_write
    from ..train.logger import read_metrics

    run = Path(run)
    cfg_file = run / "config.yaml"
    if not cfg_file.is_file():
        raise GanthologyError(f"{run} is not a run folder (it has no config.yaml); give the folder a training wrote.")
    try:
        cfg = yaml.safe_load(cfg_file.read_text()) or {}
    except yaml.YAMLError:
        raise GanthologyError(f"{cfg_file} is not readable YAML; the report needs the run's config.") from None
    if not isinstance(cfg, dict):
        raise GanthologyError(f"{cfg_file} does not hold a run's config.")
    name = str(cfg.get("model", "?"))
    train = cfg.get("train") or {}
    try:
        paper = get_model(name).paper
    except GanthologyError:
        paper = ""
    rows = read_metrics(run / "metrics.csv") if (run / "metrics.csv").is_file() else []
    losses = [c for c in (rows[0].keys() if rows else []) if c not in ("step", "epoch") and not c.startswith("eval_")]
    loss_rows = [r for r in rows if r.get("epoch") not in ("", None)]  # rows of --eval-every hold only eval_*
    last = loss_rows[-1] if loss_rows else {}
    speed = [float(r["images_per_s"]) for r in rows if r.get("images_per_s") not in ("", None)]
    summary = (f"{html.escape(name)} on {html.escape(str(train.get('dataset')))}, {_fmt(last.get('step', 0))} steps"
               f" ({_fmt(last.get('epoch', 0))} epochs)" + (f", {_fmt(sum(speed) / len(speed))} images/s" if speed else ""))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(name)}: {html.escape(run.name)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(run.name)}</h1><p class="sub">{summary}<br>{html.escape(paper)}</p>
<h2>Losses</h2>{_curves(rows, run)}
{_table(loss_rows[-TABLE_ROWS:], ["step", "epoch", *losses]) if loss_rows else ""}
<h2>Samples over training</h2>{_grids(run)}
<h2>Evaluation</h2>{_evaluations(run, rows)}
<h2>Config</h2><pre>{html.escape(cfg_file.read_text())}</pre>
<p class="sub">Written by ganthology report; the run folder holds the files this page shows.</p>
</body></html>"""
    out = run / "report.html"
    atomic_write(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return out
