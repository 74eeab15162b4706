"""The model contract: what a paper's file provides and what the trainer does for it.

A model file holds the paper and nothing else: its networks, a dataclass of the paper's defaults and
the update rule. The trainer (`ganthology.train`) owns iteration, devices, precision, distribution,
logging, sample grids and checkpoints. The contract, in the order a model file implements it:

    Config                      dataclass of the paper's defaults (one comment per field)
    __init__(cfg, data)         builds the networks as attributes (G, D, E, G_AB, ...)
    optimizers()                {"G": Adam(...), "D": Adam(...)}: any number, any grouping
    schedulers()                optional learning-rate schedules keyed like optimizers(); the
                                trainer steps them once per train_step and checkpoints them, and
                                `total_steps` tells the model how long the run is
    train_step(batch, step)     the update rule; calls self.update(name, loss) once per optimizer
                                step it takes and returns a dict of scalar tensors to log
    sample(n, **cond)           images in [-1, 1]; labels `y` for models whose `conditions`
                                name it; models that map noise to images define noise(n) and
                                generate(z, **cond) instead, and models with an encoder define
                                encode(x) -> z; a model that makes no images (DANN) sets
                                `generates = False`
    translate(x, **options)     image-to-image models only: the translations of images x (options
                                such as `direction` or `attributes` come from the user as strings)
    held_out_metrics(test)      numbers for what the model claims, on its dataset's held-out split;
                                models that translate, or make no images, name theirs in
                                `scores` and are judged by them (`scored_by_claim`)

State that is not a parameter (BEGAN's k_t, a running average) is registered as a buffer so that it
travels in `state_dict()` and therefore in every checkpoint.
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import asdict, fields
from types import MappingProxyType
from typing import ClassVar

import torch
from torch import nn

from ..data.info import DataInfo
from ..errors import GanthologyError


def backward_kwargs(opt: torch.optim.Optimizer, shared_graph: bool) -> dict:
    """`loss.backward`'s arguments for `GANModel.update(..., shared_graph)`."""
    if not shared_graph:
        return {}
    return {"retain_graph": True, "inputs": [p for g in opt.param_groups for p in g["params"] if p.requires_grad]}


class LocalEngine:
    """How `GANModel.update` steps when no trainer is attached: plain autograd on one process."""

    def update(self, opt: torch.optim.Optimizer, loss: torch.Tensor, shared_graph: bool = False) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward(**backward_kwargs(opt, shared_graph))
        opt.step()

    def mean_across_processes(self, t: torch.Tensor) -> torch.Tensor:
        return t


#: the trainer defaults of a model whose bench rows the generator's weight average helped: an
#: average whose half-life is 5% of the steps so far, capped at 693 steps (train/ema.py). Measured
#: for every model in docs/results.md ("The trainer's tools for quality per minute, measured"); it
#: hurt where G was still climbing steeply at 5 minutes (wgan_gp, wgan_div, dragan, lsgan, acgan,
#: sgan, infogan, vae_gan), began's rows since its skip connections (FD 510-746 on the last
#: iterate against 569-807 averaged, in three runs of four) and wgan's since its width of 32 (FD
#: 349 and 405 against 360 and 434).
WEIGHT_AVERAGE = MappingProxyType({"ema": 0.999, "ema_rampup": 0.05})  # read-only: shared by the models


class GANModel(nn.Module):
    # --- filled in by each paper's file -------------------------------------------------------
    name: ClassVar[str] = ""  # set by @register_model
    paper: ClassVar[str] = ""  # "Title. Authors, year. arXiv:id"
    year: ClassVar[int] = 0
    default_dataset: ClassVar[str] = "mnist"
    Config: ClassVar[type] = object
    #: the trainer's settings (TrainConfig fields) whose default this model changes, each measured
    #: on the model's own bench rows (docs/results.md): {"ema": 0.999, "ema_rampup": 0.05} where the
    #: weight average helped, {"image_size": 28} where the paper's networks are written for 28x28
    #: (cluster_gan). `ganthology train MODEL --help` shows them; a flag or YAML key overrides.
    train_defaults: ClassVar[Mapping] = MappingProxyType({})
    #: the keyword conditions that sample() and generate() take: ("y",) for class-conditional
    #: models. The CLI, the evaluation and the latent tools offer labels from this, not from a name.
    conditions: ClassVar[tuple[str, ...]] = ()
    #: the networks `sample()` needs; they are what the safetensors export holds
    sampling_modules: ClassVar[tuple[str, ...]] = ("G",)
    #: the networks that judge images (those present are hooked by the trainer's --augment)
    discriminators: ClassVar[tuple[str, ...]] = ("D", "D_A", "D_B")
    #: True where D does more than judge one batch of images (an autoencoder scored against its
    #: input, a network called in parts, features compared between two images): then train_step
    #: passes what D sees through `self.augmented(...)` instead of the trainer hooking D
    augments_itself: ClassVar[bool] = False
    diff_augment = None  # the trainer's --augment (train/augment.py:DiffAugment) where augments_itself
    #: whether the update rule reads `total_steps` (a learning-rate decay or a schedule over the run's
    #: progress): such a run needs a step count, and `--minutes` alone is refused
    follows_run_length: ClassVar[bool] = False
    #: the networks that are convolutional and benefit from channels_last
    conv: ClassVar[bool] = True
    #: whether the model also trains on vector data (DataInfo.dim > 0, the 2-D toys); a model
    #: defined on images only (DCGAN, pix2pix, ...) sets False and refuses such data clearly
    vector_data: ClassVar[bool] = True
    #: the roles (data/info.py ROLES) a batch must hold for this model: ("domain A", "domain B") for
    #: unpaired translation, ("image", "attributes") for StarGAN. Checked when the model is built;
    #: the registry tests pick an offline dataset that holds them.
    requires: ClassVar[tuple[str, ...]] = ()

    @property
    def steps_per_update(self) -> int:
        """Trainer steps per generator update. A model whose trainer step is one critic step and whose
        generator steps every `n_critic`-th one (WGAN's algorithm 1 and its kin) takes n_critic; the
        rest take 1. A run given no length is DEFAULT_STEPS generator updates (the trainer)."""
        return max(1, int(getattr(self.cfg, "n_critic", 1)))

    def __init__(self, cfg, data: DataInfo):
        super().__init__()
        if data.is_vector and not self.vector_data:
            raise GanthologyError(
                f"{self.name} is defined on images and cannot train on {data.name!r}, which holds "
                f"{data.dim}-D points; use an image dataset (digits, mnist, ...) or a model that takes points."
            )
        missing = [r for r in self.requires if not data.has(r)]
        if missing:
            held = ", ".join(sorted({p.role for p in data.parts.values()}))
            raise GanthologyError(f"{self.name} needs a dataset with {' and '.join(self.requires)}; {data.name!r} "
                                  f"holds {held}. See 'ganthology datasets' for one that fits.")
        self.cfg = cfg
        self.data = data
        if self.prior not in ("normal", "uniform"):
            raise GanthologyError(f"noise must be uniform or normal, not {self.prior!r}.")
        self.opt: dict[str, torch.optim.Optimizer] = {}
        self.sched: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.engine = LocalEngine()

    # --- the contract -------------------------------------------------------------------------
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam for G and one for D with the config's lr, beta1 and beta2: DCGAN's recipe
        (section 4), which most papers here keep. A model with other players (an encoder, Q) or
        another optimizer (WGAN's RMSprop) overrides it."""
        c = self.cfg
        betas = (c.beta1, c.beta2)
        return {
            "G": torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=betas),
            "D": torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=betas),
        }

    #: the run's length in train steps; the trainer sets it before optimizers() and schedulers()
    #: so a schedule can end where the run ends. None outside a trainer.
    total_steps: int | None = None

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        """Learning-rate schedules for some or all of `self.opt` (same keys), built after the
        optimizers. The trainer steps each once per train_step, logs its rate as lr_<key>, and
        keeps its position in checkpoints. Default: none, the rates stay constant."""
        return {}

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def augmented(self, *xs: torch.Tensor):
        """Image batches as D is to see them: under --augment (and in training) the same random
        transformations applied to each batch given, else unchanged. One batch in, one out; pass
        two (x and its reconstruction) where D's outputs on them are compared with each other."""
        if self.diff_augment is None or not self.training:
            return xs[0] if len(xs) == 1 else xs
        return self.diff_augment(*xs)

    @torch.no_grad()
    def sample(self, n: int, **cond) -> torch.Tensor:
        """n samples: `generate(noise(n))` for models with a latent space; others override it."""
        return self.generate(self.noise(n), **cond)

    # --- the latent space (ganthology.latent: interpolation, arithmetic, inversion) ---------------
    #: named parts of z that mean something (InfoGAN's codes): name -> (start, stop, kind) with kind
    #: "categorical" (one-hot) or "uniform" (continuous in [-1, 1]); the rest of z is plain noise
    latent_codes: ClassVar[dict[str, tuple[int, int, str]]] = {}

    @property
    def prior(self) -> str:
        """"normal": z ~ N(0, I), the prior of most papers; "uniform": z ~ U[-1, 1] (DCGAN, BiGAN).
        A config field `noise` chooses between them; a model with another prior overrides `noise`."""
        return self.cfg.noise if hasattr(self.cfg, "noise") else "normal"

    def noise(self, n: int, device: torch.device | None = None) -> torch.Tensor:
        """z (n, z_dim) from `prior`; a model without a `z_dim` (translation) has no latent space."""
        z_dim = getattr(self.cfg, "z_dim", None)
        if z_dim is None:
            raise GanthologyError(f"{self.name} has no latent space: it maps input images to images.")
        device = device if device is not None else self.device
        if self.prior == "uniform":
            return torch.rand(n, z_dim, device=device) * 2 - 1
        return torch.randn(n, z_dim, device=device)

    @property
    def z_in_unit_box(self) -> bool:
        """Whether the prior draws every entry of z in [-1, 1] (uniform noise and codes): inversion
        and vector arithmetic then keep the codes they make inside that box. Gaussian priors: False."""
        return self.prior == "uniform"

    def generate(self, z: torch.Tensor, **cond) -> torch.Tensor:
        """Images in [-1, 1] for latent codes z (differentiable: inversion optimizes through it)."""
        return self.G(z)

    #: False for a model that makes no images (DANN: a classifier adapted to an unlabelled domain):
    #: its `sample` refuses in one sentence, its `kind()` is "adaptation", and it must declare the
    #: `scores` it is judged by (`ganthology eval`, the bench, --eval-every); its preview shows data
    generates: ClassVar[bool] = True

    #: models with an encoder (AAE, VAE-GAN, BiGAN, ...) define `encode(x) -> z`
    encode = None

    #: image-to-image models (pix2pix, ...) define `translate(x) -> images`: a user's images in
    #: [-1, 1] in, their translations out. `ganthology sample --input`, the evaluation on held-out
    #: pairs and the preview follow from it.
    translate = None

    #: inpainting models (context_encoder, ccgan) define `inpaint(x, mask) -> images`: images x in
    #: [-1, 1] (B, C, H, W) whose pixels inside the hole the model must ignore, and masks (B, 1, H, W)
    #: that are 1 where an image is missing (data/masks.py); it returns the whole images, the model's
    #: pixels inside the hole and x's outside it. Such a model's config has `hole` (side of the square
    #: hole in pixels) and `mask` ("center" or "random": the holes it trains with). `ganthology
    #: inpaint`, the preview and the held-out scores follow from it.
    inpaint = None

    def masks(self, n: int, kind: str | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """n square holes of the model's size (`cfg.hole`), of `kind` "center" or "random" (default: the
        kind it trains with, `cfg.mask`), on the model's device: (n, 1, H, W), 1 inside the hole."""
        from ..data.masks import square_masks

        return square_masks(kind or self.cfg.mask, n, self.data.image_size, self.cfg.hole, generator, self.device)

    #: True when `translate` draws a random code on each call (from torch's RNG: MUNIT's style,
    #: BicycleGAN's z), so one input has many translations: `ganthology translate --outputs K`
    #: writes K per input, and the held-out metrics add their diversity
    multimodal: ClassVar[bool] = False

    @classmethod
    def maps_images(cls) -> bool:
        """Whether the model's job is to map a user's images (translate, upscale, inpaint) rather than
        to draw new ones from noise: such a model is scored by its own claim on the held-out split
        (`held_out_metrics`), never by samples."""
        return cls.translate is not None or cls.inpaint is not None

    @classmethod
    def kind(cls) -> str:
        """What the model does, in a word, for `ganthology list`: adaptation (it makes no images),
        translation (it has `translate`), conditional (its samples take labels) or unconditional."""
        if not cls.generates:
            return "adaptation"
        if cls.translate is not None:
            return "translation"
        if cls.inpaint is not None:
            return "inpainting"
        return "conditional" if "y" in cls.conditions else "unconditional"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one of `sample()`'s outputs: the data's (`DataInfo.sample_shape`); a model
        that draws pairs (CoGAN) shows each pair side by side, (C, H, 2W)."""
        return self.data.sample_shape

    @property
    def has_latent_space(self) -> bool:
        """Whether images come from codes z (noise(), generate()): what the latent tools need."""
        return self.translate is None and getattr(self.cfg, "z_dim", None) is not None and not self.data.is_vector

    # --- data the model keeps, and its own claim on held-out data -------------------------------
    def bind_data(self, dataset) -> None:
        """Called by the trainer once, before the first step, with the training set (an
        `InMemoryDataset`). Models that keep a part of it override this (sgan keeps its few
        labelled examples as buffers, so they travel with checkpoints). Default: nothing."""

    #: what `held_out_metrics` reports, each "max" or "min" (which way is better), first the number
    #: `--eval-every` keeps the best checkpoint by. Models that translate must name theirs: they
    #: are scored by their own claim on the held-out split, not by samples. Inpainting models name
    #: those of `metrics.inpainting.inpainting_scores` ({"psnr": "max", "l1": "min"}).
    scores: ClassVar[dict[str, str]] = {}

    @property
    def scored_by_claim(self) -> bool:
        """Whether the model is judged by its own claim on the held-out split (`held_out_metrics`,
        named in `scores`) rather than by an evaluator's view of its samples: models that map images,
        and any model that declares `scores` (one that makes no images must; CoGAN scores its pairs)."""
        return self.maps_images() or bool(self.scores)

    @torch.no_grad()
    def held_out_metrics(self, test: dict[str, torch.Tensor]) -> dict[str, float]:
        """Numbers for what the model claims beyond its samples, measured on `test`, the whole
        held-out split as one batch (every key of the dataset, on the model's device, images in
        [-1, 1]): `ganthology eval` and the bench report them. By default: for a translation model
        with aligned inputs and targets, PSNR, SSIM and L1 of `translate(input)` against the target;
        for a model with an encoder, the reconstruction error `recon_mse` = mean of (G(E(x)) - x)^2
        over pixels in [-1, 1]; for an inpainting model, L1 and PSNR inside its holes (cfg.hole;
        center masks, and random ones too when it trains with them) against the mean-colour and
        border-blur fills (`metrics.inpainting`). Models that classify or cluster add their scores."""
        if self.translate is not None and self.data.has("input", "target"):
            return self.paired_metrics(test)
        if self.inpaint is not None:
            from ..metrics.inpainting import inpainting_scores

            kinds = ("center", "random") if self.cfg.mask == "random" else ("center",)
            return inpainting_scores(self.inpaint, test[self.data.key("image")], self.cfg.hole, kinds)
        if self.encode is None:
            return {}
        x = test["x"]
        err = [((self.generate(self.encode(xb)) - xb) ** 2).mean(dim=(1, 2, 3)) for xb in x.split(500)]
        return {"recon_mse": float(torch.cat(err).mean())}

    @torch.no_grad()
    def paired_metrics(self, test: dict[str, torch.Tensor]) -> dict[str, float]:
        """For aligned inputs and targets: PSNR, SSIM and L1 of `translate(input)` against the
        target; where the target's dataset has an evaluator, the share of digits kept and the
        Fréchet distance to the held-out targets (`metrics.translation`), and for a model that
        varies its outputs (multimodal, or pix2pix's dropout) their diversity over 4 translations
        of the first 200 inputs."""
        from ..metrics.evaluators import evaluator_for
        from ..metrics.scores import paired_scores
        from ..metrics.translation import content_and_realism, diversity
        from .two_domain import labels_of

        key_A, key_B = self.data.key("input"), self.data.key("target")
        a, b = test[key_A], test[key_B]
        pred = torch.cat([self.translate(ab).float() for ab in a.split(100)])
        out = paired_scores(pred, b.float())
        ev = evaluator_for(self.data.parts[key_B].dataset)
        if ev is not None:
            out |= content_and_realism(pred, labels_of(test, self.data, key_A), b, ev)
            outs = [torch.cat([self.translate(ab).float() for ab in a[:200].split(100)]) for _ in range(4)]
            out["diversity"] = diversity(outs, ev)
        return out

    def input_spec(self, **options) -> tuple[int, int | None]:
        """(channels, side) of the images `translate(x, **options)` takes; side None: any size.
        By default the input part of the training data (the images themselves for an inpainting
        model), at its size."""
        return self.data.in_channels or self.data.channels, self.data.image_size

    #: how many times larger than its input a restoration model's output is (SRGAN: 4); > 1 makes
    #: `ganthology upscale` apply
    upscale_factor: ClassVar[int] = 1

    def preview(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """Images for the periodic sample grid and how many go in a row.

        `batch` is a fixed batch of real data; unconditional models ignore it, translation models
        show input | output | target. Called under a fixed RNG seed, so the noise is the same
        every time."""
        n = batch_size_of(batch)
        if self.inpaint is not None:  # masked input | filled | original, three examples per row
            x = batch[self.data.key("image")][:8]
            m = self.masks(len(x), generator=torch.Generator().manual_seed(0))
            holed = x * (1 - m) + m  # the hole shown white
            return torch.stack([holed, self.inpaint(x, m), x], dim=1).flatten(0, 1), 9
        if "y" in self.conditions:  # one class per column
            return self.sample(n), self.data.num_classes
        return self.sample(n), 8

    def class_labels(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """Labels for n samples of a conditional model, checked: `y` as given (one per sample, in
        0..K-1), or by default 0, 1, ..., K-1 repeated, so a grid with K columns shows one class per
        column."""
        k = self.data.num_classes
        if y is None:
            y = torch.arange(n) % k
        y = torch.as_tensor(y, device=self.device).long()
        if y.shape != (n,):
            raise GanthologyError(f"give one label per sample: {n} samples, labels of shape {tuple(y.shape)}.")
        if y.min() < 0 or y.max() >= k:
            raise GanthologyError(f"labels must lie in 0..{k - 1} for this model.")
        return y

    # --- helpers for train_step ---------------------------------------------------------------
    def setup_optimizers(self) -> None:
        """Create the optimizers and their schedules once (the trainer calls this, then may wrap
        the optimizers; a schedule keeps acting on the wrapped one, which shares its param_groups)."""
        self.opt = self.optimizers()
        self.sched = self.schedulers()
        unknown = sorted(set(self.sched) - set(self.opt))
        if unknown:
            raise ValueError(f"{self.name}: schedulers() names {unknown[0]!r}, which optimizers() does not have")

    def update(self, name: str, loss: torch.Tensor, shared_graph: bool = False) -> None:
        """One optimizer step on `loss` for the optimizer called `name`: zero the gradients,
        backpropagate (loss scaling under mixed precision), average gradients across processes,
        step. `shared_graph`: the loss comes from a forward pass that also gives another player's loss
        (several players' losses from one pass, all at this step's weights, as in algorithm 1 of
        vae_gan): the graph is kept for the other's backward, and this backward fills only this
        optimizer's parameters, so that none runs through a network that has stepped since."""
        if not self.opt:
            self.setup_optimizers()
        self.engine.update(self.opt[name], loss, shared_graph)

    def mean_across_processes(self, t: torch.Tensor) -> torch.Tensor:
        """`t` averaged over all training processes (itself with one process). For state that is
        updated from losses, such as BEGAN's k_t, so that every rank keeps the same value."""
        return self.engine.mean_across_processes(t)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    @classmethod
    def config_fields(cls) -> list:
        return list(fields(cls.Config))


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """Turn off `requires_grad` of the given networks for the block (D during G's step): autograd
    then skips their weight gradients, and D's gradients cannot leak into D's next update."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)


def adam_or_sgd(params, kind: str, lr: float, beta1: float, beta2: float = 0.999) -> torch.optim.Optimizer:
    """Adam(lr, (beta1, beta2)), or SGD with momentum beta1: the switch of the 2014-2016 papers
    whose own optimizer was SGD with momentum (GAN, CGAN, AAE); each Config says which is its default."""
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=beta1)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2))
    raise GanthologyError(f"optimizer must be adam or sgd, not {kind!r}.")


def batch_size_of(batch: dict[str, torch.Tensor]) -> int:
    return next(iter(batch.values())).shape[0]


def constant_then_linear_decay(opt: torch.optim.Optimizer, total_steps: int, decay_from: float = 0.5):
    """The learning rate held for the first `decay_from` of the run, then lowered linearly to zero
    at its last step: CycleGAN's schedule (Zhu et al. 2017, section 7.1: 100 epochs constant, 100
    decaying), which pix2pix's code, UNIT, MUNIT and BicycleGAN share."""
    start = int(total_steps * decay_from)
    span = max(1, total_steps - start)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - max(0, s - start) / span)


def clock_linear_decay(opt: torch.optim.Optimizer, spent, decay_from: float = 0.5):
    """constant_then_linear_decay over a wall-clock budget instead of a step count: `spent()` is the
    fraction of the budget used so far, read each time the schedule steps."""
    span = max(1e-9, 1.0 - decay_from)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: max(0.0, 1.0 - max(0.0, spent() - decay_from) / span))
