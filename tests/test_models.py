"""Registry-generated: every registered model is tested the day it is registered."""
from __future__ import annotations

import dataclasses

import pytest
import torch

import ganthology
from ganthology.data import InMemoryLoader, build_dataset
from ganthology.models.base import DataInfo, GANModel
from ganthology.train.checkpoint import export_generator

from .conftest import offline_dataset_for as _data_for, tiny

MODELS = ganthology.list_models()


def _build(name: str, seed: int = 0):
    cls = ganthology.get_model(name)
    data = build_dataset(_data_for(cls))
    torch.manual_seed(seed)
    model = cls(ganthology.make_config(name, **tiny(name)), data.info())
    model.bind_data(data)  # as the trainer does (sgan keeps labelled examples)
    loader = InMemoryLoader(data, model.cfg.batch_size, seed=seed)
    return model, loader


def _sample(model, loader):
    if model.translate is not None:
        d = model.data  # the images it translates: an input, one domain, or images with attributes
        batch = loader.fixed_batch(4)
        if model.upscale_factor > 1:  # super-resolution: the low-resolution copies, made if the data has none
            lr = d.key("low-resolution input")
            return model.translate(batch[lr] if lr else torch.nn.functional.interpolate(
                batch[d.key("image")], scale_factor=1 / model.upscale_factor, mode="bicubic", antialias=True))
        return model.translate(batch[d.key("input") or d.key("domain A") or d.key("image")])
    if model.inpaint is not None:
        x = loader.fixed_batch(4)[model.data.key("image")]
        return model.inpaint(x, model.masks(len(x)))
    if not model.generates:  # no images: the held-out scores of a fixed batch stand for its outputs
        return torch.tensor(list(model.held_out_metrics(loader.fixed_batch(16)).values()))
    return model.sample(4)


def test_registry_has_the_foundation_models():
    assert {"gan", "dcgan", "wgan_gp", "cgan", "pix2pix"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_model_is_documented(name):
    cls = ganthology.get_model(name)
    assert issubclass(cls, GANModel) and cls.name == name
    assert "arXiv:" in cls.paper and cls.year > 2000
    assert cls.kind() in ("unconditional", "conditional", "translation", "inpainting", "adaptation")
    if not cls.generates:  # a model that makes no images is judged by the scores it declares
        assert cls.scores, f"{name} makes no images and declares no scores to judge it by"
    doc = __import__(cls.__module__, fromlist=["_"]).__doc__
    assert doc and "arXiv:" in doc, "a model file starts with the paper's title, authors, year, arXiv id"
    assert dataclasses.is_dataclass(cls.Config) and "batch_size" in {f.name for f in dataclasses.fields(cls.Config)}


@pytest.mark.parametrize("name", MODELS)
def test_one_train_step_changes_every_optimized_parameter(name):
    model, loader = _build(name)
    model.train()
    before = {k: v.clone() for k, v in model.named_parameters()}

    def unchanged() -> list[str]:
        """The optimizers that have not yet changed any of their parameters."""
        out = []
        for opt_name, opt in model.opt.items():
            ids = {id(p) for g in opt.param_groups for p in g["params"]}
            if not any(id(p) in ids and not torch.equal(p, before[k]) for k, p in model.named_parameters()):
                out.append(opt_name)
        return out

    # some players move only every few steps (WGAN's G every n_critic-th, DiscoGAN's D every 3rd):
    # within 5 steps every optimizer must have moved
    for step in range(5):
        logs = model.train_step(loader.next(), step)
        assert logs, "train_step returns the losses it computed"
        for k, v in logs.items():
            assert v.dim() == 0 and torch.isfinite(v), f"{k} = {v}"
        if not unchanged():
            break
    assert not unchanged(), f"optimizers {unchanged()} changed no parameter in 5 steps"


@pytest.mark.parametrize("name", MODELS)
def test_sample_shape_and_range(name):
    model, loader = _build(name)
    model.eval()
    if not model.generates:
        with pytest.raises(ganthology.GanthologyError):
            model.sample(4)
        return
    x = _sample(model, loader)
    assert x.shape == (4, *model.sample_shape)
    assert torch.isfinite(x).all() and x.min() >= -1.0 and x.max() <= 1.0


@pytest.mark.parametrize("name", MODELS)
def test_generator_export_round_trip(name, tmp_path):
    model, loader = _build(name)
    model.train_step(loader.next(), 0)
    config = {"model": name, "model_config": dataclasses.asdict(model.cfg), "train": {}}
    export_generator(tmp_path, model, config)
    loaded = ganthology.load(tmp_path / "generator.safetensors")
    assert type(loaded) is type(model)
    model.eval()
    for net in model.sampling_modules:
        a, b = getattr(model, net).state_dict(), getattr(loaded, net).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    torch.manual_seed(3)
    x1 = _sample(model, loader)
    torch.manual_seed(3)
    x2 = _sample(loaded, loader)
    assert torch.equal(x1, x2), "the export samples exactly as the model it came from"


def test_conditional_sample_honours_labels():
    model, _ = _build("cgan")
    with pytest.raises(ganthology.GanthologyError):
        model.sample(2, y=torch.tensor([3, 10]))
    assert model.sample(3, y=torch.tensor([1, 2, 3])).shape[0] == 3


def test_models_refuse_data_they_cannot_use():
    unlabelled = DataInfo(name="folder:x", channels=3, image_size=32)
    with pytest.raises(ganthology.GanthologyError, match="labelled"):
        ganthology.build_model("cgan", {}, unlabelled)
    with pytest.raises(ganthology.GanthologyError, match="needs a dataset with input and target"):
        ganthology.build_model("pix2pix", {}, unlabelled)


@pytest.mark.parametrize("name", ["dcgan", "bigan"])
def test_the_noise_option_sets_the_prior(name):
    """`noise` (uniform | normal) picks GANModel's prior; anything else is refused."""
    digits = DataInfo(name="digits", channels=1, image_size=16, num_classes=10)
    torch.manual_seed(0)
    uniform = ganthology.build_model(name, {"noise": "uniform"}, digits)
    z = uniform.noise(4000)
    assert uniform.z_in_unit_box and z.min() >= -1 and z.max() <= 1 and abs(float(z.std()) - 3 ** -0.5) < 0.02
    normal = ganthology.build_model(name, {"noise": "normal"}, digits)
    z = normal.noise(4000)
    assert not normal.z_in_unit_box and abs(float(z.std()) - 1) < 0.02 and z.abs().max() > 3
    with pytest.raises(ganthology.GanthologyError, match="uniform or normal"):
        ganthology.build_model(name, {"noise": "gaussian"}, digits)


def test_no_batchnorm_with_eps_as_momentum():
    """Known defect of the reference scripts: nn.BatchNorm2d(C, 0.8) sets eps=0.8."""
    for name in MODELS:
        model, _ = _build(name)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                assert m.eps <= 1e-3, f"{name}: BatchNorm eps {m.eps}"


@pytest.mark.parametrize("name", MODELS)
def test_every_config_field_is_used(name):
    """Known defect of the reference scripts: options that nothing reads (WGAN-GP's --clip_value).
    Each Config field must be read somewhere in the model's file, in a shared base class it
    builds on (models/pair.py), or by GANModel's Adam pair and prior where the model keeps them;
    batch_size by the trainer."""
    import inspect
    import re

    cls = ganthology.get_model(name)
    bases = [c for c in cls.__mro__ if issubclass(c, GANModel) and c is not GANModel]
    src = "\n".join(dict.fromkeys(inspect.getsource(inspect.getmodule(c)) for c in bases))
    if cls.optimizers is GANModel.optimizers:  # reads lr, beta1, beta2
        src += inspect.getsource(GANModel.optimizers)
    if cls.noise is GANModel.noise:  # its prior reads noise
        src += inspect.getsource(GANModel.prior.fget)
    body = src.replace(inspect.getsource(cls.Config), "")
    for f in dataclasses.fields(cls.Config):
        if f.name == "batch_size":
            continue
        assert re.search(rf"\.{f.name}\b", body), f"{name}: config field {f.name!r} is never used"


@pytest.mark.parametrize("name", MODELS)
def test_every_config_field_has_help(name):
    """Each Config field's comment is its `--help` line: the paper's value and where it comes from."""
    from ganthology.config_fields import field_specs

    blank = [s.name for s in field_specs(ganthology.get_model(name).Config) if not s.help.strip()]
    assert not blank, f"{name}: config fields without a comment (their --help is empty): {blank}"



@pytest.mark.parametrize("name", MODELS)
def test_no_model_setting_shadows_a_trainer_setting(name):
    """`ganthology train NAME --help` lists the trainer's options and the model's: one name, one option."""
    from ganthology.train import TrainConfig

    shared = {f.name for f in dataclasses.fields(TrainConfig)} & {f.name for f in ganthology.get_model(name).config_fields()}
    assert not shared, f"{name} has settings named like the trainer's: {sorted(shared)}"
