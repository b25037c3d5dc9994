"""The opt-in in-place rules (``convention.INPLACE_RULES``), applied to the tensor groups after
the safe rules. Each only joins a group whose every reader is the node in question."""

from __future__ import annotations

import math
from typing import Callable

from edgemem.graph.types import Graph, TensorInfo
from edgemem.memory.groups import TensorGroups


class OptInRules:
    def __init__(self, graph: Graph, groups: TensorGroups, size_of: Callable[[TensorInfo], int]) -> None:
        self.graph, self.groups, self.size_of = graph, groups, size_of
        self._index_of: dict[str, int] | None = None  # node name -> index, built when a rule first needs it
        self.creator: dict[str, int] = {}  # group root -> allocating node, when not the root's producer
        self.extra_preds: dict[int, set[int]] = {}
        self.scratch: list[tuple[int, str, int]] = []
        self.applied: dict[str, int] = {}
        self.outputs = set(graph.outputs)

    def apply(self, rule: str) -> None:
        RULES[rule](self)

    def creator_of(self, root: str) -> int:
        if root in self.creator:
            return self.creator[root]
        if self._index_of is None:
            self._index_of = {n.name: i for i, n in enumerate(self.graph.nodes)}
        return self._index_of[self.graph.tensors[root].producer]

    def count(self, rule: str) -> None:
        self.applied[rule] = self.applied.get(rule, 0) + 1

    def concat_in_place(self) -> None:
        tensors, groups = self.graph.tensors, self.groups
        for i, node in enumerate(self.graph.nodes):
            if node.op_type != "Concat" or not node.outputs or node.outputs[0] not in groups:
                continue
            out, ins = node.outputs[0], node.inputs
            if len(set(ins)) != len(ins) or any(t not in groups for t in ins) or not _contiguous_concat(
                    [tensors[t].shape for t in ins], tensors[out].shape):
                continue
            roots = [groups.find(t) for t in ins]
            target = groups.find(out)
            if len(set(roots)) != len(roots) or target in roots:
                continue
            if not all(groups.only_reader(r, i) and tensors[r].size_bytes == tensors[t].size_bytes
                       for r, t in zip(roots, ins)):
                continue
            creators = [self.creator_of(r) for r in roots]
            first = min(creators)
            for r in roots:
                groups.join(r, target, i)
            self.creator[target] = first
            for c in creators:
                if c != first:
                    self.extra_preds.setdefault(c, set()).add(first)
            self.count("concat")

    def depthwise_in_place(self) -> None:
        tensors, groups = self.graph.tensors, self.groups
        for i, node in enumerate(self.graph.nodes):
            if node.op_type != "Conv" or len(node.inputs) < 2 or not node.outputs:
                continue
            x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
            if x not in groups or y not in groups or tensors[w].kind != "weight":
                continue
            xs, ws, ys = tensors[x].shape, tensors[w].shape, tensors[y].shape
            if len(xs) < 3 or len(ws) != len(xs) or len(ys) != len(xs) or not (ws[1] == 1 and ws[0] == xs[1] == ys[1]):
                continue
            root = groups.find(x)
            if not groups.only_reader(root, i) or y in self.outputs:
                continue
            if tensors[root].size_bytes < tensors[y].size_bytes or groups.find(y) != y:
                continue
            groups.join(y, root, i)
            plane = self.size_of(tensors[x]) // max(1, xs[0] * xs[1])
            self.scratch.append((i, f"{node.name}:scratch", plane))
            self.count("depthwise")


RULES = {
    "concat": OptInRules.concat_in_place,
    "depthwise": OptInRules.depthwise_in_place,
}


def _contiguous_concat(shapes: list[tuple[int, ...]], out: tuple[int, ...]) -> bool:
    """Some axis joins the inputs into ``out`` and every dimension before it is 1."""
    if not shapes or any(len(s) != len(out) for s in shapes):
        return False
    for axis in range(len(out)):
        if all(s[:axis] == out[:axis] and s[axis + 1:] == out[axis + 1:] for s in shapes) and \
                sum(s[axis] for s in shapes) == out[axis]:
            return math.prod(out[:axis]) == 1
    return False
