"""Plain records for a loaded graph. Standard library only: memory/ and output/ import these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

# How a tensor's size was obtained, from most to least static.
SIZE_SOURCES = (
    "initializer",  # weight stored in the file
    "declared",  # graph input/output or value_info in the file, fully static
    "bound",  # graph input whose symbolic dims were bound by --input-shape / --dim
    "onnx",  # onnx.shape_inference with data propagation
    "symbolic",  # onnxruntime's symbolic shape inference
    "folded",  # constant folding (onnxslim) on a copy, mapped back by name
    "probe",  # one ONNX Runtime run with generated inputs (--probe)
)


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One value of the graph. ``shape`` is None only for values that are not sized (never in a Graph)."""

    name: str
    dtype: str  # ONNX element type name, e.g. "FLOAT", "INT4"
    shape: tuple[int, ...]
    size_bytes: int
    kind: str  # "input" | "activation" | "weight"
    source: str  # one of SIZE_SOURCES
    producer: str | None = None  # node name; None for inputs and initializers


@dataclass(frozen=True, slots=True)
class Node:
    """One node. ``inputs`` lists every value it reads (for If/Loop/Scan: also outer names its bodies read)."""

    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    has_subgraph: bool = False


@dataclass(frozen=True)
class Graph:
    """A validated graph in a topological stored order, with every tensor sized."""

    name: str
    path: str
    opset: int
    nodes: tuple[Node, ...]
    tensors: Mapping[str, TensorInfo]
    inputs: tuple[str, ...]  # graph inputs that are not initializers
    outputs: tuple[str, ...]
    notes: tuple[str, ...] = ()  # facts the report should mention (e.g. stored order re-sorted)

    @property
    def weights_bytes(self) -> int:
        return sum(t.size_bytes for t in self.tensors.values() if t.kind == "weight")

    @property
    def activations_total_bytes(self) -> int:
        return sum(t.size_bytes for t in self.tensors.values() if t.kind != "weight")


@dataclass(frozen=True)
class LoadOptions:
    """How to load and size a model (the CLI's --input-shape, --dim, --probe)."""

    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    dims: Mapping[str, int] = field(default_factory=dict)
    probe: bool = False
    fold_constants: bool = True
    string_element_bytes: int = 32  # sizeof(std::string) in ONNX Runtime on 64-bit Linux
