"""load -> check structure -> size every value -> Graph."""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from onnx import ModelProto, TensorProto

from edgemem.errors import ShapeError
from edgemem.graph import fold, shapes, validate
from edgemem.graph.dtypes import dtype_name, size_bytes_of
from edgemem.graph.initializers import check_initializers
from edgemem.graph.load import default_opset, load_model, tensor_shape
from edgemem.graph.structure import check_and_order, nodes_from_graph
from edgemem.graph.types import Graph, LoadOptions, Node, TensorInfo

WEIGHT_OPS = {("", "Constant"), ("ai.onnx", "Constant")}


def graph_from_path(path: str | os.PathLike, options: LoadOptions) -> Graph:
    path = Path(path)
    model = load_model(path)
    return graph_from_model(model, options, model_dir=path.parent, name=path.name, path=str(path))


def graph_from_model(model: ModelProto, options: LoadOptions, model_dir: Path, name: str, path: str = "") -> Graph:
    g = model.graph
    validate.check_versions(model)
    weights = weight_values(model)
    validate.check_declarations(model, set(weights))
    check_initializers(model)
    graph_inputs = [i.name for i in g.input if i.name not in weights]
    graph_outputs = [o.name for o in g.output]
    all_nodes = nodes_from_graph(g)
    nodes = [n for n in all_nodes if (n.domain, n.op_type) not in WEIGHT_OPS]
    ordered, notes = check_and_order(nodes, set(graph_inputs), set(weights), graph_outputs)
    constants = len(all_nodes) - len(nodes)
    if constants:
        notes.append(f"{constants} Constant node(s) are counted as weights, not as steps")
    bound_model, _ = shapes.bind_inputs(model, set(weights), options)
    serialized = _serialized(model) if bound_model is model else None  # once, for both checks below
    inferred, inference_notes = validate.strict_inference(serialized if serialized is not None else bound_model)
    notes += validate.checker_notes(model, path, serialized) + inference_notes
    sized = size_values(model, bound_model, inferred, model_dir, weights, graph_inputs, ordered, options)
    tensors: dict[str, TensorInfo] = {}
    for wname, (elem_type, shape) in weights.items():
        tensors[wname] = _info(wname, elem_type, shape, "weight", "initializer", None, options)
    for iname in graph_inputs:
        elem_type, shape, source = sized[iname]
        tensors[iname] = _info(iname, elem_type, shape, "input", source, None, options)
    for node in ordered:
        for out in node.outputs:
            elem_type, shape, source = sized[out]
            tensors[out] = _info(out, elem_type, shape, "activation", source, node.name, options)
    validate.check_total_size(tensors)
    validate.check_node_shapes(model, all_nodes, tensors)
    return Graph(
        name=name or g.name,
        path=path,
        opset=default_opset(model),
        nodes=tuple(ordered),
        tensors=tensors,
        inputs=tuple(graph_inputs),
        outputs=tuple(graph_outputs),
        notes=tuple(notes),
    )


def _serialized(model: ModelProto) -> bytes | None:
    """The model's bytes, or None when protobuf cannot write them (each check then reports why)."""
    try:
        return model.SerializeToString()
    except Exception:
        return None


def _info(name, elem_type, shape, kind, source, producer, options) -> TensorInfo:
    size = size_bytes_of(elem_type, shape, name, options.string_element_bytes)
    return TensorInfo(name=name, dtype=dtype_name(elem_type), shape=shape, size_bytes=size, kind=kind, source=source, producer=producer)


def weight_values(model: ModelProto) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Initializers and Constant node outputs of the main graph: name -> (elem_type, shape)."""
    g = model.graph
    found = {t.name: (t.data_type, tensor_shape(t)) for t in g.initializer}
    for sparse in g.sparse_initializer:
        found[sparse.values.name] = (sparse.values.data_type, tuple(int(d) for d in sparse.dims))
    for node in g.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
            found[node.output[0]] = constant_value_type(node)
    return found


def constant_value_type(node: onnx.NodeProto) -> tuple[int, tuple[int, ...]]:
    for attr in node.attribute:
        if attr.name == "value":
            return attr.t.data_type, tensor_shape(attr.t)
        if attr.name == "sparse_value":
            return attr.sparse_tensor.values.data_type, tuple(int(d) for d in attr.sparse_tensor.dims)
        if attr.name == "value_float":
            return TensorProto.FLOAT, ()
        if attr.name == "value_floats":
            return TensorProto.FLOAT, (len(attr.floats),)
        if attr.name == "value_int":
            return TensorProto.INT64, ()
        if attr.name == "value_ints":
            return TensorProto.INT64, (len(attr.ints),)
        if attr.name == "value_string":
            return TensorProto.STRING, ()
        if attr.name == "value_strings":
            return TensorProto.STRING, (len(attr.strings),)
    return TensorProto.FLOAT, ()


def size_values(model, bound_model, inferred, model_dir, weights, graph_inputs, nodes: list[Node], options: LoadOptions) -> dict:
    """name -> (elem_type, shape, source) for every graph input and node output, or ShapeError.

    ``inferred`` is the bound model after strict ONNX inference (None when that refused the model:
    the lenient inference runs here instead)."""
    g = model.graph
    needed = list(graph_inputs) + [o for n in nodes for o in n.outputs]
    declared = shapes._collect([*g.value_info, *g.output, *g.input])
    sized: dict[str, tuple[int, tuple[int, ...], str]] = {}

    def take(found: dict, source: str) -> None:
        for value in needed:
            if value not in sized and value in found:
                sized[value] = (*found[value], source)

    take(declared, "declared")
    take(shapes._collect(i for i in bound_model.graph.input if i.name not in weights), "bound")
    missing = lambda: [v for v in needed if v not in sized]  # noqa: E731
    if missing():
        found = shapes.collect_inferred(inferred) if inferred is not None else shapes.infer_onnx(bound_model)[1]
        take(found, "onnx")
    if missing() and options.fold_constants:
        static = {name: shape for name, (_, shape) in weights.items()}
        static.update({name: value[1] for name, value in sized.items()})
        take(fold.fold_and_infer(bound_model, static, shapes.infer_onnx), "folded")
    if missing():
        take(shapes.infer_symbolic(bound_model), "symbolic")
    if missing() and options.fold_constants:
        take(shapes.infer_folded(bound_model, model_dir), "folded")
    unresolved_inputs = [i for i in graph_inputs if i not in sized]
    if missing() and options.probe and not unresolved_inputs:
        input_shapes = {i: sized[i][1] for i in graph_inputs}
        take(shapes.probe_shapes(bound_model, model_dir, missing(), input_shapes), "probe")
    left = missing()
    if left:
        raise_unresolved(left, unresolved_inputs, bound_model, nodes, options)
    return sized


def unknown_ops(names: list[str], nodes: list[Node]) -> list[str]:
    """Op types producing ``names`` that ONNX has no schema (and so no shape rule) for."""
    producer = {o: n for n in nodes for o in n.outputs}
    unknown = []
    for name in names:
        node = producer.get(name)
        if node is None:
            continue
        try:
            known = onnx.defs.has(node.op_type, node.domain)
        except Exception:
            known = False
        label = f"{node.domain + '.' if node.domain else ''}{node.op_type}"
        if not known and label not in unknown:
            unknown.append(label)
    return unknown


def raise_unresolved(left: list[str], unresolved_inputs: list[str], bound_model, nodes: list[Node], options: LoadOptions):
    shown = ", ".join(repr(n) for n in left[:8]) + (f" and {len(left) - 8} more" if len(left) > 8 else "")
    ops = unknown_ops(left, nodes)
    if ops and not unresolved_inputs:
        raise ShapeError(
            f"{len(left)} tensor(s) have no static size ({shown}): op(s) {', '.join(ops)} are unknown to ONNX shape inference",
            hint="declare their output shapes in the model's value_info, or add --probe if ONNX Runtime implements them",
            tensors=tuple(left),
        )
    if unresolved_inputs:
        values = [v for v in bound_model.graph.input if v.name in unresolved_inputs]
        symbols = [d for v in values for d in (shapes.dims_of(v.type)[1] or ()) if isinstance(d, str)]
        hint = "bind the inputs with --input-shape " + " --input-shape ".join(f"{i}=1x..." for i in unresolved_inputs[:3])
        if symbols:
            hint += " or --dim " + " --dim ".join(f"{s}=N" for s in dict.fromkeys(symbols))
        reasons = "; ".join(validate.unsized_input_reason(v) for v in values[:3]) + ("; ..." if len(values) > 3 else "")
        raise ShapeError(f"{len(left)} tensor(s) have no static size ({shown}) because {reasons}", hint=hint, tensors=tuple(left))
    if options.probe:
        raise ShapeError(f"{len(left)} tensor(s) have no static size even after --probe ({shown})", tensors=tuple(left))
    done = "shape inference and constant folding" if options.fold_constants else "shape inference (constant folding was off)"
    hint = "add --probe to read the real sizes from one ONNX Runtime run"
    if not options.fold_constants:
        hint = "drop --no-fold, or " + hint
    raise ShapeError(f"{len(left)} tensor(s) have no static size after {done} ({shown})", hint=hint, tensors=tuple(left))
