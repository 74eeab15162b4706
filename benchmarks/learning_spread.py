"""Run the learning tests over seeds and CPU code paths and print the distribution of what each one
measures beside its threshold; or run them with learning sabotaged and check that each one fails.

A learning test's threshold must hold on any x86-64 CPU. Another CPU's kernels (AVX2, AVX-512,
AMX; oneDNN's choice among them) give another floating-point trajectory, much as another seed does,
so a threshold is set below the worst of several seeds on every code path this machine can run:

    python benchmarks/learning_spread.py --seeds 0-4 --paths avx512,avx2,default --jobs 2
    python benchmarks/learning_spread.py --sabotage            # every learning test must fail
    python benchmarks/learning_spread.py --report a.jsonl b.jsonl [--markdown]   # the tables again

Each (seed, path) is one `pytest -m learning` process with GANTHOLOGY_TEST_SEED, ATEN_CPU_CAPABILITY
and ONEDNN_MAX_CPU_ISA set; the tests append their measurements to a JSON-lines log through the
`expect` fixture (tests/conftest.py), which this script reads back. The numbers and the chosen
thresholds are in docs/results.md ("Learning tests").
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# ATen's vectorized kernels (ATEN_CPU_CAPABILITY) and oneDNN's convolutions and matmuls
# (ONEDNN_MAX_CPU_ISA) each pick their instruction set at start-up; a path caps both.
PATHS = {
    "native": {},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def run_pytest(env_extra: dict, log: Path, threads: int, select: list[str]) -> tuple[int, str]:
    env = {**os.environ, **env_extra, "GANTHOLOGY_LEARNING_LOG": str(log), "OMP_NUM_THREADS": str(threads)}
    # -n 0: one process per (seed, path), its threads set here (the suite's own -n auto would split it)
    cmd = [sys.executable, "-m", "pytest", "-m", "learning", "-n", "0", "-q", "-p", "no:cacheprovider",
           "--durations=0", *select]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def met(r: dict) -> bool:
    v, b = r["value"], r["bound"]
    return {">": v > b, ">=": v >= b, "<": v < b, "<=": v <= b}[r["op"]]


def table(rows: list[dict], markdown: bool = False) -> str:
    """One line per (test, metric): its bound, and min / median / max over the runs, with the worst
    run named and whether every run met the bound."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["test"].split("::", 1)[1], r["metric"])].append(r)
    if markdown:
        out = ["| test | measures | runs | min | median | max | worst run | test requires |", "|---|---|---:|---:|---:|---:|---|---|"]
    else:
        out = [f"{'test':<62} {'metric':<22} {'bound':>9} {'n':>3} {'min':>8} {'median':>8} {'max':>8}  worst run"]
    for (test, metric), rs in sorted(groups.items()):
        higher = rs[0]["op"] in (">", ">=")
        values = [r["value"] for r in rs]
        worst = min(rs, key=lambda r: r["value"]) if higher else max(rs, key=lambda r: r["value"])
        ok = all(met(r) for r in rs)
        if markdown:
            out.append(f"| `{test}` | {metric} | {len(rs)} | {min(values):.4g} | {statistics.median(values):.4g} | "
                       f"{max(values):.4g} | seed {worst['seed']}, {worst['path']} | {rs[0]['op']} {rs[0]['bound']:.4g}"
                       + ("" if ok else " **(fails)**") + " |")
        else:
            out.append(f"{test[:62]:<62} {metric[:22]:<22} {rs[0]['op']:>2}{rs[0]['bound']:>7.4g} {len(rs):>3} "
                       f"{min(values):>8.4g} {statistics.median(values):>8.4g} {max(values):>8.4g}  "
                       f"seed {worst['seed']} {worst['path']}" + ("" if ok else "  FAILS"))
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3,7")
    ap.add_argument("--paths", default="native", help=f"comma-separated, of {', '.join(PATHS)}")
    ap.add_argument("--jobs", type=int, default=1, help="pytest processes at once (threads split among them)")
    ap.add_argument("--log", type=Path, help="JSON-lines log to append to (default: a temporary file)")
    ap.add_argument("--sabotage", action="store_true",
                    help="run seed 0 on the native path once per sabotage mode; every learning test must fail")
    ap.add_argument("--report", type=Path, nargs="+", help="print the table of existing logs and exit")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown (docs/results.md)")
    ap.add_argument("select", nargs="*", help="test files or node ids (default: every learning test)")
    a = ap.parse_args()

    if a.report:
        rows = [json.loads(line) for f in a.report for line in f.read_text().splitlines() if line.strip()]
        print(table([r for r in rows if not r.get("sabotage")], a.markdown))
        if any(r.get("sabotage") for r in rows):
            print(sabotage_table(rows))
        return 0

    log = a.log or Path(tempfile.mkstemp(suffix=".jsonl", prefix="learning_")[1])
    if a.sabotage:
        jobs = [({"GANTHOLOGY_TEST_SABOTAGE": mode}, mode) for mode in ("untrained", "ascent")]
    else:
        unknown = [p for p in a.paths.split(",") if p not in PATHS]
        if unknown:
            ap.error(f"unknown path {unknown[0]!r}; choose from {', '.join(PATHS)}")
        jobs = [({**PATHS[p], "GANTHOLOGY_TEST_SEED": str(s)}, f"seed {s} {p}")
                for s in parse_seeds(a.seeds) for p in a.paths.split(",")]
    threads = max(1, (os.cpu_count() or 1) // a.jobs)

    def one(job):
        env, label = job
        t0 = time.time()
        rc, text = run_pytest(env, log, threads, a.select)
        summary = [line for line in text.splitlines() if line.startswith(("FAILED", "ERROR"))] + text.splitlines()[-1:]
        print(f"[{label}] rc {rc} in {time.time() - t0:.0f} s: " + "; ".join(summary), flush=True)
        return label, rc, text

    with ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(one, jobs))
    print(f"\nlog: {log}")
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    if not a.sabotage:
        print(table([r for r in rows if not r.get("sabotage")]))
        return 0 if all(rc == 0 for _, rc, _ in results) else 1

    print(sabotage_table(rows))
    caught_all = all(not all(met(r) for r in rows if r["test"] == name and r["sabotage"] == "untrained")
                     for name in {r["test"] for r in rows})
    print("\nevery learning test fails for an untrained model" if caught_all else
          "\nSOME LEARNING TEST PASSES FOR AN UNTRAINED MODEL")
    return 0 if caught_all else 1


def sabotage_table(rows: list[dict]) -> str:
    """Per learning test, whether it failed (as it must) under each sabotage, and on which numbers."""
    out = [f"\n{'test':<90} {'untrained':>10} {'ascent':>10}"]
    for name in sorted({r["test"] for r in rows if r.get("sabotage")}):
        verdicts = []
        for mode in ("untrained", "ascent"):
            rs = [r for r in rows if r["test"] == name and r.get("sabotage") == mode]
            verdicts.append("-" if not rs else "passes" if all(met(r) for r in rs) else "fails")
        out.append(f"{name.split('::', 1)[1][:90]:<90} {verdicts[0]:>10} {verdicts[1]:>10}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
