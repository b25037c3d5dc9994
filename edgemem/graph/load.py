"""File -> onnx.ModelProto, with every way a file can be bad turned into one clear error.

Weights stored as external data are not read into memory: only their headers are, and each
external file is checked for existence and length. This is what makes models above 2 GB
load (protobuf cannot hold them in one message) and keeps loading fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from onnx import ModelProto, TensorProto
from onnx.external_data_helper import ExternalDataInfo, uses_external_data

from edgemem.errors import ModelLoadError


def load_model(path: str | os.PathLike) -> ModelProto:
    """Read ``path`` as an ONNX model without loading external weight data."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: no such file")
    if not path.is_file():
        raise ModelLoadError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path}: file is empty, not an ONNX model")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, RuntimeError from the C++ parser, ...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelLoadError(
            f"{path}: cannot parse ONNX protobuf ({reason}); the file is truncated, corrupted or not an ONNX model"
        ) from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output and not model.opset_import):
        raise ModelLoadError(f"{path}: parsed, but holds no ONNX graph; the file is truncated or not an ONNX model")
    check_external_data(model, path.parent)
    return model


def iter_all_tensors(model: ModelProto):
    """Every TensorProto in the model: initializers and Constant values, subgraphs included."""
    def walk(graph):
        yield from graph.initializer
        for node in graph.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    yield attr.t
                elif attr.type == onnx.AttributeProto.GRAPH:
                    yield from walk(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for g in attr.graphs:
                        yield from walk(g)

    yield from walk(model.graph)


def check_external_data(model: ModelProto, base_dir: Path) -> None:
    """Fail with one line when an external-data file is missing or shorter than a tensor needs."""
    for tensor in iter_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        info = ExternalDataInfo(tensor)
        location = Path(info.location)
        if location.is_absolute() or ".." in location.parts:
            raise ModelLoadError(f"tensor {tensor.name!r}: external data location {info.location!r} escapes the model folder")
        data_path = base_dir / location
        if not data_path.is_file():
            raise ModelLoadError(
                f"tensor {tensor.name!r}: external data file {str(data_path)!r} is missing",
                hint="keep the weight file next to the .onnx file under the name the model records",
            )
        offset = int(info.offset or 0)
        if info.length is not None and info.length != "":
            needed = offset + int(info.length)
            actual = data_path.stat().st_size
            if actual < needed:
                raise ModelLoadError(
                    f"tensor {tensor.name!r}: external data file {str(data_path)!r} is truncated ({actual} bytes, needs {needed})"
                )


def tensor_shape(tensor: TensorProto) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.dims)


def default_opset(model: ModelProto) -> int:
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            return int(opset.version)
    return 0
