"""`ganthology report RUN`: one self-contained HTML page per run, written by the trainer at the end of
every run and on demand; evaluations appear in it once they exist."""
from __future__ import annotations

import re

import ganthology
from ganthology.metrics.evaluators import evaluator_for

from .conftest import run_cli, tiny
from .test_cli import assert_one_line_error


def test_every_run_ends_with_a_self_contained_report(tmp_path):
    run = ganthology.train_model("dcgan", dataset="digits", steps=40, out=str(tmp_path / "run"), progress=False,
                                 log_every=5, sample_every=2, **tiny("dcgan"))
    page = (run / "report.html").read_text()
    assert "<script" not in page and not re.search(r'src="(?!data:image/png;base64,)', page), "nothing is fetched"
    grids = len(list((run / "samples").glob("step_*.png")))
    assert grids == 20 and page.count("<figcaption>step ") == 12, "at most 12 grids: first, last, evenly between"
    assert "<figcaption>step 2</figcaption>" in page and "<figcaption>step 40</figcaption>" in page
    assert "dcgan on digits, 40 steps" in page and "Radford" in page
    assert "loss_D" in page and "model_config" in page  # the losses table and the resolved config
    assert "No evaluation yet" in page

    evaluator_for("digits", log=lambda *_: None)  # digits-lenet, trained once if this cache lacks it
    r = run_cli("eval", str(run), "--n", "200", "--json", str(run / "eval.json"))
    assert r.returncode == 0, r.stderr
    r = run_cli("report", str(run))
    assert r.returncode == 0, r.stderr
    page = (run / "report.html").read_text()
    assert "eval.json (ganthology eval)" in page and "fd_digits-lenet" in page


def test_report_of_a_folder_that_is_not_a_run(tmp_path):
    assert_one_line_error(run_cli("report", str(tmp_path)), "not a run folder")
