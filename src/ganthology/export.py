"""Ship a trained model outside Python: its sampling function as ONNX or TorchScript.

What is exported follows from what the model does, not from its name:

- a model that draws images from codes: `generate(z)` (and `generate(z, y)` for a class-conditional
  one), inputs `z` (N, z_dim) and `y` (N,) int64, output `images` (N, C, H, W) in [-1, 1];
- a model that translates or upscales: `translate(x)` with its default options, input `x`;
- a model that fills holes: `inpaint(x, mask)`, inputs `x` and `mask` (N, 1, H, W), 1 in the hole.

The batch size is free in both formats (and, for fully convolutional upscalers, the image size).
A model whose output is random at inference (pix2pix's dropout, one-to-many translation, PixelDA's
z) cannot be reproduced by a traced graph, and a model that makes no images (DANN) has nothing to
export: both are refused in one sentence. ONNX uses PyTorch's TorchScript-based exporter (opset 17):
it traces in well under a second, where the dynamo exporter takes seconds per model.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .errors import GanthologyError

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
OPSET = 17


class Sampler(nn.Module):
    """The model's sampling function as a module whose forward takes tensors only."""

    def __init__(self, model, kind: str):
        super().__init__()
        self.model, self.kind = model, kind

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        m = self.model
        if self.kind == "translate":
            return m.translate(*inputs)
        if self.kind == "inpaint":
            return m.inpaint(*inputs)
        if self.kind == "generate_y":
            return m.generate(inputs[0], y=inputs[1])
        return m.generate(inputs[0])


def export_spec(model) -> tuple[Sampler, dict[str, torch.Tensor], dict[str, dict[int, str]]]:
    """(module, example inputs by name, dynamic axes by name) for `model`, or a one-sentence refusal."""
    name = model.name
    if not getattr(model, "generates", True):
        raise GanthologyError(f"{name} makes no images, so there is no generator to export.")
    if model.multimodal:
        raise GanthologyError(f"{name} draws a random code inside each translation, which an exported graph "
                              "cannot reproduce; export applies to models whose output is fixed by their input.")
    n = 2
    if model.translate is not None:
        c, side = model.input_spec()
        side = side or 24  # any size (upscalers): an example size, and H and W left free
        inputs = {"x": torch.zeros(n, c, side, side).uniform_(-1, 1)}
        kind = "translate"
        free = {0: "n"} if model.input_spec()[1] else {0: "n", 2: "h", 3: "w"}
        axes = {"x": free, "images": free if len(free) > 1 else {0: "n"}}
    elif model.inpaint is not None:
        c, side = model.input_spec()
        inputs = {"x": torch.zeros(n, c, side, side).uniform_(-1, 1), "mask": model.masks(n, "center").cpu()}
        kind = "inpaint"
        axes = {"x": {0: "n"}, "mask": {0: "n"}, "images": {0: "n"}}
    elif getattr(model.cfg, "z_dim", None) is not None:
        inputs = {"z": model.noise(n, device=torch.device("cpu"))}
        kind = "generate"
        if "y" in model.conditions:
            inputs["y"] = model.class_labels(n).cpu()
            kind = "generate_y"
        axes = {k: {0: "n"} for k in (*inputs, "images")}
    else:
        raise GanthologyError(f"{name} has no sampling function to export.")
    module = Sampler(model, kind).eval()
    with torch.no_grad():
        torch.manual_seed(0)
        a = module(*inputs.values())
        torch.manual_seed(1)
        b = module(*inputs.values())
    if not torch.equal(a, b):
        raise GanthologyError(f"{name}'s output is random at inference (dropout or noise inside it), which an "
                              "exported graph cannot reproduce; export applies to models whose output is fixed "
                              "by their input.")
    return module, inputs, axes


def export_model(model, fmt: str, out: str | Path) -> Path:
    """Write `model`'s sampling function to `out` as ONNX or TorchScript (atomically)."""
    from .train.checkpoint import atomic_write

    if fmt not in FORMATS:
        raise GanthologyError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    model = model.cpu().eval()
    module, inputs, axes = export_spec(model)
    out = Path(out)
    args = tuple(inputs.values())
    if fmt == "onnx":
        import warnings

        from importlib.util import find_spec

        if find_spec("onnx") is None:  # torch's exporter writes through it
            raise GanthologyError('ONNX export needs the onnx package: pip install -e ".[export]" '
                                  "(or pip install onnx onnxruntime).")

        def write(tmp):
            with warnings.catch_warnings():  # the TorchScript-based exporter announces its deprecation
                warnings.simplefilter("ignore")
                torch.onnx.export(module, args, str(tmp), input_names=list(inputs), output_names=["images"],
                                  dynamic_axes=axes, opset_version=OPSET, dynamo=False)
            _describe_onnx(tmp, model, inputs)
    else:
        def write(tmp):
            with torch.no_grad():
                traced = torch.jit.trace(module, args, check_trace=False)
            torch.jit.save(traced, str(tmp))
    atomic_write(out, write)
    return out


def _describe_onnx(path: Path, model, inputs: dict) -> None:
    """Metadata a user of the .onnx file needs: which model, what goes in, what comes out."""
    import onnx

    proto = onnx.load(str(path))
    meta = {"ganthology_model": model.name, "inputs": ", ".join(inputs),
            "images": "float32 (N, C, H, W) in [-1, 1]"}
    if "z" in inputs:
        meta["z"] = f"float32 (N, {inputs['z'].shape[1]}) from the {model.prior} prior"
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(path))
