"""Every flag is checked: each numeric option of every command, tried with values out of its range,
NaN and text, gives one sentence and a non-zero exit before any work starts; every setting at the
smallest value it allows builds a model that takes a step, or says in one sentence why it cannot.
The cases are generated from the commands' options and the models' Config fields, not listed."""
from __future__ import annotations

import click
import pytest
import torch
from PIL import Image

import ganthology
from ganthology.cli import OPTION_BOUNDS, OUTPUT_OPTIONS, Bounded, cli, main
from ganthology.config_fields import HUGE, bounds, field_specs
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.errors import GanthologyError, settings_guard
from ganthology.train import TrainConfig

from .conftest import offline_dataset_for, tiny

MODELS = ganthology.list_models()


def _commands(group=cli, path=()):
    for name, cmd in sorted(group.commands.items()):
        if name == "train":
            continue
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def _bad_values(lo, hi, kind):
    vals = ["abc", "nan", "inf"] if kind is float else ["abc", "1.5"]
    if lo > -HUGE:
        vals.append(str(lo - 1 if kind is int else lo - 0.5))
    vals.append(str(int(hi) * 10 + 1) if hi < HUGE else "1e12" if kind is float else str(10**12))
    return vals


def _run(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return exit_.value.code, capsys.readouterr().err


def _one_sentence(code, err, *fragments):
    assert code not in (0, None), err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for f in fragments:
        assert f in lines[0], lines[0]


def test_every_numeric_option_of_every_command_has_a_range():
    """A new numeric option of a command needs its entry in cli.OPTION_BOUNDS (train's options are
    dataclass fields: config_fields.bounds gives theirs)."""
    for path, cmd in _commands():
        for p in cmd.params:
            if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType)):
                raise AssertionError(f"ganthology {' '.join(path)} --{p.name}: add it to OPTION_BOUNDS")
            if isinstance(p.type, Bounded):
                assert OPTION_BOUNDS[p.name] == (p.type.lo, p.type.hi)


@pytest.mark.parametrize("path, cmd", list(_commands()), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_bad_values_of_every_command_option_are_refused_in_one_sentence(path, cmd, tmp_path, capsys):
    existing = tmp_path / "image.png"  # for the paths that must exist (latent edit --with)
    Image.new("L", (8, 8)).save(existing)

    def given(p):
        return str(existing) if isinstance(p.type, click.Path) and p.type.exists else str(tmp_path / p.name)

    required = []
    for p in cmd.params:
        if isinstance(p, click.Argument):
            required.append(given(p))
        elif p.required:
            required += [p.opts[0], given(p)]
    numeric = [p for p in cmd.params if isinstance(p.type, Bounded)]
    for p in numeric:
        for v in _bad_values(p.type.lo, p.type.hi, p.type.kind):
            code, err = _run([*path, *required, p.opts[0], v], capsys)
            _one_sentence(code, err, p.opts[0])
            assert [f.name for f in tmp_path.iterdir()] == ["image.png"], "a refused command left files behind"


@pytest.mark.parametrize("name", ["dcgan", *MODELS])
def test_bad_values_of_every_training_setting_are_refused_before_any_work(name, tmp_path, capsys):
    """train MODEL --field VALUE for every numeric field (the trainer's own once, with dcgan): the run
    folder is never created."""
    owners = [ganthology.get_model(name).Config] + ([TrainConfig] if name == "dcgan" else [])
    out = tmp_path / "run"
    for owner in owners:
        for spec in field_specs(owner):
            if spec.type not in (int, float):
                continue
            flag = "--" + spec.name.replace("_", "-")
            for v in _bad_values(*bounds(owner, spec), spec.type):
                code, err = _run(["train", name, flag, v, "--out", str(out), "--no-progress"], capsys)
                _one_sentence(code, err, flag)
                assert not out.exists(), f"{flag} {v}: the run folder was created before the flag was refused"


@pytest.mark.parametrize("name", MODELS)
def test_the_smallest_value_of_every_setting_builds_and_steps_or_says_why(name):
    """Each numeric field at the bottom of its range, the rest tiny: building the model and its first
    step (what the trainer guards with settings_guard) either work or raise one GanthologyError."""
    cls = ganthology.get_model(name)
    data = build_dataset(offline_dataset_for(cls))
    failures = []
    for spec in field_specs(cls.Config):
        if spec.type not in (int, float) or spec.name == "batch_size":
            continue
        lo, _ = bounds(cls.Config, spec)
        try:
            with settings_guard(name):
                torch.manual_seed(0)
                model = cls(ganthology.make_config(name, **{**tiny(name), spec.name: spec.type(max(lo, 0))}), data.info())
                model.bind_data(data)
                model.total_steps = 2
                model.setup_optimizers()
                model.train()
                model.train_step(InMemoryLoader(data, model.cfg.batch_size, seed=0).next(), 0)
        except GanthologyError as e:  # one sentence; anything else fails the test
            assert "\n" not in str(e)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{spec.name}={max(lo, 0)}: {type(e).__name__}: {str(e)[:100]}")
    assert not failures, failures


@pytest.mark.parametrize("path, cmd", [(p, c) for p, c in _commands() if any(q.name in OUTPUT_OPTIONS for q in c.params)],
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_output_paths_that_cannot_be_written_are_refused_before_any_work(path, cmd, tmp_path, capsys):
    existing = tmp_path / "image.png"
    Image.new("L", (8, 8)).save(existing)
    args = [*path]
    for p in cmd.params:
        if isinstance(p, click.Argument):
            args.append(str(existing))
        elif p.required and p.name not in OUTPUT_OPTIONS:
            args += [p.opts[0], str(existing)]
    for p in cmd.params:
        if p.name in OUTPUT_OPTIONS and isinstance(p.type, click.Path):
            others = [a for q in cmd.params if q.required and q.name in OUTPUT_OPTIONS and q is not p
                      for a in (q.opts[0], str(tmp_path / "ok"))]
            code, err = _run([*args, *others, p.opts[0], "/proc/forbidden/x"], capsys)
            _one_sentence(code, err, "cannot write to /proc/forbidden")


def test_train_refuses_an_output_folder_that_cannot_be_written(capsys):
    code, err = _run(["train", "dcgan", "--out", "/proc/forbidden/run", "--no-progress"], capsys)
    _one_sentence(code, err, "cannot write to /proc/forbidden")


def test_the_python_api_refuses_what_the_cli_refuses():
    """make_config (and so build_model and the Python API) range-checks as `train`'s flags do."""
    for bad in (-1.0, float("nan")):
        with pytest.raises(GanthologyError, match="--lr .* give a number"):
            ganthology.make_config("dcgan", lr=bad)
    with pytest.raises(GanthologyError, match="has no setting 'learning_rate'"):
        ganthology.make_config("dcgan", learning_rate=1e-3)
    assert ganthology.make_config("dcgan", lr=1e-3).lr == 1e-3
