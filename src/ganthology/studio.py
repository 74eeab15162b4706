"""`ganthology studio [RUNS_DIR]`: a local web page to look at runs and use the trained models.

It lists the runs under RUNS_DIR (every folder with a `config.yaml` and a checkpoint or export) with
their model, dataset, steps and latest losses; for a chosen run it shows the loss curve and the
sample grids over training, and offers what that model can do, read from the model itself:

- a latent space (`has_latent_space`): samples from a seed (and a class for conditional models),
  interpolation between two seeds, finding the code of an uploaded image (inversion; with the
  encoder when the model has one), and editing it along the direction from an example without a
  trait to one with it;
- named codes (InfoGAN's `latent_codes`): one slider per code;
- `translate` (its options from its signature: direction, attributes, a style image, ESRGAN's alpha),
  upscaling (`upscale_factor`) and `inpaint` (center, random or a painted mask): on an uploaded image.

Every result is an image with a download button. The page binds to 127.0.0.1 unless told otherwise;
an upload must decode as an image no larger than MAX_SIDE pixels a side (and MAX_UPLOAD bytes),
and the runs it serves are the folders it found under RUNS_DIR, chosen by name, so a request cannot
reach a path outside it. Built on Gradio (`pip install -e ".[studio]"`).
"""
from __future__ import annotations

import inspect
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .errors import GanthologyError

MAX_SIDE = 2048  # pixels a side of an uploaded image
MAX_UPLOAD = "20mb"  # bytes of one upload (Gradio refuses larger files)


# --- runs -------------------------------------------------------------------------------------------
def find_runs(root: str | Path) -> dict[str, Path]:
    """name (relative to root) -> run folder, for every run under root."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise GanthologyError(f"{root} is not a folder; give the folder that holds your runs (default: runs).")
    runs = {}
    for cfg in sorted(root.rglob("config.yaml")):
        run = cfg.parent
        if (run / "checkpoints" / "last.pt").is_file() or (run / "generator.safetensors").is_file():
            runs[run.relative_to(root).as_posix() or "."] = run
    return runs


def run_row(name: str, run: Path) -> list:
    """One line of the runs table: name, model, dataset, steps and the last logged losses."""
    import yaml

    from .train.logger import read_metrics

    cfg = yaml.safe_load((run / "config.yaml").read_text()) or {}
    rows = read_metrics(run / "metrics.csv") if (run / "metrics.csv").is_file() else []
    rows = [r for r in rows if r.get("epoch") not in ("", None)]
    last = rows[-1] if rows else {}
    losses = ", ".join(f"{k} {float(v):.3g}" for k, v in last.items()
                       if k not in ("step", "epoch", "images_per_s") and not k.startswith("lr_") and v not in ("", None))
    return [name, cfg.get("model", "?"), (cfg.get("train") or {}).get("dataset", "?"), int(last.get("step", 0) or 0),
            losses]


class Studio:
    """The runs under `root` and what can be done with each; the Gradio page calls these methods."""

    def __init__(self, root: str | Path, device: str = "cpu"):
        self.root = Path(root).resolve()
        self.device = device
        self.runs = find_runs(self.root)

    def run(self, name: str) -> Path:
        """The run folder called `name`, only if it is one that was found under root."""
        self.runs = find_runs(self.root)
        run = self.runs.get(name)
        if run is None or not run.resolve().is_relative_to(self.root):
            raise GanthologyError(f"no run called {name!r} under {self.root}.")
        return run

    def model(self, name: str):
        run = self.run(name)
        ckpt = run / "checkpoints" / "last.pt"
        stamp = (ckpt if ckpt.is_file() else run / "generator.safetensors").stat().st_mtime_ns
        return _load(str(run), stamp, self.device)

    def abilities(self, name: str) -> dict:
        """What the model of run `name` offers, from the model itself."""
        m = self.model(name)
        params = inspect.signature(m.translate).parameters if m.translate is not None else {}
        return {
            "sample": m.has_latent_space,
            "classes": m.data.num_classes if "y" in m.conditions else 0,
            "codes": dict(getattr(m, "latent_codes", {}) or {}) if m.has_latent_space else {},
            "invert": m.has_latent_space,
            "encoder": m.encode is not None,
            "translate": m.translate is not None and m.upscale_factor <= 1,
            "upscale": m.upscale_factor > 1,
            "inpaint": m.inpaint is not None,
            "options": [p for p in params if p != "x"],
            "multimodal": m.multimodal,
        }

    # --- what the page shows -------------------------------------------------------------------
    def overview(self, name: str) -> tuple[str, np.ndarray | None, list]:
        run = self.run(name)
        curve = run / "loss_curve.png"
        grids = sorted((run / "samples").glob("step_*.png"))
        gallery = [(_read(g), f"step {int(g.stem.split('_')[1])}") for g in grids[-12:]]
        return (f"**{name}**: " + " · ".join(str(v) for v in run_row(name, run)[1:]),
                _read(curve) if curve.is_file() else None, gallery)

    @torch.no_grad()
    def sample(self, name: str, seed: int, n: int, label: int | None = None, codes: dict | None = None) -> np.ndarray:
        from .seeding import seeded

        m = self.model(name)
        n = int(max(1, min(n, 64)))
        with seeded(int(seed), m.device):
            z = m.noise(n)
        for code, value in (codes or {}).items():
            start, stop, kind = m.latent_codes[code]
            z[:, start:stop] = torch.nn.functional.one_hot(torch.tensor(int(value)), stop - start).to(z) \
                if kind == "categorical" else float(value)
        cond = {"y": m.class_labels(n, torch.full((n,), int(label)))} if "y" in m.conditions and label is not None else {}
        return _grid(m.generate(z, **cond), nrow=8)

    @torch.no_grad()
    def interpolate(self, name: str, seed_a: int, seed_b: int, steps: int) -> np.ndarray:
        from .latent import slerp
        from .seeding import seeded

        m = self.model(name)
        with seeded(int(seed_a), m.device):
            za = m.noise(1)
        with seeded(int(seed_b), m.device):
            zb = m.noise(1)
        steps = int(max(2, min(steps, 32)))
        z = torch.cat([slerp(za, zb, float(t)) for t in torch.linspace(0, 1, steps)])
        cond = {"y": m.class_labels(steps)} if "y" in m.conditions else {}
        return _grid(m.generate(z, **cond), nrow=steps)

    def invert(self, name: str, image) -> tuple[np.ndarray, str]:
        from .latent import invert

        m = self.model(name)
        x = self._input(m, image, resize=True)
        z, report = invert(m, x, method="hybrid" if m.encode is not None else "optimize", steps=150)
        with torch.no_grad():
            recon = m.generate(z)
        return _grid(torch.cat([x, recon]), nrow=2), f"{report['method']}: PSNR {report['psnr']:.1f} dB"

    def edit(self, name: str, image, with_image, without_image, strengths=(-2, -1, 0, 1, 2)) -> np.ndarray:
        """Your image moved along a latent direction: the code of an example with an attribute minus
        the code of one without it (the documents' photo editing, `ganthology latent edit` with one
        example each); one row: yours, then generate(z + s * direction) for each strength s."""
        from .latent import attribute_direction, edit, invert

        m = self.model(name)
        xs = [self._input(m, im, resize=True) for im in (image, with_image, without_image)]
        method = "hybrid" if m.encode is not None else "optimize"
        z, z_with, z_without = (invert(m, x, method=method, steps=150)[0] for x in xs)
        images, nrow = edit(m, xs[0], z, attribute_direction(z_with, z_without), list(strengths))
        return _grid(images, nrow=nrow)

    @torch.no_grad()
    def translate(self, name: str, image, direction: str | None = None, attributes: str | None = None,
                  style=None, alpha: float | None = None, seed: int = 0) -> np.ndarray:
        from .api import translation_options

        m = self.model(name)
        given = {"direction": direction or None, "attributes": attributes or None, "alpha": alpha,
                 "style": self._style(style) if style is not None else None}
        options = translation_options(m, {k: v for k, v in given.items() if k in self.abilities(name)["options"]})
        x = self._input(m, image, resize=m.upscale_factor <= 1, **options)
        torch.manual_seed(int(seed))
        return _grid(m.translate(x, **options), nrow=1)

    @torch.no_grad()
    def inpaint(self, name: str, image, mask_kind: str = "center", mask_image=None, seed: int = 0) -> np.ndarray:
        from .data.masks import read_mask

        m = self.model(name)
        x = self._input(m, image, resize=True)
        if mask_image is not None:
            path = self._tmp_png(mask_image)
            mask = read_mask(path, x.shape[-1]).to(m.device)
            path.unlink()
        else:
            mask = m.masks(1, mask_kind, torch.Generator().manual_seed(int(seed)))
        holed = x * (1 - mask) + mask
        return _grid(torch.cat([holed, m.inpaint(x, mask)]), nrow=2)

    # --- uploads ---------------------------------------------------------------------------------
    def _input(self, model, image, resize: bool, **options) -> torch.Tensor:
        """An uploaded image (a numpy array from the page), checked, as the model's input batch."""
        from .api import read_model_inputs

        path = self._tmp_png(image)
        try:
            x, _ = read_model_inputs(model, path, resize=resize, **options)
        finally:
            path.unlink(missing_ok=True)
        return x

    def _style(self, image) -> torch.Tensor:
        from .api import _read_reference

        path = self._tmp_png(image)
        try:
            return _read_reference(path, "style")
        finally:
            path.unlink(missing_ok=True)

    @staticmethod
    def _tmp_png(image) -> Path:
        """Check an upload (an image within MAX_SIDE) and write it to a temporary PNG for the readers
        every command uses."""
        import tempfile

        from PIL import Image

        if image is None:
            raise GanthologyError("upload an image first.")
        arr = np.asarray(image)
        if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or min(arr.shape[:2]) < 1:
            raise GanthologyError("the upload is not an image.")
        if max(arr.shape[:2]) > MAX_SIDE:
            raise GanthologyError(f"the image is {arr.shape[1]}x{arr.shape[0]}; upload one of at most {MAX_SIDE} "
                                  "pixels a side.")
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[..., :3]
        f = tempfile.NamedTemporaryFile(suffix=".png", delete=False)
        f.close()
        Image.fromarray(arr).save(f.name)
        return Path(f.name)


@lru_cache(maxsize=4)
def _load(run: str, stamp: int, device: str):
    """A run's model, kept while its checkpoint is unchanged (`stamp`: its modification time)."""
    from .api import load

    return load(run, device=device)


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _grid(images: torch.Tensor, nrow: int) -> np.ndarray:
    """Images in [-1, 1] as one uint8 (H, W, 3) picture, small images enlarged to at least 64 px."""
    from torchvision.utils import make_grid

    from .data.core import to_uint8

    images = images.detach().float().cpu()
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    scale = max(1, 64 // images.shape[-1])
    if scale > 1:
        images = torch.nn.functional.interpolate(images, scale_factor=scale, mode="nearest")
    grid = make_grid(images, nrow=nrow, padding=2, pad_value=1.0, value_range=(-1, 1))
    return to_uint8(grid).permute(1, 2, 0).numpy()


# --- the page ---------------------------------------------------------------------------------------
def build_app(studio: Studio):
    """The Gradio page: the runs table, a run picker, its training record, and the controls its
    model offers (built by `gr.render` from `Studio.abilities` whenever another run is picked)."""
    import gradio as gr

    names = list(studio.runs)

    def safe(fn):
        """A user's mistake (a bad upload, a wrong option) as a message on the page, not a crash."""
        def call(*args):
            try:
                return fn(*args)
            except GanthologyError as e:
                raise gr.Error(str(e)) from None
        return call

    with gr.Blocks(title="ganthology studio") as demo:
        gr.Markdown(f"# ganthology studio\nRuns under `{studio.root}`")
        gr.Dataframe(value=[run_row(n, p) for n, p in studio.runs.items()],
                     headers=["run", "model", "dataset", "steps", "last losses"], interactive=False, elem_id="runs")
        picked = gr.Dropdown(names, value=names[0] if names else None, label="run", elem_id="run")
        summary = gr.Markdown(elem_id="summary")
        with gr.Tab("Training"):
            curve = gr.Image(label="losses", interactive=False, elem_id="curve")
            gallery = gr.Gallery(label="samples over training (last 12)", columns=4, elem_id="grids")
        picked.change(safe(studio.overview), picked, [summary, curve, gallery])
        demo.load(safe(studio.overview), picked, [summary, curve, gallery])

        with gr.Tab("Use"):
            @gr.render(inputs=picked)
            def controls(name):
                if not name:
                    gr.Markdown("No runs found: train one with `ganthology train MODEL --out runs/NAME`.")
                    return
                can = studio.abilities(name)
                if can["sample"]:
                    with gr.Group():
                        gr.Markdown("### Sample")
                        with gr.Row():
                            seed = gr.Number(0, label="seed", precision=0, elem_id="seed")
                            n = gr.Slider(1, 64, 16, step=1, label="images", elem_id="n")
                            label = gr.Slider(0, max(1, can["classes"] - 1), 0, step=1, label="class",
                                              visible=can["classes"] > 0, elem_id="label")
                        sliders = {}
                        for code, (start, stop, kind) in can["codes"].items():
                            sliders[code] = (gr.Slider(0, max(1, stop - start - 1), 0, step=1, label=f"code {code} (category)")
                                             if kind == "categorical" else
                                             gr.Slider(-2, 2, 0, step=0.1, label=f"code {code} (continuous)"))
                        out = gr.Image(label="samples", interactive=False, elem_id="samples")
                        codes = list(sliders)

                        def sample(s, k, y, *values):
                            return studio.sample(name, s, k, y if can["classes"] else None, dict(zip(codes, values)))

                        gr.Button("Sample", elem_id="sample").click(safe(sample), [seed, n, label, *sliders.values()], out)
                    with gr.Group():
                        gr.Markdown("### Interpolate between two seeds")
                        with gr.Row():
                            a = gr.Number(0, label="seed A", precision=0)
                            b = gr.Number(1, label="seed B", precision=0)
                            steps = gr.Slider(2, 32, 10, step=1, label="steps")
                        out2 = gr.Image(label="interpolation", interactive=False)
                        gr.Button("Interpolate").click(safe(lambda x, y, k: studio.interpolate(name, x, y, k)),
                                                       [a, b, steps], out2)
                    with gr.Group():
                        gr.Markdown("### Find the code of your image" + (" (encoder, then refined)" if can["encoder"] else ""))
                        up = gr.Image(label="your image", type="numpy", image_mode="RGB")
                        out3 = gr.Image(label="yours | reconstructed", interactive=False)
                        note = gr.Markdown()
                        gr.Button("Invert").click(safe(lambda im: studio.invert(name, im)), up, [out3, note])
                        gr.Markdown("### Edit it along a direction: an example with a trait, one without")
                        with gr.Row():
                            with_im = gr.Image(label="with", type="numpy", image_mode="RGB")
                            without_im = gr.Image(label="without", type="numpy", image_mode="RGB")
                        out4 = gr.Image(label="yours, then moved by -2, -1, 0, 1, 2", interactive=False)
                        gr.Button("Edit").click(safe(lambda im, a, b: studio.edit(name, im, a, b)),
                                                [up, with_im, without_im], out4)
                if can["translate"] or can["upscale"]:
                    with gr.Group():
                        gr.Markdown("### Upscale your image" if can["upscale"] else "### Translate your image")
                        up = gr.Image(label="your image", type="numpy", image_mode="RGB", elem_id="upload")
                        opts = can["options"]
                        direction = gr.Radio(["AtoB", "BtoA"], value="AtoB", label="direction", visible="direction" in opts)
                        attributes = gr.Textbox(label="attributes (name=1,other=0)", visible="attributes" in opts)
                        style = gr.Image(label="style reference", type="numpy", image_mode="RGB", visible="style" in opts)
                        alpha = gr.Slider(0, 1, 1, step=0.05, label="alpha (0: PSNR model, 1: GAN)", visible="alpha" in opts)
                        seed = gr.Number(0, label="seed of the random code", precision=0, visible=can["multimodal"])
                        out = gr.Image(label="result", interactive=False, elem_id="translated")

                        def translate(im, d, at, st, al, s):
                            return studio.translate(name, im, d if "direction" in opts else None, at or None, st,
                                                    al if "alpha" in opts else None, s)

                        gr.Button("Upscale" if can["upscale"] else "Translate", elem_id="translate").click(
                            safe(translate), [up, direction, attributes, style, alpha, seed], out)
                if can["inpaint"]:
                    with gr.Group():
                        gr.Markdown("### Fill a hole in your image")
                        up = gr.Image(label="your image", type="numpy", image_mode="RGB")
                        kind = gr.Radio(["center", "random"], value="center", label="hole")
                        mask = gr.Image(label="or your mask (white = fill)", type="numpy", image_mode="L")
                        seed = gr.Number(0, label="seed of the random hole", precision=0)
                        out = gr.Image(label="with the hole | filled", interactive=False)
                        gr.Button("Fill").click(safe(lambda im, k, mk, s: studio.inpaint(name, im, k, mk, s)),
                                                [up, kind, mask, seed], out)
                if not any(can[k] for k in ("sample", "translate", "upscale", "inpaint")):
                    gr.Markdown(f"`{studio.model(name).name}` makes no images; its numbers are in the Training tab "
                                "and in `ganthology eval`.")
    return demo


def serve(root: str | Path = "runs", host: str = "127.0.0.1", port: int = 7860, device: str = "cpu",
          block: bool = True):
    """Start the studio on http://host:port (127.0.0.1: this machine only)."""
    from importlib.util import find_spec

    if find_spec("gradio") is None:
        raise GanthologyError('the studio needs Gradio: pip install -e ".[studio]" (or pip install gradio).')
    demo = build_app(Studio(root, device))
    demo.launch(server_name=host, server_port=port, max_file_size=MAX_UPLOAD, prevent_thread_lock=not block,
                show_error=True, quiet=True)
    return demo
