"""The shared trainer: run folder contents, exact resume, atomic checkpoints, DDP on CPU."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import ganthology
from ganthology.train.checkpoint import atomic_write, load_checkpoint
from ganthology.train.logger import read_metrics

from .conftest import ROOT, stoppable, train_tiny as _train


def test_run_folder_contents(tmp_path):
    out = _train("dcgan", tmp_path / "run", steps=4, sample_every=2)
    for f in ("config.yaml", "metrics.csv", "loss_curve.png", "generator.safetensors", "generator.json",
              "checkpoints/last.pt", "samples/step_0000002.png", "samples/step_0000004.png"):
        assert (out / f).is_file(), f
    rows = read_metrics(out / "metrics.csv")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ckpt["step"] == 4 and ckpt["model"] == "dcgan" and set(ckpt["optimizers"]) == {"G", "D"}
    # the Python API resumes from the run folder alone: the config comes from the checkpoint
    ganthology.train_model("dcgan", resume=out, steps=6)
    assert [int(r["step"]) for r in read_metrics(out / "metrics.csv")] == [1, 2, 3, 4, 5, 6]
    assert load_checkpoint(out / "checkpoints" / "last.pt")["config"]["model_config"]["ngf"] == 8


@pytest.mark.parametrize("name", ganthology.list_models())
def test_resume_reproduces_the_uninterrupted_run(name, tmp_path):
    """Stop at step 4, resume to step 8: steps 5-8 log exactly the losses of an 8-step run.
    Covers dropout noise (gan, pix2pix), n_critic scheduling (wgan_gp), the data position and the
    generator's weight average (--ema, including networks that share layers: unit, cogan)."""
    full = read_metrics(_train(name, tmp_path / "full", steps=8, ema=0.9) / "metrics.csv")
    _train(name, tmp_path / "part", steps=4, ema=0.9)
    resumed = read_metrics(_train(name, tmp_path / "part", steps=8, resume=tmp_path / "part" / "checkpoints" / "last.pt") / "metrics.csv")
    assert [r["step"] for r in resumed] == [str(i) for i in range(1, 9)]
    drop = {"images_per_s"}
    strip = lambda rows: [{k: v for k, v in r.items() if k not in drop} for r in rows]  # noqa: E731
    assert strip(resumed) == strip(full)
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["state"]
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["state"]
    assert all(torch.equal(a[k], b[k]) for k in a), "the resumed weights are bit-for-bit the same"
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["ema"]
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["ema"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "and so is their average"


@pytest.mark.parametrize("name", ["wgan", "wgan_gp"])
def test_logged_losses_are_averaged_over_the_steps_that_returned_them(name, tmp_path, monkeypatch):
    """WGAN returns loss_G on one step in n_critic; the logged loss_G is the mean of those steps,
    not their sum divided by every step (which wrote it n_critic times too small)."""
    cls = ganthology.get_model(name)
    returned: list[dict] = []
    original = cls.train_step

    def recording(self, batch, step):
        logs = original(self, batch, step)
        returned.append({k: float(v) for k, v in logs.items()})
        return logs

    monkeypatch.setattr(cls, "train_step", recording)
    out = _train(name, tmp_path / "run", steps=6, n_critic=3, log_every=6)
    row = read_metrics(out / "metrics.csv")[-1]
    g = [r["loss_G"] for r in returned if "loss_G" in r]
    d = [r["loss_D"] for r in returned]
    assert len(g) == 2 and len(d) == 6
    assert float(row["loss_G"]) == pytest.approx(sum(g) / 2, rel=1e-5)
    assert float(row["loss_D"]) == pytest.approx(sum(d) / 6, rel=1e-5)


def test_a_learning_rate_schedule_is_stepped_logged_and_resumed_exactly_across_its_decay(tmp_path, monkeypatch):
    """A model's schedulers() (here DCGAN with CycleGAN's constant-then-linear decay over the run's
    total_steps) are stepped once per train_step, logged as lr_<key>, and checkpointed: a run
    stopped in the middle of the decay resumes to the same rates, losses and weights."""
    from ganthology.models.base import constant_then_linear_decay

    class DecayingDCGAN(ganthology.get_model("dcgan")):
        def schedulers(self):
            return {k: constant_then_linear_decay(o, self.total_steps, decay_from=0.5) for k, o in self.opt.items()}

    DecayingDCGAN = stoppable(monkeypatch, DecayingDCGAN, "dcgan_decay")
    full = read_metrics(_train("dcgan_decay", tmp_path / "full", steps=8) / "metrics.csv")
    lr = float(full[0]["lr_G"])
    assert [float(r["lr_G"]) / lr for r in full] == pytest.approx([1, 1, 1, 1, 0.75, 0.5, 0.25, 0.0])
    lr_d = float(full[0]["lr_D"])  # dcgan's D has its own rate: both follow the same schedule
    assert [float(r["lr_D"]) / lr_d for r in full] == pytest.approx([float(r["lr_G"]) / lr for r in full])

    monkeypatch.setattr(DecayingDCGAN, "stop_after", 6)  # in the middle of the decay
    _train("dcgan_decay", tmp_path / "part", steps=8)
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["step"] == 6
    monkeypatch.setattr(DecayingDCGAN, "stop_after", 0)
    resumed = read_metrics(ganthology.train_model("dcgan_decay", resume=tmp_path / "part") / "metrics.csv")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows]  # noqa: E731
    assert strip(resumed) == strip(full)
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")
    assert a["schedulers"]["G"]["last_epoch"] == b["schedulers"]["G"]["last_epoch"] == 8
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])


def test_lr_decay_from_gives_any_model_a_schedule_that_settles(tmp_path):
    """--lr-decay-from 0.5 holds every learning rate for half the run and lowers it linearly to 0
    at the last step (CycleGAN's schedule), for a model with no schedule of its own; a fraction
    outside [0, 1] is refused in one sentence."""
    rows = read_metrics(_train("wgan_gp", tmp_path / "run", steps=8, lr_decay_from=0.5) / "metrics.csv")
    for key in ("lr_G", "lr_D"):
        lr = float(rows[0][key])
        assert [float(r[key]) / lr for r in rows] == pytest.approx([1, 1, 1, 1, 0.75, 0.5, 0.25, 0.0])
    with pytest.raises(ganthology.GanthologyError, match=r"--lr-decay-from 1.5 is out of range; give a number from 0 to 1"):
        _train("dcgan", tmp_path / "bad", steps=2, lr_decay_from=1.5)


def test_minutes_end_a_run_on_the_clock_with_its_checkpoint_and_grid(tmp_path, monkeypatch):
    """--minutes alone: only the clock ends the run, after a whole step, with the final checkpoint and
    grid written; with --steps too, whichever comes first. A model whose schedule follows the run's
    length needs a step count and is refused in one sentence."""
    import ganthology.train.trainer as trainer

    clock = {"t": 0.0}

    def tick():  # every call to the clock is 1 s later: the loop reads it once per step
        clock["t"] += 1.0
        return clock["t"]

    monkeypatch.setattr(trainer.time, "monotonic", tick)
    out = _train("dcgan", tmp_path / "clock", steps=None, minutes=5 / 60, sample_every=10**6)
    done = load_checkpoint(out / "checkpoints" / "last.pt")["step"]
    assert 3 <= done <= 6, done  # ~5 ticks of the mocked clock, not the 2000 default steps
    assert (out / "samples" / f"step_{done:07d}.png").is_file()
    assert int(read_metrics(out / "metrics.csv")[-1]["step"]) == done
    out = _train("dcgan", tmp_path / "steps_first", steps=2, minutes=60)
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 2
    with pytest.raises(ganthology.GanthologyError, match="follows the run's length in steps.*give --steps"):
        _train("cyclegan", tmp_path / "cyc", steps=None, minutes=1)


def test_lr_decay_from_follows_the_clock_under_minutes_and_a_resumed_run_continues_its_budget(tmp_path, monkeypatch):
    """--minutes alone with --lr-decay-from: the rates fall over the second half of the wall-clock
    budget instead of a step count. The checkpoint keeps the seconds trained, so a run stopped by
    Ctrl-C and resumed spends the rest of the same budget at the same rates; a spent budget is
    refused in one sentence and a larger --minutes trains on."""
    import ganthology.train.trainer as trainer

    clock = {"t": 0.0, "stop_at": 0}
    monkeypatch.setattr(trainer.time, "monotonic", lambda: clock["t"])
    cls = ganthology.get_model("dcgan")
    step_once = cls.train_step

    def one_second_each(self, batch, step):
        clock["t"] += 1.0
        if step + 1 == clock["stop_at"]:
            os.kill(os.getpid(), signal.SIGINT)
        return step_once(self, batch, step)

    monkeypatch.setattr(cls, "train_step", one_second_each)
    ten_seconds = dict(steps=None, minutes=10 / 60, lr_decay_from=0.5, sample_every=10**6)
    full = read_metrics(_train("dcgan", tmp_path / "full", **ten_seconds) / "metrics.csv")
    lr = float(full[0]["lr_G"])
    assert [int(r["step"]) for r in full] == list(range(1, 11))
    assert [float(r["lr_G"]) / lr for r in full] == pytest.approx([1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0])

    clock["stop_at"] = 4
    part = _train("dcgan", tmp_path / "part", **ten_seconds)
    assert load_checkpoint(part / "checkpoints" / "last.pt")["step"] == 4
    clock["stop_at"] = 0
    ganthology.train_model("dcgan", resume=part)
    strip = lambda rows: [(r["step"], r["lr_G"], r["loss_D"], r["loss_G"]) for r in rows]  # noqa: E731
    assert strip(read_metrics(part / "metrics.csv")) == strip(full)
    with pytest.raises(ganthology.GanthologyError, match=r"has spent its --minutes .* larger --minutes"):
        ganthology.train_model("dcgan", resume=part)
    ganthology.train_model("dcgan", resume=part, minutes=12 / 60)
    assert load_checkpoint(part / "checkpoints" / "last.pt")["step"] == 12


def test_a_run_given_no_length_takes_the_same_generator_updates_for_every_model(tmp_path, monkeypatch):
    """With no --steps, --epochs or --minutes a run is DEFAULT_STEPS generator updates: a trainer
    step of wgan_gp is one critic step, so its default run takes n_critic times the steps of dcgan's
    (2000 trainer steps were 400 updates of its generator, which still drew blobs)."""
    import ganthology.train.trainer as trainer

    monkeypatch.setattr(trainer, "DEFAULT_STEPS", 2)
    for name, kw, want in (("dcgan", {}, 2), ("wgan_gp", {"n_critic": 5}, 10), ("wgan_gp", {"n_critic": 3}, 6)):
        out = _train(name, tmp_path / f"{name}{want}", steps=None, sample_every=10**6, **kw)
        assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == want, (name, kw)


def test_ema_averages_the_generator_and_everything_that_samples_uses_the_average(tmp_path):
    """--ema: after each step avg <- b avg + (1 - b) live with b = min(decay, (1+t)/(10+t)); training
    itself is unchanged (the live weights equal those of a run without it); load(), the export and
    the sample grids use the average, load(ema=False) the live weights."""
    from ganthology.train.ema import EMA

    plain = _train("dcgan", tmp_path / "plain", steps=6)
    out = _train("dcgan", tmp_path / "ema", steps=6, ema=0.5)
    live, avg = (load_checkpoint(out / "checkpoints" / "last.pt")[k] for k in ("state", "ema"))
    ref = load_checkpoint(plain / "checkpoints" / "last.pt")["state"]
    assert all(torch.equal(live[k], ref[k]) for k in ref), "the average does not change training"
    assert set(avg) == {k for k in live if k.startswith("G.")}
    moved = [k for k in avg if not torch.equal(avg[k], live[k])]
    assert moved and all("running" not in k for k in moved), "the weights' average lags, BN statistics are copied"
    model, lagged = ganthology.load(out), ganthology.load(out, ema=False)
    exported = ganthology.load(out / "generator.safetensors")
    for k in moved:
        assert torch.equal(model.state_dict()[k], avg[k]) and torch.equal(exported.state_dict()[k], avg[k])
        assert torch.equal(lagged.state_dict()[k], live[k])

    # the rule itself, on a toy: live weights 1, 2, 3 after steps 1, 2, 3 with decay 0.5
    net = torch.nn.Module()
    net.G = torch.nn.Linear(1, 1, bias=False)
    net.sampling_modules = ("G",)
    torch.nn.init.zeros_(net.G.weight)
    ema = EMA(net, 0.5)
    expect = 0.0
    for t in (1, 2, 3):
        net.G.weight.data.fill_(t)
        ema.update(t)
        b = min(0.5, (1 + t) / (10 + t))
        expect = b * expect + (1 - b) * t
    assert ema.state_dict()["G.weight"].item() == pytest.approx(expect)
    with ema.applied():
        assert net.G.weight.item() == pytest.approx(expect)
    assert net.G.weight.item() == 3.0, "the live weights come back after sampling"

    # with a ramp, the half-life is the fraction r of the steps so far, capped by the decay's
    ramped = EMA(net, 0.999, rampup=0.05)
    assert ramped.beta(1) < 1e-5, "the first step replaces the initial weights almost entirely"
    assert 0.5 ** (1 / 0.05 / 1000) == pytest.approx(ramped.beta(1000))  # half-life 50 steps at step 1,000
    assert ramped.beta(10**6) == 0.999  # a long run: the decay's half-life (693 steps)
    for t in (100, 1000, 5000):  # the weight of the live weights of t/20 steps ago is one half
        assert ramped.beta(t) ** (t * 0.05) == pytest.approx(0.5)


def test_interrupted_run_checkpoints_and_resumes_exactly(tmp_path):
    """SIGINT (Ctrl-C) finishes the current step, writes a checkpoint and exits; --resume then
    continues to the same losses as a run that was never interrupted."""
    args = ["train", "dcgan", "--dataset", "digits", "--ngf", "8", "--ndf", "8", "--batch-size", "8",
            "--log-every", "1", "--no-progress", "--no-channels-last", "--ckpt-every", "100000"]
    env = dict(os.environ)
    full = subprocess.run([sys.executable, "-m", "ganthology", *args, "--steps", "400", "--out", str(tmp_path / "full")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stderr
    part = tmp_path / "part"
    proc = subprocess.Popen([sys.executable, "-m", "ganthology", *args, "--steps", "400", "--out", str(part)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:  # wait until training is under way
        if (part / "metrics.csv").exists() and len(read_metrics(part / "metrics.csv")) >= 20:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    stopped = load_checkpoint(part / "checkpoints" / "last.pt")["step"]
    assert 20 <= stopped < 400, "stopped mid-run, with a checkpoint of the last finished step"
    res = subprocess.run([sys.executable, "-m", "ganthology", "train", "dcgan", "--out", str(part), "--resume",
                          "--no-progress"], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    strip = lambda rows: [(r["step"], r["loss_D"], r["loss_G"]) for r in rows]  # noqa: E731
    assert strip(read_metrics(part / "metrics.csv")) == strip(read_metrics(tmp_path / "full" / "metrics.csv"))


def test_a_stop_that_lands_after_the_steps_decisions_still_checkpoints_that_step(tmp_path, monkeypatch):
    """Ctrl-C between a step's end-of-run decision and the loop's next test (here: while the step's
    row is written) still ends the run with a checkpoint of its last step, never with none."""
    from ganthology.train.logger import MetricsLogger

    real = MetricsLogger.log

    def log(self, row):
        real(self, row)
        if row["step"] == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(MetricsLogger, "log", log)
    out = _train("dcgan", tmp_path / "run", steps=50, ckpt_every=100000)
    logged = [int(r["step"]) for r in read_metrics(out / "metrics.csv")]
    assert 3 <= logged[-1] < 50
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == logged[-1]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"previous")

    def crash(tmp):
        tmp.write_bytes(b"half a chec")
        raise OSError(28, "No space left on device")

    with pytest.raises(ganthology.GanthologyError, match="No space left on device.*previous file is intact"):
        atomic_write(path, crash)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"], "no temporary file is left behind"


def test_checkpoint_cannot_run_code(tmp_path):
    """A pickle that would execute code is refused by weights_only loading."""
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    torch.save({"format": "ganthology-checkpoint-1", "x": Evil()}, path)
    with pytest.raises(ganthology.GanthologyError):
        load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


DDP_SCRIPT = textwrap.dedent(
    """
    import sys, torch, ganthology
    from ganthology.train import Trainer, TrainConfig
    out = sys.argv[1]
    cfg = TrainConfig(dataset="digits", steps=6, out=out, device="cpu", devices=2, log_every=1,
                      progress=False, sample_every=1000)
    trainer = Trainer("dcgan", ganthology.make_config("dcgan", ngf=8, ndf=8, batch_size=8), cfg)
    trainer.fit()
    rank = torch.distributed.get_rank()
    torch.save({k: v for k, v in trainer.model.named_parameters()}, f"{out}/params_rank{rank}.pt")
    """
)


def test_ddp_two_cpu_processes_keep_replicas_equal(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=600,
                       cwd=ROOT, env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-3000:]
    p0 = torch.load(out / "params_rank0.pt", weights_only=True)
    p1 = torch.load(out / "params_rank1.pt", weights_only=True)
    init = ganthology.build_model("dcgan", {"ngf": 8, "ndf": 8, "batch_size": 8},
                                  load_checkpoint(out / "checkpoints" / "last.pt")["data"])
    assert p0.keys() == p1.keys()
    assert all(torch.equal(p0[k], p1[k]) for k in p0), "both ranks hold identical parameters"
    assert any(not torch.equal(p0[k], v) for k, v in init.named_parameters()), "and they trained"
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ckpt["world_size"] == 2 and ckpt["rng"]["cpu"].shape[0] == 2
    assert not torch.equal(ckpt["rng"]["cpu"][0], ckpt["rng"]["cpu"][1]), "each rank draws its own noise"
    rows = read_metrics(out / "metrics.csv")
    assert len(rows) == 6 and float(rows[0]["images_per_s"]) > 0


def test_bf16_mixed_precision_on_cpu(tmp_path):
    out = _train("wgan_gp", tmp_path / "bf16", steps=4, precision="bf16-mixed")
    rows = read_metrics(out / "metrics.csv")
    assert len(rows) == 4 and all(abs(float(r["loss_D"])) < 1e4 for r in rows)
    assert load_checkpoint(out / "checkpoints" / "last.pt")["config"]["train"]["precision"] == "bf16-mixed"


def test_16_mixed_on_cpu_is_refused_clearly(tmp_path):
    with pytest.raises(ganthology.GanthologyError, match="32-true"):
        _train("dcgan", tmp_path / "fp16", steps=1, precision="16-mixed", device="cpu")


def test_devices_fabric_cannot_give_are_refused_in_one_sentence(tmp_path, monkeypatch):
    """On a 1-GPU machine `--devices 2` made Lightning raise a MisconfigurationException (seen on an
    H100), which went out as a traceback; it must be one line like every other setup error."""
    import lightning_fabric
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    def no_such_gpus(**kwargs):
        raise MisconfigurationException("You requested gpu: [0, 1]\n But your machine only has: [0]")

    monkeypatch.setattr(lightning_fabric, "Fabric", no_such_gpus)
    with pytest.raises(ganthology.GanthologyError) as e:
        _train("dcgan", tmp_path / "two", steps=1, devices=2, device="cpu")
    assert str(e.value) == "cannot set up 2 x cpu: You requested gpu: [0, 1] But your machine only has: [0]"


def test_a_models_own_trainer_defaults_apply_show_in_help_and_yield_to_flags(tmp_path):
    """GANModel.train_defaults (dcgan's weight average): a new run takes them, `train MODEL --help`
    shows them, a file or a flag overrides them, and a model without them keeps TrainConfig's."""
    import dataclasses

    from ganthology.api import prepare_run
    from ganthology.models.base import WEIGHT_AVERAGE
    from ganthology.train import TrainConfig

    from .conftest import run_cli

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for name in ganthology.list_models():
        assert set(ganthology.get_model(name).train_defaults) <= fields, name
    assert ganthology.get_model("dcgan").train_defaults == WEIGHT_AVERAGE == {"ema": 0.999, "ema_rampup": 0.05}
    assert dict(ganthology.get_model("wgan_gp").train_defaults) == {}  # the average hurt its bench row

    cfg = prepare_run("dcgan", {"out": str(tmp_path / "a")}).cfg
    assert (cfg.ema, cfg.ema_rampup) == (0.999, 0.05)
    assert prepare_run("wgan_gp", {"out": str(tmp_path / "b")}).cfg.ema == 0.0
    assert prepare_run("dcgan", {"out": str(tmp_path / "c"), "ema": 0.0}).cfg.ema == 0.0
    (tmp_path / "off.yaml").write_text("ema_rampup: 0\n")
    assert prepare_run("dcgan", {"out": str(tmp_path / "d")}, config_file=str(tmp_path / "off.yaml")).cfg.ema_rampup == 0.0
    helptext = " ".join(run_cli("train", "dcgan", "--help").stdout.split())
    assert "[default: 0.999]" in helptext and "[default: 0.05]" in helptext
