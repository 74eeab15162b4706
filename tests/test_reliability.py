"""Nothing lost, nothing crashes: damaged checkpoints and exports are refused, a diverging run stops
before it overwrites its last good checkpoint, checkpoints come on a clock and the last few are kept,
a run folder has one trainer at a time, and a run killed with SIGKILL resumes to the same weights."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file, save_file

import ganthology
from ganthology.errors import GanthologyError
from ganthology.train.checkpoint import load_checkpoint, load_export
from ganthology.train.trainer import lock_run

from .conftest import ROOT, run_cli, tiny
from .test_cli import assert_one_line_error

FAST = dict(dataset="digits", log_every=1, sample_every=1000, progress=False, channels_last=False, **tiny("dcgan"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return ganthology.train_model("dcgan", out=str(tmp_path_factory.mktemp("rel") / "run"), steps=3, **FAST)


def test_junk_and_truncated_checkpoints_get_one_sentence(run, tmp_path):
    good = (run / "checkpoints" / "last.pt").read_bytes()
    cases = {"junk.pt": b"junk\n", "empty.pt": b"", "half.pt": good[: len(good) // 2],
             "tail.pt": good[len(good) // 3:]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(GanthologyError):
            load_checkpoint(tmp_path / name)
    # the example, through the command line
    assert_one_line_error(run_cli("sample", str(tmp_path / "junk.pt")), "junk.pt")


def test_a_flipped_bit_in_a_checkpoint_is_detected(run, tmp_path):
    """torch's zip container stores the tensors uncompressed and does not check them: without the
    checksum a flipped bit in the weights loads as silently different weights."""
    good = bytearray((run / "checkpoints" / "last.pt").read_bytes())
    state = load_checkpoint(run / "checkpoints" / "last.pt")["state"]
    w = state["G.net.0.weight"] if "G.net.0.weight" in state else next(v for v in state.values() if v.numel() > 64)
    at = bytes(good).find(w.reshape(-1)[:8].numpy().tobytes())  # the first bytes of a weight tensor
    assert at > 0
    detected = 0
    for offset in range(0, 64, 8):
        bad = bytearray(good)
        bad[at + offset] ^= 0x10
        (tmp_path / "bad.pt").write_bytes(bytes(bad))
        with pytest.raises(GanthologyError, match="changed after it was written|not a readable"):
            load_checkpoint(tmp_path / "bad.pt")
        detected += 1
    assert detected == 8


def test_a_changed_export_is_detected(run, tmp_path):
    tensors = load_file(str(run / "generator.safetensors"))
    k = next(iter(tensors))
    tensors[k] = tensors[k].clone()
    tensors[k].view(-1)[0] += 1
    (tmp_path / "generator.json").write_text((run / "generator.json").read_text())
    save_file(tensors, str(tmp_path / "generator.safetensors"))
    with pytest.raises(GanthologyError, match="checksum"):
        load_export(tmp_path / "generator.safetensors")
    assert_one_line_error(run_cli("sample", str(tmp_path / "generator.safetensors")), "checksum")


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(monkeypatch, tmp_path):
    from ganthology import registry

    base = ganthology.get_model("dcgan")

    class Diverging(base):
        nan_at = 7  # the step (1-based) whose loss is NaN

        def train_step(self, batch, step):
            logs = super().train_step(batch, step)
            if step + 1 >= self.nan_at:
                logs["loss_D"] = logs["loss_D"] * float("nan")
            return logs

    monkeypatch.setattr(Diverging, "name", "dcgan_diverging")
    monkeypatch.setitem(registry._MODELS, "dcgan_diverging", Diverging)
    out = tmp_path / "run"
    settings = {**FAST, "log_every": 4, "ckpt_every": 5}
    with pytest.raises(GanthologyError, match=r"loss_D became non-finite at step 7.*step 5\) is kept"):
        ganthology.train_model("dcgan_diverging", out=str(out), steps=20, **settings)
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ckpt["step"] == 5 and all(torch.isfinite(v).all() for v in ckpt["state"].values() if v.is_floating_point())
    monkeypatch.setattr(Diverging, "nan_at", 10**9)  # mended: resuming from the kept checkpoint works
    ganthology.train_model("dcgan_diverging", resume=out, steps=8)
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 8


def test_the_last_checkpoints_are_kept_and_come_on_a_clock(tmp_path):
    out = ganthology.train_model("dcgan", out=str(tmp_path / "run"), steps=10, ckpt_every=2, keep_last=3, **FAST)
    kept = sorted(p.name for p in (out / "checkpoints").glob("step_*.pt"))
    assert kept == ["step_0000006.pt", "step_0000008.pt", "step_0000010.pt"]
    assert load_checkpoint(out / "checkpoints" / "step_0000006.pt")["step"] == 6
    # a clock of ~0 minutes checkpoints at every step, whatever ckpt_every says
    out = ganthology.train_model("dcgan", out=str(tmp_path / "clock"), steps=4, ckpt_every=1000,
                                 ckpt_minutes=1e-9, keep_last=10, **FAST)
    assert len(list((out / "checkpoints").glob("step_*.pt"))) == 4


def test_a_second_trainer_on_the_same_folder_refuses(run):
    held = lock_run(run)  # as a training process holds it
    try:
        r = run_cli("train", "dcgan", "--out", str(run), "--resume", "--steps", "5", "--no-progress")
        assert_one_line_error(r, "in use by another training process", str(os.getpid()))
    finally:
        held.close()
    r = run_cli("train", "dcgan", "--out", str(run), "--resume", "--steps", "4", "--no-progress")
    assert r.returncode == 0, r.stderr


def test_a_run_killed_at_random_moments_resumes_to_the_same_weights(tmp_path):
    """SIGKILL during steps and during checkpoint writes (a checkpoint every step): each time the run
    resumes from what is on disk, and it ends with the weights of a run that was never killed."""
    args = ["train", "dcgan", "--dataset", "digits", "--steps", "30", "--ckpt-every", "1", "--log-every", "1",
            "--sample-every", "1000", "--no-progress", "--ngf", "8", "--ndf", "8", "--batch-size", "8",
            "--no-channels-last"]
    r = run_cli(*args, "--out", str(tmp_path / "full"))
    assert r.returncode == 0, r.stderr
    out, rng, kills = tmp_path / "killed", random.Random(0), 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    while True:
        resume = ["--resume"] if (out / "checkpoints" / "last.pt").exists() else []
        p = subprocess.Popen([sys.executable, "-m", "ganthology", *args, "--out", str(out), *resume],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if kills < 4:
            deadline = time.monotonic() + 60
            while not (out / "checkpoints" / "last.pt").exists() and time.monotonic() < deadline:
                time.sleep(0.05)  # wait for the run to be writing checkpoints, then kill it at random
            time.sleep(rng.uniform(0.0, 0.6))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
        _, err = p.communicate(timeout=300)
        if p.returncode == 0:
            break
        assert p.returncode == -signal.SIGKILL, err
    assert kills >= 3
    a, b = (load_checkpoint(tmp_path / r / "checkpoints" / "last.pt") for r in ("full", "killed"))
    assert a["step"] == b["step"] == 30
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.parametrize("victim", ["rank 1", "rank 0"])
def test_a_rank_that_dies_stops_the_other_within_a_bounded_time(tmp_path, victim):
    """--devices 2 on the CPU (gloo): SIGKILL one process mid-run; the other must exit on its own
    within a minute (rank 0 with one sentence), not wait forever in its next all-reduce."""
    args = ["train", "dcgan", "--dataset", "digits", "--steps", "100000", "--devices", "2", "--device", "cpu",
            "--ngf", "8", "--ndf", "8", "--batch-size", "8", "--no-progress", "--out", str(tmp_path / "run")]
    p = subprocess.Popen([sys.executable, "-m", "ganthology", *args], cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "metrics.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # both ranks are stepping once rank 0 logs
    kids = _children(p.pid)
    assert p.poll() is None and len(kids) == 1, "rank 0 runs in the main process, rank 1 in its child"
    if victim == "rank 1":
        os.kill(kids[0], signal.SIGKILL)
        _, err = p.communicate(timeout=60)
        assert p.returncode not in (0, None) and "Traceback" not in err, err
        assert "another process of this run stopped unexpectedly" in err.strip().splitlines()[-1]
    else:
        p.kill()
        p.communicate(timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _zombie_or_alive(kids[0]):
            time.sleep(0.2)
        assert not _zombie_or_alive(kids[0]), "rank 1 outlived rank 0 by more than a minute"


def _zombie_or_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_a_network_too_large_for_memory_is_refused_before_it_is_allocated(tmp_path, capsys):
    """--ngf 20000 is in range for one layer but makes a 48 GiB DCGAN: measured on the meta device
    (no memory) and refused in one sentence, instead of the system killing the process."""
    from ganthology.cli import main

    with pytest.raises(SystemExit) as e:
        main(["train", "dcgan", "--dataset", "digits", "--ngf", "20000", "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 1 and len(err) == 1 and "weights" in err[0] and "GiB" in err[0], err
