"""The `ganthology` command: list | datasets | train | sample | translate | upscale | inpaint | info | eval | bench.

Built on click. `ganthology train MODEL` is generated per model: every field of TrainConfig and of
the model's Config is an option, so `ganthology train wgan_gp --help` lists `--lambda-gp` with the
paper's default. Mistakes print one line starting with "error:" and exit non-zero.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click
import yaml

from .config_fields import field_specs
from .errors import GanthologyError
from .registry import get_model, list_models


# --- list -------------------------------------------------------------------------------------
def model_table(markdown: bool = False) -> str:
    rows = []
    for name in list_models():
        m = get_model(name)
        rows.append((name, m.paper.split(". ")[0], str(m.year), m.kind(), m.default_dataset))
    head = ("model", "paper", "year", "task", "default dataset")
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join((f"`{r[0]}`",) + r[1:]) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="ganthology")
def cli():
    """ganthology: GAN papers as one package. Start with `ganthology list`."""


@cli.command("list")
@click.option("--markdown", is_flag=True, help="Print the table as Markdown (the README's table).")
def list_cmd(markdown):
    """The registered models."""
    click.echo(model_table(markdown))


@cli.command("datasets")
def datasets_cmd():
    """The datasets known by name (plus folder:PATH, paired:PATH and unpaired:PATH)."""
    from .registry import get_dataset, list_datasets

    for name in list_datasets():
        doc = (get_dataset(name).__doc__ or "").strip().splitlines()[0]
        click.echo(f"{name:15} {doc}")
    click.echo(f"{'folder:PATH':15} your images (sub-folders become class labels)")
    click.echo(f"{'paired:PATH':15} aligned pairs, A left and B right in one image (pix2pix layout)")
    click.echo(f"{'unpaired:PATH':15} two domains, trainA/ trainB/ testA/ testB/ (CycleGAN) or train/A ... (PyTorch-GAN)")
    click.echo(f"{'celeba:PATH':15} CelebA with its attributes (img_align_celeba/, list_attr_celeba.txt)")
    click.echo(f"{'domains:NAME':15} a paired dataset read as two unpaired domains (applied by itself for unpaired models)")


# --- train ------------------------------------------------------------------------------------
def _option(spec, prefix_help: str = "") -> click.Option:
    flag = "--" + spec.name.replace("_", "-")
    default = "none" if spec.default is None else spec.default
    help_ = f"{prefix_help}{spec.help} [default: {default}]"
    if spec.type is bool:
        return click.Option([f"{flag}/--no-{flag[2:]}", spec.name], default=None, help=help_)
    return click.Option([flag, spec.name], type=spec.type, default=None, help=help_)


class TrainCommands(click.Group):
    """`ganthology train MODEL`: one sub-command per registered model, built on demand."""

    def list_commands(self, ctx):
        return list_models()

    def get_command(self, ctx, name):
        get_model(name)  # unknown model -> one clear sentence
        return _train_command(name)


def _train_command(model_name: str) -> click.Command:
    from .train.config import TrainConfig

    model_cls = get_model(model_name)
    params = [_option(dataclasses.replace(s, default=model_cls.train_defaults.get(s.name, s.default)))
              for s in field_specs(TrainConfig) if s.name not in ("out",)]
    params += [_option(s, "[model] ") for s in field_specs(model_cls.Config)]
    params += [
        click.Option(["--out", "-o", "out"], type=str, default=None, help="Run folder [default: runs/MODEL-DATASET]"),
        click.Option(["--config", "config_file"], type=click.Path(dir_okay=False), default=None,
                     help="YAML file of settings (flat, or a run's config.yaml); flags override it."),
        click.Option(["--resume", "resume"], is_flag=False, flag_value="__out__", default=None,
                     help="Continue the run in --out exactly where its last checkpoint stopped, or the "
                          "run folder / checkpoint given."),
        click.Option(["--print-config", "print_config"], is_flag=True, help="Print the resolved config and exit."),
    ]

    def run(**kwargs):
        _train(model_name, kwargs)

    return click.Command(model_name, params=params, callback=run,
                         help=f"Train {model_name}: {model_cls.paper}",
                         context_settings={"max_content_width": 110})


@cli.group("train", cls=TrainCommands)
def train_group():
    """Train a model: `ganthology train MODEL [--steps N] [--dataset NAME] ...`."""


def _train(model_name: str, kw: dict) -> None:
    from .api import prepare_run

    settings = {k: v for k, v in kw.items() if v is not None and k not in ("config_file", "resume", "print_config")}
    resume = kw["resume"]
    if resume == "__out__":  # bare --resume: the run in --out
        if not settings.get("out"):
            raise GanthologyError("--resume without a path needs --out RUN_FOLDER.")
        resume = settings["out"]
    trainer = prepare_run(model_name, settings, config_file=kw["config_file"], resume=resume,
                          allow_existing=kw["print_config"])
    if kw["print_config"]:
        click.echo(yaml.safe_dump(trainer.resolved_config(), sort_keys=False).rstrip())
        return
    out = trainer.fit()
    from lightning_fabric.utilities.rank_zero import rank_zero_only

    if rank_zero_only.rank == 0:
        click.echo(f"run folder: {out}  (samples/, checkpoints/last.pt, generator.safetensors, metrics.csv)")


# --- sample -----------------------------------------------------------------------------------
@cli.command("sample")
@click.argument("path")
@click.option("--n", "n", type=int, default=None, help="Number of images [default: 64; 1000 points for 2-D toy data].")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="Grid PNG to write (a scatter plot over the data for 2-D toy data) "
                   "[default: PATH/samples/sample.png for a run folder, else samples.png].")
@click.option("--nrow", type=int, default=None, help="Images per grid row [default: 8, or one class per column].")
@click.option("--individual", type=click.Path(file_okay=False), default=None,
              help="Also write each image as its own PNG into this folder (2-D toy data: points.csv).")
@click.option("--labels", type=str, default=None, help="Conditional models: class labels, e.g. 7 or 0,1,2.")
@click.option("--input", "input_path", type=click.Path(), default=None,
              help="Translation models: an input image or a folder of them.")
@click.option("--resize", is_flag=True, help="Translation models: resize inputs to the training size.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=str, default="cpu", show_default=True, help="cpu or cuda")
def sample_cmd(path, n, out, nrow, individual, labels, input_path, resize, seed, device):
    """Sample from a trained model: a run folder, a checkpoint or a generator export."""
    import torch

    from .api import load, read_model_inputs
    from .viz import match_channels, save_grid, save_images

    if n is not None and n < 1:
        raise GanthologyError("--n must be at least 1.")
    _check_device(device)
    model = load(path, device=device)
    torch.manual_seed(seed)
    p = Path(path)
    default_out = (p / "samples" / "sample.png") if p.is_dir() else Path("samples.png")
    if model.data.is_vector:
        if labels is not None or input_path is not None:
            raise GanthologyError(
                f"{model.name} was trained on the points of {model.data.name!r}; drop --labels and --input."
            )
        _sample_points(model, n or 1000, out or default_out, individual)
        return
    n = n or 64
    cond = {}
    names: list[str] = []
    if model.translate is None and model.inpaint is not None:
        raise GanthologyError(f"{model.name} fills holes in images; use 'ganthology inpaint {path} --input IMAGES "
                              "--out FOLDER'.")
    if model.translate is not None:
        if input_path is None:
            raise GanthologyError(f"{model.name} translates images: give --input IMAGE_OR_FOLDER.")
        A, paths = read_model_inputs(model, input_path, resize)
        names = [p.name for p in paths]
        images = model.translate(A)
        nrow = nrow or 8  # four input | output pairs per row
        grid = torch.stack([match_channels(A, images), images], 1).flatten(0, 1)  # input | output
    else:
        if labels is not None:
            if "y" not in model.conditions:
                raise GanthologyError(f"{model.name} is unconditional; drop --labels.")
            try:
                ys = [int(v) for v in labels.split(",")]
            except ValueError:
                raise GanthologyError(f"--labels takes integers separated by commas, not {labels!r}.") from None
            cond["y"] = torch.tensor([ys[i % len(ys)] for i in range(n)])
        images = model.sample(n, **cond)
        if nrow is None:
            nrow = model.data.num_classes if ("y" in model.conditions and labels is None) else 8
        grid = images
    grid_path = save_grid(grid, out or default_out, nrow=nrow)
    click.echo(f"wrote {grid_path}")
    if individual:
        written = save_images(images, individual)
        if names:  # keep the input file names for translated images
            for w, name in zip(written, names):
                w.rename(w.with_name(f"{Path(name).stem}.png"))
        click.echo(f"wrote {len(written)} images to {individual}")


def _sample_points(model, n: int, out: Path, individual: str | None) -> None:
    """Vector data: a scatter plot of n samples over the dataset's held-out points."""
    from .data import build_dataset
    from .viz import save_scatter

    points = model.sample(n).float().cpu()
    try:
        real = build_dataset(model.data.name, train=False).tensors["x"][:1000]
    except GanthologyError:  # data the package cannot rebuild: the samples alone
        real = None
    png = save_scatter(points, out, data=real, title=f"{model.name} on {model.data.name}, {n} samples")
    click.echo(f"wrote {png}")
    if individual:
        folder = Path(individual)
        folder.mkdir(parents=True, exist_ok=True)
        lines = [",".join(f"x{i}" for i in range(points.shape[1]))]
        lines += [",".join(f"{v:.6g}" for v in row) for row in points.tolist()]
        (folder / "points.csv").write_text("\n".join(lines) + "\n")
        click.echo(f"wrote {n} points to {folder / 'points.csv'}")


@cli.command("translate")
@click.argument("path")
@click.option("--input", "input_path", required=True, type=click.Path(),
              help="An image, or a folder of images (sub-folders kept).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the translations (PNG).")
@click.option("--direction", type=click.Choice(["AtoB", "BtoA"]), default=None,
              help="Two-domain models (cyclegan): which way to translate [AtoB].")
@click.option("--attributes", type=str, default=None,
              help="Attribute models (stargan): the target attributes, e.g. thick=1,red=0 (others kept).")
@click.option("--style", type=click.Path(), default=None,
              help="Style models (munit): a reference image of the target domain whose style every output takes.")
@click.option("--outputs", type=click.IntRange(min=1), default=1, show_default=True,
              help="One-to-many models (munit, bicyclegan): translations per input, written as one row.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the codes one-to-many models draw.")
@click.option("--resize", is_flag=True, help="Resize inputs to the size the model was trained on.")
@click.option("--device", type=str, default="cpu", show_default=True, help="cpu or cuda")
def translate_cmd(path, input_path, out, direction, attributes, style, outputs, seed, resize, device):
    """Translate your images with an image-to-image model (a run folder, checkpoint or export):
    one PNG per input, under its name, in --out."""
    from .api import translate

    _check_device(device)
    written = translate(path, input_path, out, resize=resize, device=device, direction=direction,
                        attributes=attributes, style=style, outputs=outputs, seed=seed)
    click.echo(f"wrote {len(written)} translation(s) to {out}")


@cli.command("upscale")
@click.argument("path")
@click.option("--input", "input_path", required=True, type=click.Path(),
              help="An image, or a folder of images, of any sizes (sub-folders kept).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the upscaled images (PNG).")
@click.option("--alpha", type=click.FloatRange(0, 1), default=None,
              help="ESRGAN: network interpolation from the PSNR-oriented (0) to the GAN generator (1) [1].")
@click.option("--device", type=str, default="cpu", show_default=True, help="cpu or cuda")
def upscale_cmd(path, input_path, out, alpha, device):
    """Upscale your images with a super-resolution model (srgan, srresnet, esrgan): any size its
    fully convolutional generator accepts; one PNG per input, under its name, in --out."""
    from .api import upscale

    _check_device(device)
    written = upscale(path, input_path, out, device=device, alpha=alpha)
    click.echo(f"wrote {len(written)} upscaled image(s) to {out}")


@cli.command("inpaint")
@click.argument("path")
@click.option("--input", "input_path", required=True, type=click.Path(),
              help="An image, or a folder of images (sub-folders kept).")
@click.option("--mask", default="center", show_default=True,
              help="center, random (one hole per image, from --seed) or a mask image, white where to fill.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the filled images (PNG).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random holes.")
@click.option("--resize", is_flag=True, help="Resize inputs to the size the model was trained on.")
@click.option("--device", type=str, default="cpu", show_default=True, help="cpu or cuda")
def inpaint_cmd(path, input_path, mask, out, seed, resize, device):
    """Fill holes in your images with an inpainting model (context_encoder, ccgan): one PNG per
    input, under its name, in --out."""
    from .api import inpaint

    _check_device(device)
    written = inpaint(path, input_path, out, mask=mask, seed=seed, resize=resize, device=device)
    click.echo(f"wrote {len(written)} filled image(s) to {out}")


@cli.command("studio")
@click.argument("runs_dir", default="runs", type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; 0.0.0.0 exposes it to the network.")
@click.option("--port", type=int, default=7860, show_default=True)
@click.option("--device", type=str, default="cpu", show_default=True, help="cpu or cuda")
def studio_cmd(runs_dir, host, port, device):
    """A local web page to look at your runs and use the models: sample, move codes, interpolate,
    translate, upscale, inpaint and invert your own images (needs pip install -e ".[studio]")."""
    from .studio import serve

    _check_device(device)
    click.echo(f"ganthology studio on http://{host}:{port}  (Ctrl-C stops it)")
    serve(runs_dir, host, port, device)


@cli.command("report")
@click.argument("path", type=click.Path(file_okay=False))
def report_cmd(path):
    """Write RUN/report.html: one self-contained page with the config, the losses, the sample grids
    over training and the evaluations (the trainer also writes it at the end of every run)."""
    from .viz.report import write_report

    click.echo(f"wrote {write_report(path)}")


@cli.command("export")
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript"]), default="onnx", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="The file to write [default: generator.onnx / generator.torchscript.pt in the run folder].")
def export_cmd(path, fmt, out):
    """Export a trained model's sampling function (generate, translate, upscale or inpaint) to run
    outside Python: ONNX (onnxruntime, ...) or TorchScript (torch.jit.load, C++)."""
    from .api import load
    from .export import FORMATS, export_model
    from .train.checkpoint import writable

    model = load(path)
    if out is None:
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        out = folder / f"generator{FORMATS[fmt]}"
    writable(out, folder=False)
    click.echo(f"wrote {export_model(model, fmt, out)}")


def _check_device(device: str) -> None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise GanthologyError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu.")


# --- info -------------------------------------------------------------------------------------
@cli.command("info")
@click.argument("path")
def info_cmd(path):
    """What a checkpoint, run folder or generator export holds."""
    from .api import load

    model = load(path)
    cls = get_model(model.name)
    click.echo(f"model       {model.name}  ({cls.paper})")
    click.echo(f"file        {model.source}")
    d = model.data
    shape = f"{d.dim}-D points" if d.is_vector else f"{d.channels}x{d.image_size}x{d.image_size}"
    click.echo(f"data        {d.name}: {shape}"
               + (f", {d.num_classes} classes" if d.num_classes else "") + (", paired" if d.paired else ""))
    for line in d.describe().splitlines():  # what a batch holds: key, role, shape, aligned group
        click.echo(f"batch       {line}")
    for name, module in model.named_children():
        n = sum(p.numel() for p in module.parameters())
        click.echo(f"network     {name}: {n:,} parameters")
    if model.checkpoint_meta is not None:
        m, t = model.checkpoint_meta, model.run_config["train"]
        click.echo(f"step        {m['step']}  (epoch {m['epoch']}, "
                   f"{m['world_size']} process(es), seed {t['seed']}, precision {t['precision']})")
        click.echo(f"optimizers  {', '.join(m['optimizers'])}")
    else:
        click.echo("kind        generator export (sampling networks only)")
    click.echo("config      " + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(model.cfg).items()))


# --- evaluation -------------------------------------------------------------------------------
@cli.group("evaluator")
def evaluator_group():
    """Feature networks for metrics: `ganthology evaluator train mnist-lenet`."""


@evaluator_group.command("list")
def evaluator_list():
    """The evaluators, and whether each is trained (cached) or its weights are present."""
    import json

    from .metrics import EVALUATORS, evaluator_path

    for name, spec in EVALUATORS.items():
        path = evaluator_path(name)
        if spec.kind == "inception":
            state = f"weights {'found' if path.is_file() else 'not found'} at {path}"
        elif path.with_suffix(".json").is_file():
            meta = json.loads(path.with_suffix(".json").read_text())
            state = f"trained, test accuracy {meta['test_accuracy']:.2%}  ({path})"
        else:
            state = "not trained"
        click.echo(f"{name:15} on {spec.dataset or 'any RGB':14} {state}")


@evaluator_group.command("train")
@click.argument("name")
@click.option("--data-root", default=None, help="Folder holding the dataset [default: $GANTHOLOGY_DATA].")
@click.option("--seed", type=int, default=0, show_default=True)
def evaluator_train(name, data_root, seed):
    """Train an evaluator on its dataset, check its test accuracy and cache it."""
    from .metrics import train_evaluator

    ev = train_evaluator(name, data_root, seed=seed, log=click.echo)
    click.echo(f"cached {name} (test accuracy {ev.meta['test_accuracy']:.2%})")


@cli.command("eval")
@click.argument("path")
@click.option("--evaluator", "evaluator_name", default=None,
              help="Feature network [default: the one trained on the model's dataset, else inception-v3].")
@click.option("--metrics", "metrics", default=None,
              help="Comma-separated subset of fd,kid,is,pr,classes,accuracy,psnr,ssim,l1,heldout [default: all that apply].")
@click.option("--n", "n", type=int, default=10_000, show_default=True, help="Number of samples of a model; for a model that translates, how many held-out items it is scored on.")
@click.option("--reference", default=None,
              help="Dataset whose test split is the real set [default: the evaluator's, else the model's].")
@click.option("--data-root", default=None, help="Where the datasets live [default: $GANTHOLOGY_DATA].")
@click.option("--inception-weights", default=None, type=click.Path(dir_okay=False),
              help="Inception-v3 weights file (torch-fidelity's) for --evaluator inception-v3.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the numbers [default: RUN/eval_EVALUATOR.json, or ./eval_EVALUATOR.json].")
def eval_cmd(path, evaluator_name, metrics, n, reference, data_root, inception_weights, seed, json_path):
    """Score a trained model (run folder, checkpoint or export), or a folder / .npz of images,
    against real test images. Prints a table and writes a JSON file."""
    import json

    from .api import EVAL_META, evaluate

    record = evaluate(path, metrics, evaluator_name, n, reference, data_root, inception_weights, seed)
    for k, v in record.items():
        if k not in EVAL_META:
            click.echo(f"{k:28} {v:.4f}" if isinstance(v, float) else f"{k:28} {v}")
    p = Path(path)
    is_run = p.is_dir() and "model" in record
    out = Path(json_path) if json_path else (p if is_run else Path(".")) / f"eval_{record['scored_by']}.json"
    out.write_text(json.dumps(record, indent=2))
    click.echo(f"wrote {out}")


@cli.command("bench")
@click.argument("models", nargs=-1)
@click.option("--steps", type=int, default=500, show_default=True, help="Training steps per model.")
@click.option("--dataset", default=None, help="Dataset for every model [default: each model's default].")
@click.option("--n", "n", type=int, default=10_000, show_default=True, help="Samples scored per model.")
@click.option("--out", default="runs/bench", show_default=True, type=click.Path(file_okay=False),
              help="Where the runs and their bench.json records go.")
@click.option("--docs", default="docs/results.md", show_default=True, type=click.Path(dir_okay=False),
              help="Markdown file whose bench table is regenerated; the records are kept in bench/ beside it.")
@click.option("--data-root", default=None, help="Where the datasets live [default: $GANTHOLOGY_DATA].")
@click.option("--minutes", type=float, default=None,
              help="Train each model for this much wall clock instead of --steps; the rows go to the equal-time table.")
@click.option("--ema", type=float, default=None, help="The trainer's --ema for every model [default: the trainer's].")
@click.option("--ema-rampup", type=float, default=None, help="The trainer's --ema-rampup for every model [default: the trainer's].")
@click.option("--augment", default=None, help="The trainer's --augment for every model [default: the trainer's].")
@click.option("--table-only", is_flag=True, help="Only regenerate the table from the kept records (and any new ones under --out).")
def bench_cmd(models, steps, dataset, n, out, docs, data_root, minutes, ema, ema_rampup, augment, table_only):
    """Train MODELS (default: all) for a fixed budget, score them untrained and trained with the
    evaluator of their dataset, and regenerate the results tables of --docs."""
    from .bench import bench_model, write_table

    settings = {k: v for k, v in (("ema", ema), ("ema_rampup", ema_rampup), ("augment", augment)) if v is not None}

    if not table_only:
        names = list(models) or list_models()
        for name in names:
            get_model(name)  # unknown names fail before anything trains
        for name in names:
            try:
                bench_model(name, Path(out), steps, dataset, n, data_root, log=click.echo, minutes=minutes, **settings)
            except GanthologyError as e:
                if models:  # asked for by name: a real error
                    raise
                click.echo(f"skipped {name}: {e}")  # e.g. an image-only model on a 2-D toy dataset
                continue
            write_table(Path(out), Path(docs))  # after each model, so an interrupted bench keeps its rows
    rows = write_table(Path(out), Path(docs))
    click.echo(f"wrote {rows} rows to {docs}")


# --- latent space and representation -------------------------------------------------------------
@cli.group("latent")
def latent_group():
    """Walk, traverse, do arithmetic in and invert a trained generator's latent space (PNG out)."""


def _latent_setup(path, device, out, default_name):
    from .api import load
    from .latent import check_latent

    _check_device(device)
    model = load(path, device=device)
    check_latent(model)
    p = Path(path)
    return model, Path(out) if out else (p / "latent" if p.is_dir() else Path("latent")) / default_name


def _parse_labels(labels):
    import torch

    if labels is None:
        return None
    try:
        return torch.tensor([int(v) for v in labels.split(",")])
    except ValueError:
        raise GanthologyError(f"--labels takes integers separated by commas, not {labels!r}.") from None


def _latent_options(default_name):
    def wrap(f):
        for opt in reversed([
            click.argument("path"),
            click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
                         help=f"PNG to write [default: RUN/latent/{default_name}, or ./latent/{default_name}]."),
            click.option("--seed", type=int, default=0, show_default=True),
            click.option("--device", type=str, default="cpu", show_default=True, help="cpu or cuda"),
        ]):
            f = opt(f)
        return f
    return wrap


@latent_group.command("interpolate")
@_latent_options("interpolation.png")
@click.option("--rows", type=int, default=8, show_default=True, help="Number of paths (grid rows).")
@click.option("--steps", type=int, default=10, show_default=True, help="Images per path.")
@click.option("--mode", type=click.Choice(["slerp", "lerp"]), default="slerp", show_default=True,
              help="Spherical (stays where a Gaussian prior puts its mass) or linear.")
@click.option("--labels", default=None, help="Conditional models: one label per row, e.g. 0,1,2.")
def latent_interpolate(path, out, seed, device, rows, steps, mode, labels):
    """Rows of images along paths between pairs of random latent codes."""
    from .latent import interpolate
    from .viz import save_grid

    model, png = _latent_setup(path, device, out, "interpolation.png")
    images, nrow = interpolate(model, rows, steps, mode, seed, labels=_parse_labels(labels))
    click.echo(f"wrote {save_grid(images, png, nrow=nrow)}")


@latent_group.command("traverse")
@_latent_options("traverse.png")
@click.option("--code", required=True, help="Name of the code to vary (InfoGAN: digit, c1, c2).")
@click.option("--rows", type=int, default=8, show_default=True)
@click.option("--steps", type=int, default=10, show_default=True, help="Values of a continuous code.")
@click.option("--span", type=float, default=2.0, show_default=True,
              help="A continuous code goes from -span to span (InfoGAN's figure 2: 2, past its training range).")
def latent_traverse(path, out, seed, device, code, rows, steps, span):
    """Vary one named code of the latent (InfoGAN) and keep the rest fixed, one row per draw."""
    from .latent import traverse
    from .viz import save_grid

    model, png = _latent_setup(path, device, out, f"traverse_{code}.png")
    images, nrow = traverse(model, code, rows, steps, span, seed)
    click.echo(f"wrote {save_grid(images, png, nrow=nrow)}")


def _codes(model, spec, what, n, seed, method, resize, steps, labels=None):
    """Codes of a concept: sample indices of `ganthology sample --n N --seed S` ("3,17,40"), or
    images (a file or folder) found by inversion."""
    from .api import read_model_inputs
    from .latent import invert, pool_codes

    if spec is None:
        raise GanthologyError(f"give {what}: sample indices such as 3,17,40 or an image file / folder.")
    if Path(spec).exists():
        x, _ = read_model_inputs(model, spec, resize)
        z, report = invert(model, x, method=method, steps=steps, seed=seed, labels=labels)
        click.echo(f"{what}: {len(x)} images inverted ({method}), reconstruction PSNR {report['psnr']:.1f} dB")
        return z
    try:
        idx = [int(v) for v in spec.split(",")]
    except ValueError:
        raise GanthologyError(f"{what} {spec!r} is neither an existing image path nor sample indices like 3,17,40.") from None
    return pool_codes(model, idx, n, seed)


_INVERT_OPTIONS = [
    click.option("--method", type=click.Choice(["optimize", "encoder", "hybrid"]), default="optimize",
                 show_default=True, help="How images become codes: gradient descent, the model's encoder, or both."),
    click.option("--steps", "opt_steps", type=int, default=300, show_default=True, help="Optimization steps."),
    click.option("--resize", is_flag=True, help="Resize input images to the model's size."),
]


def _invert_options(f):
    for opt in reversed(_INVERT_OPTIONS):
        f = opt(f)
    return f


@latent_group.command("arithmetic")
@_latent_options("arithmetic.png")
@click.option("--a", "a", default=None, help="Concept A: sample indices (3,17,40) or images.")
@click.option("--b", "b", default=None, help="Concept B, subtracted.")
@click.option("--c", "c", default=None, help="Concept C, added.")
@click.option("--n", "n", type=int, default=64, show_default=True,
              help="Sample indices refer to the grid of 'ganthology sample RUN --n N --seed SEED'.")
@_invert_options
def latent_arithmetic(path, out, seed, device, a, b, c, n, method, opt_steps, resize):
    """A - B + C on mean latent codes (DCGAN, section 6.3). Writes one row: mean A, mean B, mean C,
    the result, and codes near the result."""
    from .latent import arithmetic
    from .viz import save_grid

    model, png = _latent_setup(path, device, out, "arithmetic.png")
    za, zb, zc = (_codes(model, spec, name, n, seed, method, resize, opt_steps)
                  for spec, name in ((a, "--a"), (b, "--b"), (c, "--c")))
    images, _ = arithmetic(model, za, zb, zc, seed=seed)
    click.echo(f"wrote {save_grid(images, png, nrow=len(images))}  (A, B, C, A - B + C, then its neighbours)")


@latent_group.command("invert")
@_latent_options("inversion.png")
@click.option("--input", "input_path", required=True, type=click.Path(), help="An image or a folder of them.")
@click.option("--labels", default=None, help="Conditional models: the label of each input image.")
@click.option("--save-codes", type=click.Path(dir_okay=False), default=None, help="Also write the codes (.pt).")
@_invert_options
def latent_invert(path, out, seed, device, input_path, labels, save_codes, method, opt_steps, resize):
    """Find the latent code of each input image; writes input | reconstruction pairs and prints the
    reconstruction error."""
    import torch

    from .api import read_model_inputs
    from .latent import invert, reconstruct
    from .viz import save_grid

    model, png = _latent_setup(path, device, out, "inversion.png")
    x, _ = read_model_inputs(model, input_path, resize)
    y = _parse_labels(labels)
    z, report = invert(model, x, method=method, steps=opt_steps, seed=seed, labels=y)
    images, nrow = reconstruct(model, x, z, labels=y)
    click.echo(f"{len(x)} images, {method}: reconstruction MSE {report['mse']:.4f}, PSNR {report['psnr']:.2f} dB")
    click.echo(f"wrote {save_grid(images, png, nrow=nrow)}")
    if save_codes:
        torch.save(z.cpu(), save_codes)
        click.echo(f"wrote {save_codes}")


@latent_group.command("edit")
@_latent_options("edit.png")
@click.option("--input", "input_path", required=True, type=click.Path(), help="Images to edit.")
@click.option("--with", "with_path", required=True, type=click.Path(exists=True),
              help="Images that show the attribute.")
@click.option("--without", "without_path", required=True, type=click.Path(exists=True),
              help="Images that do not.")
@click.option("--strengths", default="-2,-1,0,1,2", show_default=True,
              help="Multiples of the attribute direction added to each code.")
@_invert_options
def latent_edit(path, out, seed, device, input_path, with_path, without_path, strengths, method, opt_steps, resize):
    """Move images along an attribute direction: mean code of --with images minus mean code of
    --without images, all found by inversion."""
    from .api import read_model_inputs
    from .latent import attribute_direction, edit, invert
    from .viz import save_grid

    try:
        ss = [float(v) for v in strengths.split(",")]
    except ValueError:
        raise GanthologyError(f"--strengths takes numbers separated by commas, not {strengths!r}.") from None
    model, png = _latent_setup(path, device, out, "edit.png")
    z_with = _codes(model, with_path, "--with", 64, seed, method, resize, opt_steps)
    z_without = _codes(model, without_path, "--without", 64, seed, method, resize, opt_steps)
    x, _ = read_model_inputs(model, input_path, resize)
    z, report = invert(model, x, method=method, steps=opt_steps, seed=seed)
    click.echo(f"--input: {len(x)} images inverted ({method}), reconstruction PSNR {report['psnr']:.1f} dB")
    images, nrow = edit(model, x, z, attribute_direction(z_with, z_without), ss)
    click.echo(f"wrote {save_grid(images, png, nrow=nrow)}  (input, then strengths {strengths})")


@cli.command("probe")
@click.argument("path")
@click.option("--features", "which", type=click.Choice(["D", "encoder"]), default="D", show_default=True,
              help="The discriminator's layers (DCGAN, section 5.1) or the encoder's code.")
@click.option("--n-train", type=int, default=5000, show_default=True, help="Labelled training images.")
@click.option("--n-test", type=int, default=10_000, show_default=True, help="Test images.")
@click.option("--data-root", default=None, help="Where the datasets live [default: $GANTHOLOGY_DATA].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the numbers [default: RUN/probe_FEATURES.json, or ./probe_FEATURES.json].")
def probe_cmd(path, which, n_train, n_test, data_root, seed, json_path):
    """Linear-classifier accuracy on a trained model's features, against the same network untrained
    and against raw pixels."""
    import json

    from .api import load
    from .probe import probe

    if n_train < 10 or n_test < 1:
        raise GanthologyError("--n-train must be at least 10 and --n-test at least 1.")
    model = load(path)
    result = probe(model, which, n_train, n_test, seed, data_root, log=click.echo)
    p = Path(path)
    dest = Path(json_path) if json_path else (p if p.is_dir() else Path(".")) / f"probe_{which}.json"
    dest.write_text(json.dumps(result, indent=2))
    click.echo(f"wrote {dest}")


# --- entry point ------------------------------------------------------------------------------
#: the range of each numeric option of the commands besides `train` (whose options are dataclass
#: fields, range-checked by config_fields.bounds): click refuses a value outside it, or NaN, in one
#: sentence before any work. A new numeric option needs an entry (tests/test_cli.py checks).
OPTION_BOUNDS = {"n": (1, 10**6), "nrow": (1, 1024), "seed": (0, 2**32 - 1), "steps": (1, 10**6), "opt_steps": (1, 10**6), "rows": (1, 256),
                 "outputs": (1, 64), "span": (0, 1000), "port": (1, 65535), "n_train": (1, 10**7), "n_test": (1, 10**7), "alpha": (0, 1),
                 "minutes": (1e-3, 10**7), "ema": (0, 0.999999), "ema_rampup": (0, 1)}


class Bounded(click.ParamType):
    """An int or float option that must be finite and lie in [lo, hi]."""

    def __init__(self, kind: type, lo: float, hi: float):
        self.kind, self.lo, self.hi = kind, lo, hi
        self.name = kind.__name__

    def convert(self, value, param, ctx):
        import math

        from .config_fields import describe

        try:
            v = value if isinstance(value, self.kind) and not isinstance(value, bool) else self.kind(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not {'an integer' if self.kind is int else 'a number'}", param, ctx)
        if not math.isfinite(v) or not self.lo <= v <= self.hi:
            self.fail(f"{value!r} is out of range; give {describe(self.lo, self.hi)}", param, ctx)
        return v


#: the options that name where a command writes: checked writable while the command line is read
OUTPUT_OPTIONS = ("out", "individual", "json_path", "save_codes", "docs")


def _check_output(ctx, param, value):
    from .train.checkpoint import writable

    if value is not None:
        writable(value, folder=not param.type.file_okay)
    return value


def _check_options(group: click.Group) -> None:
    """Give every numeric option of every command (but `train`'s) its range, and every output path
    its writability check."""
    for name, cmd in group.commands.items():
        if name == "train":
            continue
        if isinstance(cmd, click.Group):
            _check_options(cmd)
            continue
        for p in cmd.params:
            kind = {click.INT: int, click.FLOAT: float}.get(p.type)
            if kind is None and isinstance(p.type, (click.IntRange, click.FloatRange)):
                kind = int if isinstance(p.type, click.IntRange) else float
            if kind is not None and p.name in OPTION_BOUNDS:
                p.type = Bounded(kind, *OPTION_BOUNDS[p.name])
            if p.name in OUTPUT_OPTIONS and isinstance(p.type, click.Path):
                p.callback = _check_output


_check_options(cli)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user mistakes become one line on stderr and a non-zero exit; warnings
    (missing VGG weights and their fallback, ...) one line each, without Python's file:line prefix."""
    import warnings

    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"
    try:
        rv = cli.main(args=argv, prog_name="ganthology", standalone_mode=False)
    except GanthologyError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)

    except click.exceptions.NoSuchOption as e:
        hint = f" (did you mean {', '.join(e.possibilities)}?)" if e.possibilities else ""
        cmd = e.ctx.command_path if e.ctx else "ganthology"
        click.echo(f"error: unknown option {e.option_name}{hint}; see '{cmd} --help'.", err=True)
        sys.exit(2)
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "ganthology"
        click.echo(f"error: {e.format_message().rstrip('.')}; see '{cmd} --help'.", err=True)
        sys.exit(2)
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted.", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
