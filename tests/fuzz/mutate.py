"""One mutation per category; each takes (rng, model) and returns (what it did, files to write)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from tests.fuzz.models import DATA, MODEL

INT_VALUES = [-(2**63), -7, -3, -1, 0, 1, 2, 3, 5, 64, 2**31, 2**40, 2**62, 2**63 - 1]
DIM_VALUES = [-3, -1, 0, 1, 2, 3, 7, 1000, 2**31, 2**62, 2**63 - 1]
FLOAT_VALUES = [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e-30, 1e30]
STRING_VALUES = [b"", b"bogus", b"NOTSET", b"SAME_UPPER", b"VALID", "\u00e9\u00e8".encode()]
DTYPES = [0, 1, 7, 8, 9, 10, 16, 21, 23, 99, 12345]


def pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def as_files(model: onnx.ModelProto) -> dict[str, bytes]:
    return {MODEL: model.SerializeToString()}


def value_infos(model):
    g = model.graph
    return [*g.input, *g.output, *g.value_info]


def truncate(rng, model):
    data = model.SerializeToString()
    cut = int(rng.integers(0, len(data)))
    return f"cut at {cut} of {len(data)} bytes", {MODEL: data[:cut]}


def bit_flips(rng, model):
    data = bytearray(model.SerializeToString())
    flips = [(int(rng.integers(len(data))), int(rng.integers(8))) for _ in range(int(rng.integers(1, 9)))]
    for position, bit in flips:
        data[position] ^= 1 << bit
    return f"bits flipped at {flips}", {MODEL: bytes(data)}


def random_value(rng, attr: onnx.AttributeProto) -> onnx.AttributeProto:
    A = onnx.AttributeProto
    name = attr.name
    if attr.type == A.INT:
        return helper.make_attribute(name, pick(rng, INT_VALUES))
    if attr.type == A.INTS:
        return helper.make_attribute(name, [pick(rng, INT_VALUES) for _ in range(int(rng.integers(0, 6)))], attr_type=A.INTS)
    if attr.type == A.FLOAT:
        return helper.make_attribute(name, pick(rng, FLOAT_VALUES))
    if attr.type == A.STRING:
        return helper.make_attribute(name, pick(rng, STRING_VALUES))
    if attr.type == A.GRAPH:
        return helper.make_attribute(name, helper.make_graph([], "empty", [], []))
    return helper.make_attribute(name, pick(rng, INT_VALUES))


def random_attribute(rng, model):
    node = pick(rng, model.graph.node)
    action = pick(rng, ["set", "set", "add", "drop", "retype"])
    if action == "set" and node.attribute:
        index = int(rng.integers(len(node.attribute)))
        new = random_value(rng, node.attribute[index])
        node.attribute[index].CopyFrom(new)
        return f"{node.name}.{new.name} = {helper.get_attribute_value(new)!r}"[:200], as_files(model)
    if action == "drop" and node.attribute:
        index = int(rng.integers(len(node.attribute)))
        name = node.attribute[index].name
        del node.attribute[index]
        return f"{node.name}: attribute {name} dropped", as_files(model)
    if action == "retype" and node.attribute:
        index = int(rng.integers(len(node.attribute)))
        name = node.attribute[index].name
        node.attribute[index].CopyFrom(helper.make_attribute(name, pick(rng, [1.5, "text", [1, 2]])))
        return f"{node.name}: attribute {name} retyped", as_files(model)
    name = pick(rng, ["axis", "group", "kernel_shape", "fuzz_attr", "perm", "pads"])
    node.attribute.append(helper.make_attribute(name, pick(rng, [pick(rng, INT_VALUES), [2, 2], -1])))
    return f"{node.name}: attribute {name} added", as_files(model)


def random_dims(rng, model):
    if rng.random() < 0.3 and model.graph.initializer:
        tensor = pick(rng, model.graph.initializer)
        if tensor.dims:
            index = int(rng.integers(len(tensor.dims)))
            tensor.dims[index] = max(-(2**63), min(2**63 - 1, pick(rng, DIM_VALUES)))
            return f"initializer {tensor.name} dim {index} = {tensor.dims[index]}", as_files(model)
    value = pick(rng, value_infos(model))
    dims = value.type.tensor_type.shape.dim
    action = pick(rng, ["value", "value", "symbol", "rank+", "rank-", "clear"])
    if action == "rank+" or not dims:
        dims.add().dim_value = pick(rng, [1, 2, 5])
    elif action == "rank-":
        del dims[int(rng.integers(len(dims)))]
    elif action == "clear":
        value.type.tensor_type.ClearField("shape")
    else:
        dim = dims[int(rng.integers(len(dims)))]
        if action == "symbol":
            dim.dim_param = pick(rng, ["batch", "n", "unk__0", " "])
        else:
            dim.dim_value = pick(rng, DIM_VALUES)
    return f"{value.name}: {action} -> {helper.printable_type(value.type)}", as_files(model)


def cycle(rng, model):
    nodes = model.graph.node
    k = int(rng.integers(len(nodes)))
    if rng.random() < 0.3 or k == 0:
        node = nodes[k]
        if node.input:
            node.input[0] = node.output[0]
        else:
            node.input.append(node.output[0])
        return f"{node.name} reads its own output", as_files(model)
    j = int(rng.integers(k))
    nodes[j].input[0] = nodes[k].output[0]
    return f"{nodes[j].name} reads {nodes[k].name}'s output", as_files(model)


def dangling(rng, model):
    action = pick(rng, ["input", "input", "output", "subgraph"])
    if action == "output":
        model.graph.output[0].name = "ghost_output"
        return "graph output renamed to a name nobody writes", as_files(model)
    for node in model.graph.node:
        for attr in node.attribute:
            if action == "subgraph" and attr.type == onnx.AttributeProto.GRAPH and attr.g.node:
                attr.g.node[0].input[0] = "ghost_outer"
                return f"{node.name}'s body reads ghost_outer", as_files(model)
    node = pick(rng, [n for n in model.graph.node if n.input])
    index = int(rng.integers(len(node.input)))
    node.input[index] = "ghost"
    return f"{node.name} input {index} = ghost", as_files(model)


def duplicate(rng, model):
    g = model.graph
    action = pick(rng, ["graph input", "node output", "initializer", "output as input", "value_info", "graph output"])
    if action == "graph input":
        g.input.append(g.input[0])
    elif action == "node output" and len(g.node) > 1:
        g.node[-1].output[0] = g.node[0].output[0]
    elif action == "initializer" and g.initializer:
        g.initializer.append(g.initializer[0])
    elif action == "output as input":
        g.node[0].output[0] = g.input[0].name
    elif action == "value_info":
        g.value_info.extend([g.output[0], g.output[0]])
    else:
        g.output.append(g.output[0])
    return f"duplicated {action}", as_files(model)


def bad_dtype(rng, model):
    dtype = pick(rng, DTYPES)
    if rng.random() < 0.3 and model.graph.initializer:
        tensor = pick(rng, model.graph.initializer)
        tensor.data_type = dtype
        return f"initializer {tensor.name} data_type = {dtype}", as_files(model)
    value = pick(rng, value_infos(model))
    value.type.tensor_type.elem_type = dtype
    return f"{value.name} elem_type = {dtype}", as_files(model)


def huge_and_zero(rng, model):
    value = model.graph.input[0]
    dims = value.type.tensor_type.shape.dim
    size = pick(rng, [0, 0, 2**31, 2**40, 2**62, 2**63 - 1])
    chosen = range(len(dims)) if rng.random() < 0.4 else [int(rng.integers(len(dims)))]
    for index in chosen:
        dims[index].dim_value = size
    return f"input {value.name} dims {list(chosen)} = {size}", as_files(model)


def external_data(rng, model):
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(model, str(Path(tmp) / MODEL), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=DATA, size_threshold=0)
        saved = onnx.load(str(Path(tmp) / MODEL), load_external_data=False)
        data = (Path(tmp) / DATA).read_bytes()
    action = pick(rng, ["missing", "truncated", "escape", "absolute", "other name", "offset", "empty"])
    files = {DATA: data}
    if action == "missing":
        files = {}
    elif action == "truncated":
        files = {DATA: data[: int(rng.integers(len(data)))]}
    elif action == "empty":
        files = {DATA: b""}
    else:
        tensor = pick(rng, [t for t in saved.graph.initializer if t.external_data])
        entry = {e.key: e for e in tensor.external_data}
        if action == "offset":
            entry["offset"].value = str(len(data) + int(rng.integers(1, 1000)))
        else:
            entry["location"].value = {"escape": "../escape.bin", "absolute": "/etc/hostname", "other name": "absent.bin"}[action]
    files[MODEL] = saved.SerializeToString()
    return f"external data: {action}", files


def future_version(rng, model):
    action = pick(rng, ["opset", "opset", "ir", "zero opset", "ml opset", "no opsets", "conflicting"])
    newest = onnx.defs.onnx_opset_version()
    if action == "opset":
        model.opset_import[0].version = pick(rng, [newest + 1, newest + int(rng.integers(2, 100)), 99, 2**40])
    elif action == "ir":
        model.ir_version = pick(rng, [onnx.IR_VERSION + 1, 99, 2**40])
    elif action == "zero opset":
        model.opset_import[0].version = pick(rng, [0, -1])
    elif action == "ml opset":
        model.opset_import.append(helper.make_opsetid("ai.onnx.ml", pick(rng, [99, 2**31])))
    elif action == "no opsets":
        del model.opset_import[:]
    else:
        model.opset_import.append(helper.make_opsetid("", 9))
    return f"{action}: ir {model.ir_version}, opsets {[(o.domain, o.version) for o in model.opset_import]}", as_files(model)


def op_swap(rng, model):
    node = pick(rng, model.graph.node)
    if rng.random() < 0.25:
        node.domain = pick(rng, ["com.unknown", "ai.onnx.ml", "com.microsoft"])
        return f"{node.name} domain = {node.domain}", as_files(model)
    node.op_type = pick(rng, ["Relu", "Conv", "Add", "Frobnicate", "", "MatMul", "Reshape", "Concat", "Loop", "Split", "Constant"])
    return f"{node.name} op_type = {node.op_type!r}", as_files(model)


MUTATIONS = {
    "truncation": truncate, "bit flips": bit_flips, "random attributes": random_attribute, "random dims": random_dims,
    "cycles": cycle, "dangling names": dangling, "duplicated names": duplicate, "bad dtypes": bad_dtype,
    "huge and zero dims": huge_and_zero, "external data": external_data, "future versions": future_version,
    "op types": op_swap,
}
