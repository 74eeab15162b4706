"""`ganthology studio`: the page, driven in a real (headless) Chromium by Playwright against runs this
test trains for a few steps: it lists the runs, samples from a model that draws from noise, and
translates an uploaded image with a translation model, checking the images that come back. The
checks that need no browser (paths, uploads, what a model offers) run without one."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ganthology
from ganthology.errors import GanthologyError

from .conftest import ROOT, tiny

gradio = pytest.importorskip("gradio", reason='the studio needs pip install -e ".[studio]"')
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny runs; GANTHOLOGY_STUDIO_RUNS=FOLDER uses trained ones instead (the README's screenshot:
    GANTHOLOGY_STUDIO_SCREENSHOT=docs/images/studio.png)."""
    if os.environ.get("GANTHOLOGY_STUDIO_RUNS"):
        return Path(os.environ["GANTHOLOGY_STUDIO_RUNS"])
    root = tmp_path_factory.mktemp("studio") / "runs"
    for name, dataset in (("dcgan", "digits"), ("pix2pix", "edges2digits"), ("infogan", "digits")):
        ganthology.train_model(name, dataset=dataset, steps=4, out=str(root / name), progress=False,
                               sample_every=2, log_every=2, **tiny(name))
    return root


def test_what_each_model_offers_comes_from_the_model(runs):
    from ganthology.studio import Studio

    s = Studio(runs)
    assert set(s.runs) == {"dcgan", "pix2pix", "infogan"}
    dc, p2p, info = (s.abilities(n) for n in ("dcgan", "pix2pix", "infogan"))
    assert dc["sample"] and dc["invert"] and not dc["translate"] and not dc["codes"]
    assert p2p["translate"] and not p2p["sample"] and not p2p["inpaint"]
    assert set(info["codes"]) == set(ganthology.load(runs / "infogan").latent_codes)
    grid = s.sample("infogan", seed=3, n=4, codes={c: 1 for c in info["codes"]})
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[2] == 3
    assert np.array_equal(grid, s.sample("infogan", seed=3, n=4, codes={c: 1 for c in info["codes"]}))
    assert s.interpolate("dcgan", 0, 1, 5).shape[1] > s.interpolate("dcgan", 0, 1, 2).shape[1]
    digit = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    row = s.edit("dcgan", digit, digit[::-1], digit[:, ::-1], strengths=(-1, 0, 1))
    assert row.shape[1] > 3 * row.shape[0], "one row: yours and three edits"


def test_paths_and_uploads_are_checked(runs):
    from ganthology.studio import MAX_SIDE, Studio

    s = Studio(runs)
    for name in ("../", "/etc", "dcgan/../../x", "missing"):
        with pytest.raises(GanthologyError, match="no run called"):
            s.run(name)
    with pytest.raises(GanthologyError, match="not an image"):
        s.translate("pix2pix", np.zeros((4, 4), dtype=np.float64))
    with pytest.raises(GanthologyError, match="at most"):
        s.translate("pix2pix", np.zeros((MAX_SIDE + 1, 8, 3), dtype=np.uint8))
    with pytest.raises(GanthologyError, match="upload an image"):
        s.inpaint("dcgan", None)
    out = s.translate("pix2pix", np.zeros((50, 70, 3), dtype=np.uint8))  # any size: resized to the model's
    assert out.dtype == np.uint8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _image_size(url: str) -> tuple[int, int]:
    with urllib.request.urlopen(url, timeout=30) as r:
        import io

        return Image.open(io.BytesIO(r.read())).size


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: apt-get install chromium (.ci/run does)")
def test_the_page_in_a_real_browser(runs, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "ganthology", "studio", str(runs), "--port", str(port)],
                              cwd=ROOT, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read() if server.poll() else "timeout"
                time.sleep(0.5)
        edge = tmp_path / "edge.png"
        Image.fromarray((np.random.default_rng(0).random((32, 32)) > 0.8).astype(np.uint8) * 255).save(edge)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            page.wait_for_function("document.querySelector('#summary')?.innerText.includes('dcgan')", timeout=60000)
            table = page.inner_text("#runs")
            assert all(n in table for n in ("dcgan", "pix2pix", "infogan"))
            page.get_by_role("tab", name="Use").click()
            page.wait_for_selector("#sample", timeout=30000)
            page.click("#sample")
            page.wait_for_selector("#samples img", timeout=60000)
            w, h = _image_size(page.get_attribute("#samples img", "src"))
            assert w > h > 0, "16 samples: two rows of eight"
            page.screenshot(path=os.environ.get("GANTHOLOGY_STUDIO_SCREENSHOT", str(tmp_path / "studio.png")))

            page.click("#run input")
            page.get_by_role("option", name="pix2pix").click()
            page.wait_for_selector("#upload input[type=file]", state="attached", timeout=60000)
            page.set_input_files("#upload input[type=file]", str(edge))
            page.wait_for_timeout(1000)
            page.click("#translate")
            page.wait_for_selector("#translated img", timeout=60000)
            w, h = _image_size(page.get_attribute("#translated img", "src"))
            assert w == h and w >= 32, "one translated image, enlarged for the page"
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
