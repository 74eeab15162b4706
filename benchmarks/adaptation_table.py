"""Print the domain-adaptation table (Markdown) from the OUT/RUN.json records of adaptation.sh.
The papers' numbers are on the real MNIST-M; ours on the MNIST-M-like set (data/photos.py). AR: as
remembered in the project's notes, not re-checked against the paper."""
from __future__ import annotations

import json
import sys
from pathlib import Path

# (run, what it is, the paper's number on the real MNIST-M for that row)
ROWS = [
    ("source_only", "source only (DANN's network and SGD recipe)", "52.25% (Ganin et al. 2016, Table 2)"),
    ("pixelda_source_only", "source only (PixelDA's T and Adam recipe)", "63.6% (Bousmalis et al. 2017, Table 1, AR)"),
    ("dann", "`dann`", "76.66% (Ganin et al. 2016, Table 2)"),
    ("dann_lambda01", "`dann`, lambda_max 0.1", ""),
    ("pixelda", "`pixelda`", "98.2% (Bousmalis et al. 2017, Table 1)"),
    ("cogan", "`cogan --classify` (softmax on D's shared layers)", "62.0% (as reported by Bousmalis et al. 2017, AR)"),
    ("target_only", "trained on target labels (upper bound)", "95.96% (Ganin et al. 2016, Table 2, AR)"),
]


def main(out: Path) -> None:
    print("| method | steps | target test acc. (MNIST-M-like) | source test acc. (MNIST) | paper, real MNIST-M |")
    print("|---|---:|---:|---:|---:|")
    for run, what, paper in ROWS:
        rec = out / f"{run}.json"
        if not rec.is_file():
            if run == "cogan":  # a row that says why it has no number
                print(f"| {what} | | not measured in this OUT (run: benchmarks/adaptation.sh OUT cogan) | | {paper} |")
            continue
        r = json.loads(rec.read_text())
        steps = ""
        ck = out / run / "config.yaml"
        if ck.is_file():
            import yaml

            steps = (yaml.safe_load(ck.read_text()).get("train") or {}).get("steps", "")
        print(f"| {what} | {steps} | {100 * r['target_acc']:.1f}% | {100 * r['source_acc']:.1f}% | {paper} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
