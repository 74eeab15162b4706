"""benchmarks/throughput.py, the measurement behind docs/benchmarks.md, runs end to end on the
trainer's current setup (it reaches into `Trainer._setup`, so a change there must not break it)."""
from __future__ import annotations

import json
import subprocess
import sys

from .conftest import DATA_ROOT, ROOT, needs_mnist


@needs_mnist
def test_throughput_script_times_both_loops_from_the_same_weights(tmp_path):
    out = tmp_path / "t.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--device", "cpu",
                          "--data-root", str(DATA_ROOT), "--ngf", "8", "--ndf", "8", "--batch-size", "8",
                          "--warmup", "1", "--steps", "2", "--rounds", "1", "--max-time", "5",
                          "--max-other-load", "99", "--matmul-n", "64", "--json", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    res = json.loads(out.read_text())
    sides = res["sides"]
    assert set(sides) == {"ganthology", "baseline"}
    assert all(s["images_per_s"] > 0 for s in sides.values())
    assert res["ratio"] > 0 and res["env"]["device"] is not None
