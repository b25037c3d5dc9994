"""PyTorch -> ONNX export and an ONNX Runtime parity check.

``export_onnx`` traces the model in eval mode with the TorchScript exporter (``dynamo=False``):
RED blocks, applied by forward hooks, are traced like any other op, so ``student.onnx`` holds
them as ordinary Conv/BatchNorm/Sigmoid/Clip/Mul/Add nodes. ``check_parity`` runs the same
seeded input through both and returns the largest absolute difference over all outputs.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

from edgemem.errors import EdgememError


class ExportError(EdgememError):
    """The model could not be exported to ONNX, or the export does not compute what the model does."""

    code = "export"


@contextlib.contextmanager
def eval_mode(model):
    """Put ``model`` in eval mode and restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model):
    """The device of the model's first parameter or buffer (CPU for a model without any)."""
    import torch

    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def example_input(input_shape, seed: int = 0, device=None):
    """A seeded standard-normal input, generated on the CPU (the same on every machine), then moved."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(*input_shape, generator=generator)
    return x if device is None else x.to(device)


def model_inputs(model, input_shape, seed: int = 0, device=None) -> tuple[tuple, list[str]]:
    """(example inputs, ONNX input names): one seeded image batch of ``input_shape``; a denoiser
    (``edgemem_task = "denoise"``) also takes its float timesteps, seeded in [0, num_timesteps)."""
    import torch

    x = example_input(input_shape, seed, device)
    if getattr(model, "edgemem_task", None) != "denoise":
        return (x,), ["input"]
    generator = torch.Generator().manual_seed(seed + 7919)
    steps = int(getattr(model, "num_timesteps", 1000))
    t = torch.randint(0, steps, (int(input_shape[0]),), generator=generator).float()
    return (x, t if device is None else t.to(device)), ["input", "timestep"]


def export_onnx(model, input_shape, path, opset: int = 17) -> Path:
    """Export ``model`` for a fixed ``input_shape`` to ``path`` (parents created); returns the path."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inputs, names = model_inputs(model, input_shape, device=model_device(model))
    with eval_mode(model), torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model, inputs, str(path), dynamo=False, opset_version=opset,
                input_names=names, do_constant_folding=True,
            )
        except Exception as exc:  # tracing / symbolic errors from torch.onnx
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ExportError(f"cannot export {type(model).__name__} to ONNX: {reason}") from None
    return path


def _flat_outputs(value) -> list:
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat_outputs(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flat_outputs(v)]
    return [value]


def check_parity(model, onnx_path, input_shape, atol: float = 1e-4, rtol: float = 1e-5) -> float:
    """Max abs difference between ``model`` and ``onnx_path`` under ONNX Runtime; ExportError above
    ``atol + rtol * max|PyTorch output|`` (float32 rounding grows with the outputs' scale)."""
    import numpy as np
    import onnxruntime as ort
    import torch

    inputs, _ = model_inputs(model, input_shape, seed=1)
    device = model_device(model)
    with eval_mode(model), torch.no_grad():
        expected = [t.detach().float().cpu().numpy() for t in _flat_outputs(model(*(i.to(device) for i in inputs)))]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    feeds = session.get_inputs()
    if len(feeds) != len(inputs):
        raise ExportError(f"{onnx_path}: takes {len(feeds)} inputs, the model {len(inputs)}")
    got = session.run(None, {feed.name: value.numpy() for feed, value in zip(feeds, inputs)})
    if len(got) != len(expected):
        raise ExportError(f"{onnx_path}: {len(got)} outputs under ONNX Runtime, the model returns {len(expected)}")
    diff, scale = 0.0, 0.0
    for a, b in zip(expected, got):
        if a.shape != b.shape:
            raise ExportError(f"{onnx_path}: output shape {tuple(b.shape)} under ONNX Runtime, the model gives {tuple(a.shape)}")
        if a.size:
            diff = max(diff, float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))))
            scale = max(scale, float(np.max(np.abs(a))))
    allowed = atol + rtol * scale
    if not diff <= allowed:
        raise ExportError(f"{onnx_path}: ONNX Runtime output differs from PyTorch by {diff:.3g} "
                          f"(allowed {allowed:.3g}: {atol:g} + {rtol:g} x the largest output {scale:.3g})")
    return diff
