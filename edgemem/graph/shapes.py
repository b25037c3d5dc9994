"""Size every value of the graph, trying cheap static methods first.

Chain (each step only for what is still unknown; the source of every size is recorded):
  declared  value_info / outputs already static in the file
  bound     graph inputs fixed by --input-shape / --dim
  onnx      onnx.shape_inference with data propagation on the bound model
  symbolic  onnxruntime's symbolic shape inference (auto_merge)
  folded    constant folding (onnxslim) on a copy; sizes mapped back by tensor name
  probe     opt-in: one ONNX Runtime run with generated inputs, reading real output shapes
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

import onnx
from onnx import ModelProto, TypeProto, ValueInfoProto

from edgemem.errors import ShapeError, UsageError
from edgemem.graph.load import iter_all_tensors
from edgemem.graph.types import LoadOptions

Dims = tuple  # of int | str | None
SizedValue = tuple[int, tuple[int, ...], str]  # (elem_type, shape, source)


def dims_of(type_proto: TypeProto) -> tuple[int, Dims | None]:
    """(elem_type, dims) of a tensor type; dims entries are int, a symbol name, or None."""
    if not type_proto.HasField("tensor_type"):
        return 0, None
    tensor_type = type_proto.tensor_type
    if not tensor_type.HasField("shape"):
        return tensor_type.elem_type, None
    dims = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value >= 0:
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param") and dim.dim_param:
            dims.append(dim.dim_param)
        else:
            dims.append(None)
    return tensor_type.elem_type, tuple(dims)


def static_shape(elem_type: int, dims: Dims | None) -> tuple[int, ...] | None:
    if not elem_type or dims is None or not all(isinstance(d, int) for d in dims):
        return None
    return tuple(dims)


def _collect(values: Iterable[ValueInfoProto]) -> dict[str, tuple[int, tuple[int, ...]]]:
    found = {}
    for value in values:
        elem_type, dims = dims_of(value.type)
        shape = static_shape(elem_type, dims)
        if shape is not None:
            found[value.name] = (elem_type, shape)
    return found


def bind_inputs(model: ModelProto, weights: set[str], options: LoadOptions) -> tuple[ModelProto, set[str]]:
    """Copy of ``model`` whose graph inputs have the user's shapes and dims; returns the names bound.

    With nothing to bind, ``model`` itself (no step downstream changes it in place)."""
    if not options.input_shapes and not options.dims:
        return model, set()
    for name, dims in options.input_shapes.items():
        if any(d < 1 for d in dims):
            raise UsageError(f"--input-shape {name}={'x'.join(map(str, dims))}: every dimension must be at least 1")
    for symbol, value in options.dims.items():
        if value < 1:
            raise UsageError(f"--dim {symbol}={value}: a dimension must be at least 1")
    bound_model = copy.copy(model)
    bound_model.CopyFrom(model)
    inputs = [i for i in bound_model.graph.input if i.name not in weights]
    names = {i.name for i in inputs}
    for name in options.input_shapes:
        if name not in names:
            raise UsageError(f"--input-shape names {name!r}, which is not a graph input", hint=f"graph inputs: {', '.join(sorted(names)) or 'none'}")
    symbols = {d for i in inputs for d in (dims_of(i.type)[1] or ()) if isinstance(d, str)}
    for symbol in options.dims:
        if symbol not in symbols:
            raise UsageError(f"--dim names {symbol!r}, which no graph input uses", hint=f"symbolic dims: {', '.join(sorted(symbols)) or 'none'}")
    bound: set[str] = set()
    for value in inputs:
        elem_type, dims = dims_of(value.type)
        if value.name in options.input_shapes:
            new_dims = tuple(options.input_shapes[value.name])
            if dims is not None and len(dims) != len(new_dims):
                raise UsageError(f"--input-shape {value.name}: model input has rank {len(dims)}, got {len(new_dims)} dims")
            for old, new in zip(dims or (), new_dims):
                if isinstance(old, int) and old != new:
                    raise UsageError(f"--input-shape {value.name}: dimension fixed to {old} in the model, got {new}")
        elif dims is not None and any(isinstance(d, str) and d in options.dims for d in dims):
            new_dims = tuple(options.dims.get(d, d) if isinstance(d, str) else d for d in dims)
        else:
            continue
        shape = value.type.tensor_type.shape
        del shape.dim[:]
        for d in new_dims:
            entry = shape.dim.add()
            if isinstance(d, int):
                entry.dim_value = d
            elif isinstance(d, str):
                entry.dim_param = d
        if static_shape(elem_type, new_dims) is not None:
            bound.add(value.name)
    return bound_model, bound


def infer_onnx(model: ModelProto) -> tuple[ModelProto, dict]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception:
        return model, {}
    return inferred, collect_inferred(inferred)


def collect_inferred(inferred: ModelProto) -> dict:
    g = inferred.graph
    return _collect([*g.value_info, *g.output, *g.input])


def infer_symbolic(model: ModelProto) -> dict:
    """ONNX Runtime's symbolic shape inference; keeps whatever it sized even when it is incomplete.

    Its ``infer_shapes`` entry point raises on incomplete inference and writes a temporary file
    into the current directory, so the engine is driven step by step here instead, inside a
    temporary working directory as a guard.
    """
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    except Exception:
        return {}
    logging.getLogger("onnxruntime.tools.symbolic_shape_infer").setLevel(logging.CRITICAL)
    cwd = os.getcwd()
    try:
        with tempfile.TemporaryDirectory(prefix="edgemem-sym-") as tmp, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            os.chdir(tmp)
            try:
                engine = SymbolicShapeInference(2**31 - 1, True, False, 0)
                engine._preprocess(model)
                while engine.run_:
                    engine._infer_impl()
                engine._update_output_from_vi()
                inferred = engine.out_mp_
            finally:
                os.chdir(cwd)
    except BaseException as exc:  # it raises AssertionError and others on some real models
        if isinstance(exc, KeyboardInterrupt):
            raise
        return {}
    g = inferred.graph
    return _collect([*g.value_info, *g.output])


def infer_folded(model: ModelProto, model_dir: Path) -> dict:
    """Constant-fold a copy with onnxslim (no fusions) and read the shapes it infers."""
    try:
        import onnxslim
        from onnxslim.argparser import DEFAULT_FUSION_PATTERNS
    except Exception:
        return {}
    work = copy.copy(model)
    work.CopyFrom(model)
    try:
        if any(onnx.external_data_helper.uses_external_data(t) for t in iter_all_tensors(work)):
            onnx.external_data_helper.load_external_data_for_model(work, str(model_dir))
        logging.getLogger("onnxslim").setLevel(logging.CRITICAL)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            slimmed = onnxslim.slim(work, skip_fusion_patterns=list(DEFAULT_FUSION_PATTERNS), model_check=False)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return {}
    if slimmed is None:
        return {}
    _, found = infer_onnx(slimmed)
    g = slimmed.graph
    found.update(_collect([*g.value_info, *g.output]))
    return found


def probe_shapes(model: ModelProto, model_dir: Path, names: list[str], input_shapes: Mapping[str, tuple]) -> dict:
    """Run the model once under ONNX Runtime with generated inputs; return real shapes of ``names``."""
    import numpy as np

    try:
        import onnxruntime as ort
    except Exception:
        raise ShapeError("--probe needs onnxruntime, which is not installed", hint="pip install onnxruntime") from None
    work = copy.copy(model)
    work.CopyFrom(model)
    existing = {o.name for o in work.graph.output}
    for name in names:
        if name not in existing:
            work.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    feeds = {}
    for value in work.graph.input:
        if value.name not in input_shapes:
            continue
        elem_type = value.type.tensor_type.elem_type
        np_type = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
        shape = input_shapes[value.name]
        rng = np.random.default_rng(0)
        if np.issubdtype(np_type, np.floating):
            feeds[value.name] = rng.random(shape, dtype=np.float32).astype(np_type)
        else:
            feeds[value.name] = np.zeros(shape, dtype=np_type)
    with tempfile.TemporaryDirectory(prefix="edgemem-probe-") as tmp:
        for tensor in iter_all_tensors(work):
            if onnx.external_data_helper.uses_external_data(tensor):
                location = onnx.external_data_helper.ExternalDataInfo(tensor).location
                link = Path(tmp) / location
                if not link.exists():
                    link.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink((model_dir / location).resolve(), link)
        path = Path(tmp) / "probe.onnx"
        onnx.save(work, str(path))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            outputs = session.run(names, feeds)
        except Exception as exc:
            reason = " ".join(str(exc).split())[:300]
            raise ShapeError(f"--probe: ONNX Runtime could not run the model with generated inputs ({reason})") from None
    found = {}
    for name, array in zip(names, outputs):
        if hasattr(array, "shape") and hasattr(array, "dtype"):
            found[name] = (onnx.helper.np_dtype_to_tensor_dtype(array.dtype), tuple(int(d) for d in array.shape))
    return found
