"""The Python API: build a model, train it, load a trained one.

    import ganthology
    run = ganthology.train_model("dcgan", dataset="digits", steps=500, out="runs/quick")
    model = ganthology.load(run)          # a run folder, a checkpoint or a generator export
    images = model.sample(16)             # (16, C, H, W) in [-1, 1]
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .errors import GanthologyError
from .models.base import DataInfo, GANModel
from .registry import get_model


def make_config(model_name: str, **overrides):
    """The model's Config with the paper's defaults, some fields replaced; an unknown field, or a
    numeric one that is not finite or outside its range (config_fields.bounds), is refused."""
    cls = get_model(model_name).Config
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise GanthologyError(
            f"{model_name} has no setting {unknown[0]!r}; its settings are: {', '.join(sorted(names))}."
        )
    _check_fields(cls, overrides)
    return cls(**overrides)


def build_model(model_name: str, config: dict, data: dict | DataInfo) -> GANModel:
    """A model from its name, a config dict (as stored in checkpoints) and its data description."""
    cls = get_model(model_name)
    info = data if isinstance(data, DataInfo) else DataInfo(**data)
    return cls(make_config(model_name, **config), info)


def _rebuild(record: dict, path: Path) -> GANModel:
    """The model a checkpoint or export describes (`model`, `config.model_config`, `data`), each part
    checked, so that a file of the right format but the wrong content is refused in one sentence."""
    from .config_fields import check_range, coerce, field_specs
    from .errors import check_size, settings_guard

    name, config = record.get("model"), record.get("config")
    mc = config.get("model_config") if isinstance(config, dict) else None
    if not isinstance(name, str) or not isinstance(mc, dict) or not isinstance(record.get("data"), dict):
        raise GanthologyError(f"{path} does not say which model it holds (model, config or data missing).")
    cls = get_model(name)
    specs = {s.name: s for s in field_specs(cls.Config)}
    values = {}
    for k, v in mc.items():
        if k not in specs:
            raise GanthologyError(f"{path} holds a {name} setting {k!r} that this version does not know.")
        values[k] = coerce(specs[k], v, str(path))
        check_range(cls.Config, specs[k], values[k], f"{path}: ")
    try:
        info = DataInfo(**record["data"])
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        raise GanthologyError(f"{path} holds a damaged data description ({type(e).__name__}).") from None
    check_size(name, lambda: cls(cls.Config(**values), info))
    with settings_guard(name):
        return cls(cls.Config(**values), info)


def train_model(model_name: str, resume: str | Path | None = None, config_file: str | None = None,
                **settings) -> Path:
    """Train `model_name` and return the run folder. Keyword arguments are TrainConfig fields
    (dataset, steps, out, ...) or fields of the model's Config (lr, batch_size, ...); `config_file`
    a YAML file of the same; `resume` a run folder or checkpoint to continue exactly."""
    return prepare_run(model_name, settings, config_file=config_file, resume=resume).fit()


# Settings that may differ when a run is resumed: its length, its hardware, its bookkeeping.
RESUMABLE_CHANGES = {"steps", "epochs", "minutes", "device", "devices", "precision", "log_every", "sample_every",
                     "ckpt_every", "ckpt_minutes", "keep_last", "progress", "out", "data_root", "eval_every",
                     "eval_n"}


def prepare_run(model_name: str, settings: dict, config_file: str | None = None,
                resume: str | Path | None = None, allow_existing: bool = False):
    """The Trainer for a new run (defaults < the model's train_defaults < YAML file < `settings`) or
    for a resumed one (the checkpoint's config, with only RESUMABLE_CHANGES taken from `settings`)."""
    from .config_fields import field_specs
    from .train import TrainConfig, Trainer
    from .train.checkpoint import load_checkpoint
    from .train.trainer import resolve_run

    cls = get_model(model_name)
    train_specs, model_specs = field_specs(TrainConfig), field_specs(cls.Config)
    known = {s.name: s for s in (*train_specs, *model_specs)}
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise GanthologyError(f"{model_name} has no setting {unknown[0]!r}; see 'ganthology train {model_name} --help'.")
    tnames = {s.name for s in train_specs}

    if resume is not None:
        ckpt_path = resolve_run(resume)
        ckpt = load_checkpoint(ckpt_path)
        if ckpt["model"] != model_name:
            raise GanthologyError(
                f"{ckpt_path} is a checkpoint of {ckpt['model']!r}, not {model_name!r}; "
                f"resume it with 'ganthology train {ckpt['model']} --resume {resume}'."
            )
        fixed = sorted(k for k, v in settings.items() if k not in RESUMABLE_CHANGES
                       and v != {**ckpt["config"]["train"], **ckpt["config"]["model_config"]}.get(k))
        if fixed:
            raise GanthologyError(
                f"--{fixed[0].replace('_', '-')} cannot change when resuming; a resumed run keeps its "
                "config (only steps/epochs, devices, precision and logging intervals may change)."
            )
        _check_ranges(cls, settings)
        tvals = {**ckpt["config"]["train"], **{k: v for k, v in settings.items() if k in RESUMABLE_CHANGES}}
        if "out" not in settings:
            tvals["out"] = str(ckpt_path.parent.parent)  # RUN/checkpoints/last.pt -> RUN
        return Trainer(model_name, cls.Config(**ckpt["config"]["model_config"]), TrainConfig(**tvals),
                       resume=ckpt_path)

    values = dict(cls.train_defaults)  # the model's own trainer defaults, then the file, then the flags
    values.update(_read_yaml(config_file, known) if config_file else {})
    values.update(settings)
    _check_ranges(cls, values)
    tcfg = TrainConfig(**{k: v for k, v in values.items() if k in tnames})
    mcfg = cls.Config(**{k: v for k, v in values.items() if k not in tnames})
    tcfg.dataset = tcfg.dataset or cls.default_dataset
    tcfg.out = tcfg.out or f"runs/{model_name}-{tcfg.dataset.replace(':', '_').replace('/', '_')}"
    if (Path(tcfg.out) / "checkpoints" / "last.pt").exists() and not allow_existing:
        raise GanthologyError(f"{tcfg.out} already holds a run; continue it with --resume, or choose another --out.")
    if not allow_existing:
        from .train.checkpoint import writable

        writable(tcfg.out, folder=True)  # before the data and the model are built
    return Trainer(model_name, mcfg, tcfg)


def _check_ranges(cls, values: dict) -> None:
    """Every numeric setting given is finite and in its range (config_fields.bounds), before any work."""
    from .train import TrainConfig

    for owner in (TrainConfig, cls.Config):
        _check_fields(owner, values)


def _check_fields(owner, values: dict) -> None:
    """The fields of `owner` (TrainConfig or a model's Config) that `values` gives, range-checked."""
    from .config_fields import check_range, field_specs

    for spec in field_specs(owner):
        if spec.name in values:
            check_range(owner, spec, values[spec.name])


def _read_yaml(path: str, known: dict) -> dict:
    """Settings from a YAML file: flat `name: value`, or a run's config.yaml (two sections)."""
    import yaml

    from .config_fields import coerce

    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise GanthologyError(f"cannot read config file {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise GanthologyError(f"config file {path} must hold a mapping of setting: value.")
    flat = {}
    for k, v in doc.items():
        if k in ("train", "model_config") and isinstance(v, dict):
            flat.update(v)
        elif k != "model":
            flat[k] = v
    out = {}
    for k, v in flat.items():
        key = k.replace("-", "_")
        if key not in known:
            raise GanthologyError(f"{path}: unknown setting {k!r}; see 'ganthology train MODEL --help'.")
        out[key] = coerce(known[key], v, path)
    return out


def load(path: str | Path, device: str | torch.device = "cpu", ema: bool = True) -> GANModel:
    """A trained model, ready to `sample()`, in eval mode, with `run_config` (the run's settings) and
    `checkpoint_meta` (step, epoch, processes, optimizer names; None for an export).
    A run trained with `--ema` samples from its weight average; `ema=False` gives a checkpoint's live
    (last-iterate) weights instead (an export holds only the average).

    `path`: a run folder (its checkpoint, else its generator export), a `.pt` checkpoint, or a
    `generator.safetensors` / `generator.json` export (which holds only the sampling networks)."""
    from .train.checkpoint import load_checkpoint, load_export

    p = Path(path)
    if p.is_dir():
        if (p / "checkpoints" / "last.pt").is_file():
            p = p / "checkpoints" / "last.pt"
        elif (p / "generator.safetensors").is_file():
            p = p / "generator.safetensors"
        else:
            raise GanthologyError(f"{path} holds neither checkpoints/last.pt nor generator.safetensors.")
    if not p.exists():
        raise GanthologyError(f"{path} does not exist; give a run folder, a .pt checkpoint or a generator export.")
    if p.suffix in (".safetensors", ".json"):
        meta, tensors = load_export(p)
        model = _rebuild(meta, p)
        model.run_config = meta["config"]
        model.checkpoint_meta = None  # an export holds no training state
        for name in model.sampling_modules:
            prefix = f"{name}."
            sub = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            _load_into(getattr(model, name), sub, p)
    else:
        ckpt = load_checkpoint(p)
        model = _rebuild(ckpt, p)
        model.run_config = ckpt["config"]
        # where training stood, for `ganthology info`; the optimizer states themselves stay behind
        model.checkpoint_meta = {"step": ckpt["step"], "epoch": ckpt["loader"].get("epoch"),
                                 "world_size": ckpt["world_size"], "optimizers": list(ckpt["optimizers"])}
        _load_into(model, ckpt["state"], p)
        if ema and ckpt.get("ema") is not None:
            _load_into(model, ckpt["ema"], p, strict=False)
    model.to(device).eval()
    model.source = str(p)
    return model


def _load_into(module: torch.nn.Module, state: dict, path: Path, strict: bool = True) -> None:
    try:
        if not isinstance(state, dict):
            raise TypeError
        result = module.load_state_dict(state, strict=strict)
        if not strict and result.unexpected_keys:  # a partial state (the EMA) names only what exists
            raise KeyError(result.unexpected_keys[0])
    except (RuntimeError, TypeError, AttributeError, ValueError, KeyError):
        raise GanthologyError(
            f"the weights in {path} do not fit the network its config describes (file edited or from "
            "another version of ganthology)."
        ) from None


def holds_images(path: str | Path) -> bool:
    """Whether `path` is images to score (a .npz, or a folder that is not a run) rather than a model."""
    p = Path(path)
    return p.suffix == ".npz" or (p.is_dir() and not (p / "checkpoints").is_dir()
                                  and not (p / "generator.safetensors").is_file())


def evaluate(path: str | Path, metrics: str | None = None, evaluator: str | None = None, n: int = 10_000,
             reference: str | None = None, data_root: str | None = None, inception_weights: str | None = None,
             seed: int = 0) -> dict:
    """Score `path` and return the record `ganthology eval` prints and writes: a trained model (run
    folder, checkpoint or export) by its samples, or by its own claim on the test split
    (`metrics="heldout"`; always for a model that translates), or a folder / .npz of images. `metrics`: comma-separated names (fd, kid,
    is, pr, classes, accuracy, psnr, ssim, l1, heldout); None for all that apply. What is measured follows from the model
    and its data: mode coverage for the 2-D toys, the model's declared `scores` for translation, an
    evaluator's FD/KID/IS/precision/recall otherwise. `scored_by` names what scored it (the
    evaluator, heldout or modes); the keys not in EVAL_META are the numbers."""
    from .metrics import load_evaluator
    from .metrics.evaluate import (default_evaluator, evaluate_model, held_out_metrics, load_images,
                                   parse_metrics, score_images)

    chosen = parse_metrics(metrics)
    if n < 2:
        raise GanthologyError("--n must be at least 2.")
    p = Path(path)
    record: dict = {"source": str(p)}
    if holds_images(p):
        ev = load_evaluator(evaluator or default_evaluator(reference), inception_weights)
        images = load_images(p)
        ref_name = reference or ev.spec.dataset
        results = score_images(ev, images, None, None, chosen, ref_name, data_root, seed)
        record |= {"images": len(images)}
    else:
        ev = load_evaluator(evaluator, inception_weights) if evaluator else None  # check it first
        model = load(path)
        record |= {"model": model.name, "source": model.source}
        ref_name = model.data.name
        if chosen == ("heldout",):  # the model's own claim on the test split: no evaluator, no samples
            results = held_out_metrics(model, data_root, n)
            if not results:
                raise GanthologyError(f"{model.name} reports no held-out numbers (it has no encoder, classifier "
                                      "or clustering); score its samples with the other metrics.")
            ev = None
        else:
            if model.scored_by_claim or model.data.is_vector:
                ev = None  # scored without an evaluator: psnr/ssim/l1, or mode coverage
            else:
                ev = ev or load_evaluator(default_evaluator(model.data.name), inception_weights)
                ref_name = reference or ev.spec.dataset or model.data.name
            results = evaluate_model(model, ev, n=n, data_root=data_root, seed=seed, metrics=chosen,
                                     reference=ref_name)
            record |= {"n": results.pop("n", n), "seed": seed}
    if ev is not None:
        record |= {"evaluator": ev.name, "evaluator_test_accuracy": ev.meta.get("test_accuracy"),
                   "reference": ref_name}
    record["scored_by"] = ev.name if ev is not None else ("modes" if "modes" in results else "heldout")
    return record | results


def read_model_inputs(model: GANModel, path: str | Path, resize: bool = False,
                      **options) -> tuple[torch.Tensor, list[Path]]:
    """A user's images for an image-to-image model, as a batch in [-1, 1] on the model's device,
    and their files: one image, or every image under a folder. Converted to the channels
    `model.input_spec(**options)` names; an image of another size than the one it needs is refused
    in one sentence unless `resize` (a model that takes any size gets the images as they are, which
    must then share one size within a call)."""
    from .data.core import to_model_range

    imgs, paths = _read_images(model, path, resize, **options)
    if len({tuple(i.shape) for i in imgs}) > 1:
        raise GanthologyError(f"the images under {path} differ in size; give images of one size per call.")
    return to_model_range(torch.stack(imgs)).to(model.device), paths


def _read_images(model: GANModel, path: str | Path, resize: bool = False,
                 **options) -> tuple[list[torch.Tensor], list[Path]]:
    """read_model_inputs' images as a list of uint8 (C, H, W), each at its own size when the model
    takes any size."""
    from .data.core import resize_uint8
    from .data.folders import list_images, read_image

    p = Path(path)
    if not p.exists():
        raise GanthologyError(f"input {p} does not exist; give an image file or a folder of images.")
    paths = list_images(p) if p.is_dir() else [p]
    if not paths:
        raise GanthologyError(f"no images found in {p}.")
    c, s = model.input_spec(**options)
    mode = "L" if c == 1 else "RGB"
    imgs = []
    for f in paths:
        img = read_image(f, mode)
        if s is not None and img.shape[-2:] != (s, s):
            if not resize:
                raise GanthologyError(f"{f} is {img.shape[-1]}x{img.shape[-2]} but {model.name} was trained on "
                                      f"{s}x{s} images; resize it or pass --resize.")
            img = resize_uint8(img.unsqueeze(0), s)[0]
        imgs.append(img)
    return imgs, paths


def translation_options(model: GANModel, options: dict) -> dict:
    """The options given (None: not given) that `model.translate` takes; an option it does not take
    is refused in one sentence. An option annotated as a tensor (MUNIT's `style`) is an image: given
    as a path, it is read and passed as (1, C, H, W) in [-1, 1], in the file's own channels."""
    import inspect

    given = {k: v for k, v in options.items() if v is not None}
    params = inspect.signature(model.translate).parameters
    takes = set(params) - {"x"}
    for k in given:
        if k not in takes:
            offered = ", ".join(f"--{o}" for o in sorted(takes)) or "no options"
            raise GanthologyError(f"{model.name} takes no --{k} (it offers {offered}).")
        if "Tensor" in str(params[k].annotation) and not isinstance(given[k], torch.Tensor):
            given[k] = _read_reference(given[k], k)
    return given


def _read_reference(path, option: str) -> torch.Tensor:
    """An image option (a reference image) as (1, C, H, W) in [-1, 1]: grey files as 1 channel,
    others as RGB."""
    from .data.core import to_model_range
    from .data.folders import read_image

    p = Path(path)
    if not p.is_file():
        raise GanthologyError(f"--{option} {p} is not a file; give one image.")
    img = read_image(p)  # grey stays grey, anything else becomes RGB
    return to_model_range(img.unsqueeze(0))


def translate(path: str | Path, inputs: str | Path, out: str | Path, resize: bool = False,
              device: str = "cpu", batch_size: int = 64, outputs: int = 1, seed: int = 0,
              **options) -> list[Path]:
    """Translate a user's images (`inputs`: a file or a folder) with the image-to-image model at
    `path` (run folder, checkpoint or export) and write one PNG per input into the folder `out`,
    under the input's name (and sub-folder). `options` go to the model's `translate`: `direction`
    ("AtoB" or "BtoA") for two-domain models, `attributes` ("thick=1,red=0") for StarGAN, `style`
    (a reference image of the target domain) for MUNIT. A model that draws a code per translation
    (`multimodal`: MUNIT, BicycleGAN) gives `outputs` translations of each input, written as one
    row: the input, then the translations; `seed` fixes the codes. Every input is read and
    translated before anything is written, and each file is written atomically, so a bad input
    leaves `out` untouched."""
    model = load(path, device=device)
    if model.translate is None:
        raise GanthologyError(f"{path} holds a {model.name} model, which makes images from noise and does not "
                              f"translate; use 'ganthology sample {path}'.")
    if outputs < 1:
        raise GanthologyError(f"--outputs {outputs}: give how many translations per input, 1 or more.")
    if outputs > 1 and not model.multimodal:
        from .registry import get_model, list_models

        many = ", ".join(m for m in list_models() if get_model(m).multimodal)
        raise GanthologyError(f"{model.name} gives one translation per input; --outputs applies to the models "
                              f"that draw a code per translation ({many}).")
    return _apply(model, inputs, out, resize, batch_size, translation_options(model, options), outputs, seed)


def upscale(path: str | Path, inputs: str | Path, out: str | Path, device: str = "cpu",
            batch_size: int = 16, **options) -> list[Path]:
    """Upscale a user's images (a file or a folder) with the super-resolution model at `path`: one
    PNG per input in `out`, `upscale_factor` times larger, written as `translate` writes. `options`
    go to the model's `translate` (ESRGAN's `alpha`, its network interpolation weight)."""
    model = load(path, device=device)
    if model.upscale_factor <= 1:
        from .registry import get_model, list_models

        sr = ", ".join(m for m in list_models() if get_model(m).upscale_factor > 1)
        raise GanthologyError(f"{path} holds a {model.name} model, which does not upscale images; "
                              f"use a super-resolution model ({sr}).")
    return _apply(model, inputs, out, False, batch_size, translation_options(model, options))


def inpaint(path: str | Path, inputs: str | Path, out: str | Path, mask: str | Path = "center", seed: int = 0,
            resize: bool = False, device: str = "cpu", batch_size: int = 64) -> list[Path]:
    """Fill holes in a user's images (a file or a folder) with the inpainting model at `path`: one
    PNG per input in `out`, written as `translate` writes. `mask` is "center" (the model's square
    hole in the middle), "random" (one square hole per image at a position drawn from `seed`) or a
    black-and-white image, white where the image should be filled (resized to the model's size)."""
    from .data.masks import KINDS, read_mask

    model = load(path, device=device)
    if model.inpaint is None:
        from .registry import get_model, list_models

        holes = ", ".join(m for m in list_models() if get_model(m).inpaint is not None)
        raise GanthologyError(f"{path} holds a {model.name} model, which does not fill holes; use an inpainting "
                              f"model ({holes}).")
    side = model.input_spec()[1]
    user_mask = None if str(mask) in KINDS else read_mask(mask, side).to(model.device)
    g = torch.Generator().manual_seed(seed)

    def fill(x: torch.Tensor) -> torch.Tensor:
        m = user_mask.expand(len(x), -1, -1, -1) if user_mask is not None else model.masks(len(x), str(mask), g)
        return model.inpaint(x, m)

    return _apply(model, inputs, out, resize, batch_size, {}, fn=fill)


def _apply(model: GANModel, inputs: str | Path, out: str | Path, resize: bool, batch_size: int,
           options: dict, outputs: int = 1, seed: int = 0, fn=None) -> list[Path]:
    """Read every input, map each batch of one size with `fn` (default: `model.translate` with
    `options`), then write one PNG per input."""
    from .data.core import to_model_range, to_uint8
    from .train.checkpoint import atomic_write
    from .viz.grid import _write_png

    fn = fn or (lambda xb: model.translate(xb, **options))
    imgs, files = _read_images(model, inputs, resize, **options)
    root = Path(inputs) if Path(inputs).is_dir() else Path(inputs).parent
    targets = [Path(out) / f.relative_to(root).with_suffix(".png") for f in files]
    if len(set(targets)) < len(targets):
        raise GanthologyError(f"two inputs under {inputs} share a name apart from their suffix; rename one.")
    y: list[torch.Tensor] = [torch.empty(0)] * len(imgs)
    by_size: dict[tuple, list[int]] = {}  # a model that takes any size (srgan) gets each size as a batch
    for i, img in enumerate(imgs):
        by_size.setdefault(tuple(img.shape), []).append(i)
    with torch.no_grad():
        for idx in by_size.values():
            x = to_model_range(torch.stack([imgs[i] for i in idx])).to(model.device)
            outs = []
            for k in range(outputs):  # the k-th translation of every input draws its codes from seed + k
                torch.manual_seed(seed + k)
                outs.append(torch.cat([fn(xb) for xb in x.split(batch_size)]).cpu())
            if outputs == 1:
                rows = outs[0]
            else:  # one row per input: the input, then its translations
                from .viz import match_channels

                rows = torch.cat([match_channels(x.cpu(), outs[0]), *outs], dim=-1)
            for i, o in zip(idx, to_uint8(rows)):
                y[i] = o
    for img, target in zip(y, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda tmp, img=img: _write_png(img, tmp))
    return targets


#: the keys of an `evaluate()` record that say what was scored and how; the rest are the numbers
EVAL_META = ("source", "model", "images", "n", "seed", "evaluator", "evaluator_test_accuracy", "reference",
             "scored_by")
