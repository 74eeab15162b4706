"""`ganthology bench`: records per run and the regenerated table of a docs file."""
from __future__ import annotations

import json

from .conftest import run_cli


def test_bench_records_runs_and_rewrites_only_its_table(tmp_path):
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nprose before\n\n<!-- bench:start -->\nold table\n<!-- bench:end -->\n\nprose after\n")
    out = tmp_path / "bench"
    r = run_cli("bench", "pix2pix", "--steps", "2", "--out", str(out), "--docs", str(doc))
    assert r.returncode == 0, r.stderr
    r = run_cli("bench", "gan", "--dataset", "ring8", "--steps", "2", "--n", "500", "--out", str(out), "--docs", str(doc))
    assert r.returncode == 0, r.stderr
    rec = json.loads((out / "pix2pix-edges2digits" / "bench.json").read_text())
    assert rec["steps"] == 2 and {"psnr", "ssim", "l1"} <= set(rec["before"]) and {"psnr", "ssim"} <= set(rec["after"])
    assert rec["command"].startswith("ganthology bench pix2pix")
    toy = json.loads((out / "gan-ring8" / "bench.json").read_text())
    assert toy["after"]["num_modes"] == 8
    text = doc.read_text()
    assert "prose before" in text and "prose after" in text and "old table" not in text
    assert "| pix2pix | edges2digits | 2 x " in text and "| gan | ring8 | 2 x " in text
    assert (tmp_path / "images" / "bench" / "pix2pix-edges2digits.png").is_file()
    assert (tmp_path / "images" / "bench" / "gan-ring8.png").is_file()
    # the records are kept beside the docs: the table survives the loss of the run folders
    assert json.loads((tmp_path / "bench" / "gan-ring8.json").read_text()) == toy
    for rec in out.glob("*/bench.json"):
        rec.unlink()
    doc.write_text(text.replace("| gan | ring8 |", "| stale |"))
    r = run_cli("bench", "--table-only", "--out", str(out), "--docs", str(doc))
    assert r.returncode == 0, r.stderr
    assert "| pix2pix | edges2digits | 2 x " in doc.read_text() and "| gan | ring8 | 2 x " in doc.read_text()


def test_bench_of_an_unknown_model_fails_before_training(tmp_path):
    r = run_cli("bench", "dcgan", "nosuchgan", "--out", str(tmp_path / "b"), "--docs", str(tmp_path / "r.md"))
    assert r.returncode != 0 and "nosuchgan" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "b").exists()


def test_timed_bench_records_the_clock_budget_and_compares_with_the_script_record(tmp_path, monkeypatch):
    """--minutes: a timed run (steps done recorded, the grid of its last step) lands in its own
    table, beside a PyTorch-GAN record for the same model and budget, with the bar's verdict; --ema
    also scores the same run's last iterate."""
    monkeypatch.setenv("GANTHOLOGY_CACHE", str(tmp_path / "cache"))  # its own evaluator, whatever ran before
    r = run_cli("evaluator", "train", "digits-lenet")
    assert r.returncode == 0, r.stderr
    doc = tmp_path / "results.md"
    out = tmp_path / "bench"
    r = run_cli("bench", "gan", "--dataset", "digits", "--minutes", "0.05", "--ema", "0.9", "--n", "300",
                "--out", str(out), "--docs", str(doc))
    assert r.returncode == 0, r.stderr
    rec = json.loads((out / "gan-digits-0.05min" / "bench.json").read_text())
    assert rec["minutes"] == 0.05 and rec["steps"] >= 1 and rec["settings"] == {"ema": 0.9}
    assert "--minutes 0.05" in rec["command"] and "--ema 0.9" in rec["command"]
    assert (out / rec["grid"]).is_file() and set(rec["after_live"]) == set(rec["after"])
    e = rec["evaluator"]
    # a script's record as benchmarks/pytorch_gan.py writes it, 10 classes and a lower FD
    ref = {**rec, "reference": True, "steps": 7, "batch_size": 64, "grid": rec["grid"],
           "after": {**rec["after"], f"fd_{e}": rec["after"][f"fd_{e}"] / 2}}
    (out / "pytorch_gan-gan-digits-0.05min").mkdir()
    (out / "pytorch_gan-gan-digits-0.05min" / "bench.json").write_text(json.dumps(ref))
    r = run_cli("bench", "--table-only", "--out", str(out), "--docs", str(doc))
    assert r.returncode == 0, r.stderr
    text = doc.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| gan | digits | 0.05 min"))
    assert "7 x 64" in row and "no: " in row and "FD above the script's" in row
    assert "<!-- bench:start -->" not in text, "no fixed-steps records: no fixed-steps table"
    assert (tmp_path / "images" / "bench" / "pytorch_gan-gan-digits-0.05min.png").is_file()
