"""Graph + convention -> buffers and per-node uses: the input of every order and placement search.

A buffer is one allocation. Without aliasing or in-place reuse every activation tensor is its
own buffer; with them, a view's output and an in-place op's output join their input's buffer
(union-find). A buffer is "touched" by every node that reads or writes one of its tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgemem.graph.types import Graph, TensorInfo
from edgemem.memory.convention import FLOAT_DTYPES, INPLACE_OPS, PRECISION_BITS, VIEW_OPS, Convention


@dataclass(frozen=True, slots=True)
class Buffer:
    name: str  # the tensor that allocates it
    size_bytes: int
    tensors: tuple[str, ...]
    creator: int  # index of the allocating node in graph.nodes; -1 for a graph input
    is_input: bool
    is_output: bool


@dataclass(frozen=True)
class Problem:
    """Integer-indexed view of the graph for order and placement search."""

    node_names: tuple[str, ...]
    op_types: tuple[str, ...]
    buffers: tuple[Buffer, ...]
    creates: tuple[tuple[int, ...], ...]  # per node: buffers it allocates
    touches: tuple[tuple[int, ...], ...]  # per node: buffers it reads or writes (creates included)
    preds: tuple[tuple[int, ...], ...]  # per node: nodes it depends on
    buffer_of: dict  # tensor name -> buffer index (absent for weights and views of weights)
    aliased_tensors: int  # tensors sharing a view's buffer
    inplace_tensors: int  # tensors written in place
    rule_nodes: tuple[tuple[str, int], ...] = ()  # opt-in in-place rule -> nodes it applied to

    @property
    def sizes(self) -> list[int]:
        return [b.size_bytes for b in self.buffers]


def accounted_size(tensor: TensorInfo, precision: str | None) -> int:
    if precision is None or tensor.dtype not in FLOAT_DTYPES:
        return tensor.size_bytes
    return (math.prod(tensor.shape) * PRECISION_BITS[precision] + 7) // 8


def problem_from_graph(graph: Graph, convention: Convention) -> Problem:
    nodes = graph.nodes
    index_of = {n.name: i for i, n in enumerate(nodes)}
    tensors = graph.tensors
    outputs = set(graph.outputs)
    inputs = set(graph.inputs)
    readers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.inputs:
            readers.setdefault(name, []).append(i)

    parent: dict[str, str] = {}  # union-find over activation tensor names; weights absent

    def find(name: str) -> str:
        root = name
        while parent[root] != root:
            root = parent[root]
        while parent[name] != root:
            parent[name], name = root, parent[name]
        return root

    for name, info in tensors.items():
        if info.kind != "weight":
            parent[name] = name
    weight_views: set[str] = set()
    joined_by: dict[str, set[int]] = {}  # root -> nodes whose output joined the buffer
    aliased = inplace = 0
    if convention.alias_views:
        for i, node in enumerate(nodes):
            if node.op_type in VIEW_OPS and node.inputs and node.outputs and len(node.outputs) >= 1:
                src, out = node.inputs[0], node.outputs[0]
                if src in weight_views or tensors[src].kind == "weight":
                    weight_views.add(out)
                    parent.pop(out, None)
                    continue
                if tensors[out].size_bytes != tensors[src].size_bytes:
                    continue
                root = find(src)
                parent[out] = root
                joined_by.setdefault(root, set()).add(i)
                aliased += 1

    if convention.inplace:
        class_members: dict[str, set[str]] = {}
        for t in parent:
            class_members.setdefault(find(t), set()).add(t)
        for i, node in enumerate(nodes):
            if node.op_type not in INPLACE_OPS or not node.outputs or node.outputs[0] in outputs:
                continue
            out = node.outputs[0]
            for src in node.inputs:
                if src not in parent:
                    continue
                root = find(src)
                group = class_members[root]
                if group & outputs or group & inputs:
                    continue
                if tensors[root].size_bytes != tensors[out].size_bytes or tensors[src].size_bytes != tensors[out].size_bytes:
                    continue
                joined = joined_by.get(root, set())
                group_readers = {r for t in group for r in readers.get(t, ())} - joined
                if group_readers != {i}:
                    continue
                out_root = find(out)
                parent[out_root] = root
                group |= class_members.pop(out_root, {out})
                joined_by.setdefault(root, set()).update(joined_by.pop(out_root, set()) | {i})
                inplace += 1
                break

    rules = _OptInRules(graph, parent, find, joined_by, readers)
    if "concat" in convention.inplace_rules:
        rules.concat_in_place()
    if "depthwise" in convention.inplace_rules:
        rules.depthwise_in_place(convention.precision)

    roots: dict[str, list[str]] = {}
    for t in parent:
        roots.setdefault(find(t), []).append(t)
    buffers: list[Buffer] = []
    buffer_of: dict[str, int] = {}
    ordered_roots = [t for t in graph.inputs if t in roots] + [
        o for n in nodes for o in n.outputs if o in roots and o not in inputs
    ]
    for root in ordered_roots:
        group = roots[root]
        creator = -1 if root in inputs else rules.creator.get(root, index_of[tensors[root].producer])
        b = len(buffers)
        for t in group:
            buffer_of[t] = b
        buffers.append(
            Buffer(
                name=root,
                size_bytes=accounted_size(tensors[root], convention.precision),
                tensors=tuple(group),
                creator=creator,
                is_input=root in inputs,
                is_output=any(t in outputs for t in group),
            )
        )
    for node_index, name, size in rules.scratch:
        buffers.append(Buffer(name=name, size_bytes=size, tensors=(), creator=node_index, is_input=False, is_output=False))
    creates: list[list[int]] = [[] for _ in nodes]
    for b, buf in enumerate(buffers):
        if buf.creator >= 0:
            creates[buf.creator].append(b)
    producer_index = {o: i for i, n in enumerate(nodes) for o in n.outputs}
    touches, preds = [], []
    for i, node in enumerate(nodes):
        used = dict.fromkeys(buffer_of[t] for t in (*node.inputs, *node.outputs) if t in buffer_of)
        used.update(dict.fromkeys(b for b in creates[i] if not buffers[b].tensors))  # scratch
        touches.append(tuple(used))
        before = {producer_index[t] for t in node.inputs if t in producer_index} | rules.extra_preds.get(i, set())
        preds.append(tuple(sorted(before)))
    return Problem(
        node_names=tuple(n.name for n in nodes),
        op_types=tuple(n.op_type for n in nodes),
        buffers=tuple(buffers),
        creates=tuple(tuple(c) for c in creates),
        touches=tuple(touches),
        preds=tuple(preds),
        buffer_of=buffer_of,
        aliased_tensors=aliased,
        inplace_tensors=inplace,
        rule_nodes=tuple(rules.applied.items()),
    )


class _OptInRules:
    """The opt-in in-place rules (``convention.INPLACE_RULES``), applied on the union-find after
    the safe rules. Each only joins a group whose every reader is the node in question."""

    def __init__(self, graph: Graph, parent: dict, find, joined_by: dict, readers: dict) -> None:
        self.graph, self.parent, self.find, self.joined_by, self.readers = graph, parent, find, joined_by, readers
        self.index_of = {n.name: i for i, n in enumerate(graph.nodes)}
        self.creator: dict[str, int] = {}  # group root -> allocating node, when not the root's producer
        self.extra_preds: dict[int, set[int]] = {}
        self.scratch: list[tuple[int, str, int]] = []
        self.applied: dict[str, int] = {}

    def members(self) -> dict[str, set[str]]:
        groups: dict[str, set[str]] = {}
        for t in self.parent:
            groups.setdefault(self.find(t), set()).add(t)
        return groups

    def sole_reader(self, root: str, group: set[str], node: int) -> bool:
        """The group holds no graph input or output and ``node`` is its only reader."""
        if group & set(self.graph.inputs) or group & set(self.graph.outputs):
            return False
        joined = self.joined_by.get(root, set())
        return {r for t in group for r in self.readers.get(t, ())} - joined == {node}

    def creator_of(self, root: str) -> int:
        return self.creator.get(root, self.index_of[self.graph.tensors[root].producer])

    def join(self, root: str, into: str, node: int) -> None:
        self.parent[root] = into
        self.joined_by.setdefault(into, set()).update(self.joined_by.pop(root, set()) | {node})

    def concat_in_place(self) -> None:
        tensors = self.graph.tensors
        for i, node in enumerate(self.graph.nodes):
            if node.op_type != "Concat" or not node.outputs or node.outputs[0] not in self.parent:
                continue
            out, ins = node.outputs[0], node.inputs
            if len(set(ins)) != len(ins) or any(t not in self.parent for t in ins) or not _contiguous_concat(
                    [tensors[t].shape for t in ins], tensors[out].shape):
                continue
            groups = self.members()
            roots = [self.find(t) for t in ins]
            if len(set(roots)) != len(roots) or self.find(out) in roots:
                continue
            if not all(self.sole_reader(r, groups[r], i) and tensors[r].size_bytes == tensors[t].size_bytes
                       for r, t in zip(roots, ins)):
                continue
            target = self.find(out)
            creators = [self.creator_of(r) for r in roots]
            first = min(creators)
            for r in roots:
                self.join(r, target, i)
            self.creator[target] = first
            for c in creators:
                if c != first:
                    self.extra_preds.setdefault(c, set()).add(first)
            self.applied["concat"] = self.applied.get("concat", 0) + 1

    def depthwise_in_place(self, precision: str | None) -> None:
        tensors = self.graph.tensors
        for i, node in enumerate(self.graph.nodes):
            if node.op_type != "Conv" or len(node.inputs) < 2 or not node.outputs:
                continue
            x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
            if x not in self.parent or y not in self.parent or tensors[w].kind != "weight":
                continue
            xs, ws, ys = tensors[x].shape, tensors[w].shape, tensors[y].shape
            if len(xs) < 3 or len(ws) != len(xs) or len(ys) != len(xs) or not (ws[1] == 1 and ws[0] == xs[1] == ys[1]):
                continue
            root = self.find(x)
            groups = self.members()
            if not self.sole_reader(root, groups[root], i) or y in self.graph.outputs:
                continue
            if tensors[root].size_bytes < tensors[y].size_bytes or self.find(y) != y:
                continue
            self.join(y, root, i)
            plane = accounted_size(tensors[x], precision) // max(1, xs[0] * xs[1])
            self.scratch.append((i, f"{node.name}:scratch", plane))
            self.applied["depthwise"] = self.applied.get("depthwise", 0) + 1


def _contiguous_concat(shapes: list[tuple[int, ...]], out: tuple[int, ...]) -> bool:
    """Some axis joins the inputs into ``out`` and every dimension before it is 1."""
    if not shapes or any(len(s) != len(out) for s in shapes):
        return False
    for axis in range(len(out)):
        if all(s[:axis] == out[:axis] and s[axis + 1:] == out[axis + 1:] for s in shapes) and \
                sum(s[axis] for s in shapes) == out[axis]:
            return math.prod(out[:axis]) == 1
    return False
