"""ONNX Runtime's allocation planner (``allocation_planner.cc``, sequential execution) replayed
over edgemem's graph: which values get their own buffer, which share one, and when each buffer
is released.

Walking the execution order, each output of a node is, in this order of preference:

1. a graph output: its own buffer, handed to the caller and never reused;
2. input 0 itself, for alias kernels (Reshape, Flatten, Squeeze, Unsqueeze, Identity);
3. input 0's buffer, for in-place kernels, when this node is that buffer's last reader and the
   two have the same element size and shape;
4. a dead buffer from the free list (most recently freed first) with the same element size and
   exactly the same shape (not merely the same byte size; scalars are never reused);
5. a new buffer.

A reused buffer stays allocated from its first writer to the last reader of any value it holds
(the release plan frees a buffer after its last consumer in the order), so reuse never frees
memory earlier; it only avoids a second allocation. Graph inputs are the caller's memory and
weights are allocated when the session is created: neither is in the trace.
"""

from __future__ import annotations

import math
from collections import Counter

from edgemem.graph.types import Graph, TensorInfo
from edgemem.memory.runtime import ort_kernels
from edgemem.memory.runtime.trace import Block, Step, Trace


def element_bytes(tensor: TensorInfo) -> int:
    count = math.prod(tensor.shape)
    return tensor.size_bytes // count if count else 0


def same_size(a: TensorInfo, b: TensorInfo, static: frozenset[str] | None) -> bool:
    """ONNX Runtime's SameSize: same element size and the same *statically known* shape."""
    if static is not None and (a.name not in static or b.name not in static):
        return False
    return element_bytes(a) == element_bytes(b) and tuple(a.shape) == tuple(b.shape)


class _Planner:
    def __init__(self, graph: Graph, order: tuple[int, ...], static: frozenset[str] | None) -> None:
        self.graph, self.order, self.static = graph, order, static
        self.tensors = graph.tensors
        self.outputs = set(graph.outputs)
        self.use: Counter = Counter()
        self.buffer: dict[str, str] = {}
        self.kind: dict[str, str] = {}
        self.freelist: list[str] = []
        for name, info in self.tensors.items():
            if info.kind != "activation":
                self.use[name] += 1  # the caller's inputs and the weights are never reused
                self.buffer[name] = name
                self.kind[name] = "external"
        for i in order:
            node = graph.nodes[i]
            self.use.update(node.inputs)
            self.use.update(node.outputs)
        self.use.update(graph.outputs)

    def reusable_input(self, op_type: str, inputs: tuple[str, ...], out: str) -> str | None:
        if not inputs:
            return None
        first = inputs[0]
        if op_type in ort_kernels.ALIAS_OPS:
            return first
        if op_type in ort_kernels.INPLACE_OPS and self.use[self.buffer[first]] == 1 and \
                same_size(self.tensors[first], self.tensors[out], self.static):
            return first
        return None

    def reusable_tensor(self, out: str) -> str | None:
        info = self.tensors[out]
        if not info.shape:
            return None
        for k, origin in enumerate(self.freelist):
            if same_size(self.tensors[origin], info, self.static):
                del self.freelist[k]
                return origin
        return None

    def place(self, op_type: str, inputs: tuple[str, ...], out: str) -> None:
        if out in self.outputs:
            self.buffer[out], self.kind[out] = out, "output"
            return
        found = self.reusable_input(op_type, inputs, out)
        origin = self.buffer[found] if found is not None else self.reusable_tensor(out)
        if origin is None:
            self.buffer[out], self.kind[out] = out, "activation"
            return
        self.buffer[out] = origin
        self.use[origin] += self.use[out]

    def release(self, name: str) -> None:
        origin = self.buffer[name]
        self.use[origin] -= 1
        if self.use[origin] == 0:
            self.freelist.insert(0, origin)

    def run(self) -> None:
        for i in self.order:
            node = self.graph.nodes[i]
            for out in node.outputs:
                self.place(node.op_type, node.inputs, out)
            for name in node.inputs:
                self.release(name)
            for name in node.outputs:
                self.release(name)


def plan_trace(graph: Graph, order: tuple[int, ...], threads: int = 1, static: frozenset[str] | None = None) -> Trace:
    """The allocations ONNX Runtime's CPU provider makes for one run in ``order``.

    ``static`` names the values whose shapes ONNX Runtime knows when it plans (see
    ``edgemem.graph.static_shapes``); None treats every shape as known."""
    planner = _Planner(graph, order, static)
    planner.run()
    buffer, kind = planner.buffer, planner.kind
    origins = [o for i in order for o in graph.nodes[i].outputs if buffer[o] == o and kind[o] != "external"]
    index = {name: k for k, name in enumerate(origins)}
    members: dict[str, list[str]] = {name: [] for name in origins}
    for name, origin in buffer.items():
        if origin in members:
            members[origin].append(name)
    producers = {n.name: n.op_type for n in graph.nodes}
    blocks = [Block(name, graph.tensors[name].size_bytes, kind[name], tuple(members[name]),
                    stream=ort_kernels.output_stream(producers[graph.tensors[name].producer])) for name in origins]
    last_reader: dict[str, int] = {}
    for step, i in enumerate(order):
        for name in graph.nodes[i].inputs:
            origin = buffer.get(name)
            if origin in index and kind[origin] == "activation":
                last_reader[origin] = step
    released: dict[int, list[int]] = {}
    for origin, step in last_reader.items():
        released.setdefault(step, []).append(index[origin])
    steps = []
    for step, i in enumerate(order):
        node = graph.nodes[i]
        allocate = [index[o] for o in node.outputs if o in index]
        scratch, written = ort_kernels.scratch(graph, node, threads)
        release = []
        if scratch:
            blocks.append(Block(f"{node.name}:scratch", scratch, "scratch", written=written))
            allocate.append(len(blocks) - 1)
            release.append(len(blocks) - 1)
        release.extend(sorted(released.get(step, ())))
        steps.append(Step(node.name, node.op_type, tuple(allocate), tuple(release)))
    unread = tuple(index[o] for o in origins if kind[o] == "activation" and o not in last_reader)
    outputs = tuple(index[o] for o in origins if kind[o] == "output")
    prepacked = []
    for node in graph.nodes:  # session creation walks the nodes in file order
        size = ort_kernels.prepack_bytes(graph, node)
        if size:
            blocks.append(Block(f"{node.name}:prepacked", size, "prepacked", stream=ort_kernels.SESSION_STREAM))
            prepacked.append(len(blocks) - 1)
    return Trace(tuple(blocks), tuple(steps), unread, outputs, tuple(prepacked))
