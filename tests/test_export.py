"""`ganthology export`: every model whose sampling function is fixed by its inputs exports to ONNX and
TorchScript, and the exported graph, run by onnxruntime / torch.jit with another batch size than
it was traced with, gives PyTorch's output: within 1e-4 for ONNX (other kernels; outputs lie in
[-1, 1]), exactly for TorchScript. The others say in one sentence why they cannot."""
from __future__ import annotations

import pytest
import torch

import ganthology
from ganthology.data import build_dataset
from ganthology.errors import GanthologyError
from ganthology.export import export_model, export_spec

from .conftest import offline_dataset_for, run_cli, tiny

ONNX_ATOL = 1e-4
#: the models whose output is random at inference or that make no images: refused, with the reason
NOT_EXPORTABLE = {"pix2pix": "random at inference", "pixelda": "random at inference",
                  "munit": "random code", "bicyclegan": "random code", "dann": "makes no images"}


def _model(name):
    cls = ganthology.get_model(name)
    data = build_dataset(offline_dataset_for(cls))
    torch.manual_seed(0)
    model = cls(ganthology.make_config(name, **tiny(name)), data.info())
    model.bind_data(data)
    return model.eval()


@pytest.mark.parametrize("name", ganthology.list_models())
def test_export_runs_outside_pytorch_and_matches_it(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = _model(name)
    if name in NOT_EXPORTABLE:
        with pytest.raises(GanthologyError, match=NOT_EXPORTABLE[name]):
            export_spec(model)
        return
    module, inputs, _ = export_spec(model)
    onnx_file = export_model(model, "onnx", tmp_path / "g.onnx")
    ts_file = export_model(model, "torchscript", tmp_path / "g.pt")
    new = {k: torch.cat([v, v[:1]]) for k, v in inputs.items()}  # batch 3: the traced graph had 2
    if "z" in new:
        new["z"] = model.noise(3, device=torch.device("cpu"))
    with torch.no_grad():
        expected = module(*new.values())
    session = ort.InferenceSession(str(onnx_file))
    got = torch.from_numpy(session.run(None, {k: v.numpy() for k, v in new.items()})[0])
    assert got.shape == expected.shape
    assert (got - expected).abs().max() <= ONNX_ATOL
    assert torch.equal(torch.jit.load(str(ts_file))(*new.values()), expected)


def test_export_from_the_command_line(tmp_path):
    pytest.importorskip("onnx")
    run = tmp_path / "run"
    r = run_cli("train", "dcgan", "--dataset", "digits", "--steps", "2", "--ngf", "8", "--ndf", "8", "--out", str(run),
                "--no-progress")
    assert r.returncode == 0, r.stderr
    for fmt, name in (("onnx", "generator.onnx"), ("torchscript", "generator.torchscript.pt")):
        r = run_cli("export", str(run), "--format", fmt)
        assert r.returncode == 0 and (run / name).is_file(), r.stderr
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(run / "generator.onnx")).metadata_props}
    assert meta["ganthology_model"] == "dcgan" and meta["inputs"] == "z"
