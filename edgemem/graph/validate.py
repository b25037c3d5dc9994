"""What makes a model one that ONNX Runtime would refuse, found before sizing and after it.

Errors (one line each) for what no runtime can run: a file newer than onnx reads, a graph input
declared twice, a node without outputs, an input of undefined element type, Conv channels that do not match the weight, a view (Reshape ...) that changes the number of
elements, tensors too large to address. Warnings (notes that start with "warning:") for what the
ONNX checker or its strict shape inference reject while edgemem can still size the model: runtimes
run much the same checks when they load a model, so the warning quotes the reason.
"""

from __future__ import annotations

import math
from typing import Mapping

import onnx
from onnx import ModelProto

from edgemem.errors import GraphError, ShapeError
from edgemem.graph.dtypes import ONNX_TYPES
from edgemem.graph.load import iter_all_tensors
from edgemem.graph.types import Node, TensorInfo

# No device addresses this much; it also keeps every byte count inside int64 for the planners.
MAX_MODEL_BYTES = 2**56
DEFAULT_DOMAINS = ("", "ai.onnx")
VIEW_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
MESSAGE_CHARS = 300


def check_versions(model: ModelProto) -> None:
    """The IR version and every known domain's opset must be ones this onnx (and ONNX Runtime) reads."""
    if model.ir_version > onnx.IR_VERSION:
        raise GraphError(
            f"the model's IR version {model.ir_version} is newer than onnx {onnx.__version__} reads "
            f"(up to {onnx.IR_VERSION}); ONNX Runtime refuses such a file too",
            hint="re-export the model with an older IR version, or upgrade onnx",
        )
    known = onnx.defs.C.schema_version_map()
    for opset in model.opset_import:
        domain = opset.domain or "ai.onnx"
        lowest, highest = known.get("" if domain == "ai.onnx" else domain, (None, None))
        if highest is not None and opset.version > highest:
            raise GraphError(
                f"the model imports opset {opset.version} of domain {domain}, newer than onnx {onnx.__version__} "
                f"knows (up to {highest}); ONNX Runtime refuses it too",
                hint="re-export the model with an older opset, or upgrade onnx",
            )
        if opset.version < 1:
            raise GraphError(f"the model imports opset {opset.version} of domain {domain}: opset versions start at 1")


def check_declarations(model: ModelProto, weights: set[str]) -> None:
    """Graph inputs declared once; declared values of a defined element type; every node writes something."""
    seen: set[str] = set()
    for value in model.graph.input:
        if value.name in seen:
            raise GraphError(f"graph input {value.name!r} is declared twice; ONNX requires one definition per name",
                             hint="remove the duplicate from the model's graph inputs")
        seen.add(value.name)
        if value.name not in weights:
            check_input(value)
    for role, values in (("graph output", model.graph.output), ("value_info", model.graph.value_info)):
        for value in values:
            check_element_type(value, role)
    for index, node in enumerate(model.graph.node):
        if not any(node.output):
            label = node.name or f"{node.op_type}_{index}"
            raise GraphError(f"node {label!r} ({node.op_type}) has no outputs; every ONNX node must write at least one tensor")


def check_input(value: onnx.ValueInfoProto) -> None:
    if value.type.WhichOneof("value") is None:
        raise ShapeError(f"input {value.name!r} declares no type: the model does not say what it holds", tensors=(value.name,))
    check_element_type(value, "input")
    dims = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else ()
    for index, dim in enumerate(dims):
        if dim.HasField("dim_value") and dim.dim_value == 0:
            raise ShapeError(f"input {value.name!r} declares dimension {index} as 0: it would hold no data, and most ops "
                             "(Conv, pooling ...) refuse empty inputs", hint=f"bind it with --input-shape {value.name}=...",
                             tensors=(value.name,))


def check_element_type(value: onnx.ValueInfoProto, role: str) -> None:
    if not value.type.HasField("tensor_type"):
        return
    elem_type = value.type.tensor_type.elem_type
    if elem_type == onnx.TensorProto.UNDEFINED:
        raise ShapeError(f"{role} {value.name!r} has an undefined element type: the model does not say what the tensor holds "
                         "(ONNX Runtime refuses it too)", tensors=(value.name,))
    if elem_type not in ONNX_TYPES:
        raise ShapeError(f"{role} {value.name!r} has element type {elem_type}, which is not an ONNX type", tensors=(value.name,))


def unsized_input_reason(value: onnx.ValueInfoProto) -> str:
    """Why a graph input has no static size, in the words of its declaration."""
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        return f"input {value.name!r} is a {kind or 'value of no type'}, not a tensor"
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape"):
        return f"input {value.name!r} declares no shape"
    reasons = []
    for index, dim in enumerate(tensor_type.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value < 0:
            reasons.append(f"dimension {index} is {dim.dim_value}, which is not a size (ONNX dimensions are >= 0 or named)")
        elif dim.HasField("dim_param") and dim.dim_param:
            reasons.append(f"dimension {index} is the symbol {dim.dim_param!r}")
        elif not dim.HasField("dim_value"):
            reasons.append(f"dimension {index} is unknown")
    return f"input {value.name!r}: " + "; ".join(reasons) if reasons else f"input {value.name!r} is not fully sized"


def checker_notes(model: ModelProto, path: str, serialized: bytes | None = None) -> list[str]:
    """The ONNX checker's objection to the file (structure and schemas), as a warning note.
    ``serialized``, when given, is ``model`` already serialized (the checker reads it instead)."""
    uses_external = any(onnx.external_data_helper.uses_external_data(t) for t in iter_all_tensors(model))
    if uses_external and not path:
        return []
    try:
        # With external data the checker needs the file's path (it resolves the data files against it);
        # that file is small then, as its weights live beside it.
        onnx.checker.check_model(path if uses_external else (model if serialized is None else serialized))
    except Exception as exc:  # ValidationError, and ValueError for protobufs over 2 GiB
        return [f"warning: the ONNX checker rejects the model ({first_line(exc)}); a runtime may refuse it"]
    return []


def strict_inference(bound_model: ModelProto | bytes) -> tuple[ModelProto | None, list[str]]:
    """Strict ONNX shape and type inference (what ONNX Runtime runs at load) of a model (or its
    serialized bytes): the inferred model, or None and a warning note that quotes the objection
    (it names the node)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(bound_model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:
        return None, [f"warning: strict ONNX shape inference rejects the model ({first_line(exc)}); the sizes edgemem "
                      "uses may not be the ones a runtime computes"]
    return inferred, []


def first_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.replace("[ShapeInferenceError] Inference error(s): ", "")
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."


def check_total_size(tensors: Mapping[str, TensorInfo]) -> None:
    """Refuse byte counts that no device holds (and that would overflow the planners' int64)."""
    total = sum(t.size_bytes for t in tensors.values())
    if total <= MAX_MODEL_BYTES:
        return
    largest = max(tensors.values(), key=lambda t: t.size_bytes)
    shape = "x".join(map(str, largest.shape)) or "scalar"
    raise ShapeError(
        f"the model's tensors add up to about 2^{total.bit_length() - 1} bytes, more than any device addresses "
        f"(edgemem plans up to 2^{MAX_MODEL_BYTES.bit_length() - 1}); largest: {largest.name!r} {largest.dtype} {shape}",
        hint="check the model's declared dimensions and the --dim/--input-shape values",
        tensors=(largest.name,),
    )


def check_node_shapes(model: ModelProto, nodes: list[Node], tensors: Mapping[str, TensorInfo]) -> None:
    """Conv channels against the weight; views keep the number of elements. Both fail in ONNX Runtime at run time."""
    for proto, node in zip(model.graph.node, nodes):
        op_type = proto.op_type
        if (op_type != "Conv" and op_type not in VIEW_OPS) or proto.domain not in DEFAULT_DOMAINS:
            continue
        shapes = [tensors[name].shape if name in tensors else None for name in proto.input]
        outputs = [tensors[name].shape if name in tensors else None for name in proto.output]
        if op_type == "Conv" and len(shapes) >= 2:
            check_conv(node, proto, shapes[0], shapes[1])
        elif op_type in VIEW_OPS and shapes and outputs:
            check_view(node, shapes[0], outputs[0])


def check_conv(node: Node, proto: onnx.NodeProto, x_shape, w_shape) -> None:
    if x_shape is None or w_shape is None or len(x_shape) < 2 or len(w_shape) < 2:
        return
    group = next((a.i for a in proto.attribute if a.name == "group"), 1)
    where = f"node {node.name!r} (Conv)"
    if group < 1 or w_shape[0] % group:
        raise GraphError(f"{where}: group {group} does not divide the weight's {w_shape[0]} output channels")
    if x_shape[1] != w_shape[1] * group:
        raise GraphError(
            f"{where}: input {proto.input[0]!r} has {x_shape[1]} channels, but weight {proto.input[1]!r} "
            f"({'x'.join(map(str, w_shape))}, group {group}) expects {w_shape[1] * group}; ONNX Runtime fails on this node",
        )


def check_view(node: Node, in_shape, out_shape) -> None:
    if in_shape is None or out_shape is None:
        return
    before, after = math.prod(in_shape), math.prod(out_shape)
    if before != after:
        raise GraphError(
            f"node {node.name!r} ({node.op_type}) turns {before} elements ({'x'.join(map(str, in_shape)) or 'scalar'}) "
            f"into {after} ({'x'.join(map(str, out_shape)) or 'scalar'}); a {node.op_type} cannot change the element count",
        )
