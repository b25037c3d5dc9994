"""One topological order of a whole graph, edited window by window, and the models of its windows.

The searches never build a model of the whole graph: a model's bit masks grow with its node
count, so that would cost O(nodes^2) on a 100,000-node graph. They work on windows, contiguous
steps ``order[lo:hi]``, each turned into a small ``MemModel`` in time linear in the window and
the buffers it touches:

* ``window_model(lo, hi)``: the window as a model of its own. Any re-ordering of the window
  keeps the rest of the order valid and its memory unchanged, and the window model's profile is
  the whole order's profile over those steps (the bytes that pass over the window untouched are
  its ``base_bytes``): re-ordering a window is local and exact (``replace``).
* ``relaxed_model(lo, hi, seg_lo, seg_hi)``: the window's nodes as a model whose every order
  peaks no higher than the same steps of any order of the segment ``[seg_lo, seg_hi)`` (a
  stretch between cut nodes, the same in every order), so its optimum is a lower bound on the
  segment's optimum.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from edgemem.memory.liveness import lifetimes_from_order, live_profile
from edgemem.memory.problem import Problem
from edgemem.memory.schedule.optimal.model import MemModel, model_profile


class OrderView:
    def __init__(self, problem: Problem, order: Sequence[int]) -> None:
        self.problem = problem
        self.order = list(order)
        self.position = [0] * len(self.order)
        for step, v in enumerate(self.order):
            self.position[v] = step
        self.sizes = problem.sizes
        self.users: list[list[int]] = [[] for _ in problem.buffers]
        for v, used in enumerate(problem.touches):
            for b in used:
                self.users[b].append(v)
        self.creator = [buf.creator for buf in problem.buffers]
        self.output = [buf.is_output for buf in problem.buffers]
        self.unused_inputs = [b for b, buf in enumerate(problem.buffers)
                              if buf.creator < 0 and not self.users[b] and self.sizes[b]]
        self.profile = live_profile(lifetimes_from_order(problem, self.order)) if self.order else np.zeros(0, np.int64)

    def peak(self, lo: int, hi: int) -> int:
        return int(self.profile[lo:hi].max()) if hi > lo else 0

    def window_model(self, lo: int, hi: int) -> tuple[MemModel, tuple[int, ...]]:
        """The steps ``order[lo:hi]`` as a model, and its nodes (model index i is ``nodes[i]``)."""
        nodes = tuple(self.order[lo:hi])
        local = {v: i for i, v in enumerate(nodes)}
        sizes, alloc, users, kept = [], [], [], []
        for b, mask, allocated_before, later in self._buffers(nodes, local, lo, hi):
            sizes.append(self.sizes[b])
            alloc.append(0 if allocated_before else 1 << local[self.creator[b]])
            users.append(mask)
            kept.append(later)
        if lo == 0:  # graph inputs no node reads: live at the first step only
            for b in self.unused_inputs:
                sizes.append(self.sizes[b])
                alloc.append(0)
                users.append(0)
                kept.append(False)
        model = MemModel(tuple(self.problem.node_names[v] for v in nodes), self._preds(nodes, local),
                         tuple(sizes), tuple(alloc), tuple(users), tuple(kept))
        if not nodes:
            return model, nodes
        base = int(self.profile[lo]) - model_profile(model, range(model.n))[0]
        return _with_base(model, base), nodes

    def relaxed_model(self, lo: int, hi: int, seg_lo: int, seg_hi: int) -> MemModel:
        """A lower-bound model of the nodes ``order[lo:hi]`` inside the segment ``[seg_lo, seg_hi)``.

        Inside any order of the segment, a buffer the window touches is live at least from the
        first of its readers among the window's nodes (from the start when it was allocated before
        the segment) to the last of them (to the end when a graph output or read after the
        segment); buffers the window does not touch are left out. Precedence is the transitive
        one: a path between two nodes of a window of a topological order stays inside the window.
        """
        nodes = tuple(self.order[lo:hi])
        local = {v: i for i, v in enumerate(nodes)}
        sizes, alloc, users, kept = [], [], [], []
        for b, mask, allocated_before, later in self._buffers(nodes, local, seg_lo, seg_hi):
            sizes.append(self.sizes[b])
            alloc.append(0 if allocated_before else mask)
            users.append(mask)
            kept.append(later)
        closed = [0] * len(nodes)
        for i, preds in enumerate(self._preds(nodes, local)):
            acc = 0
            while preds:
                low = preds & -preds
                acc |= closed[low.bit_length() - 1] | low
                preds ^= low
            closed[i] = acc
        return MemModel(tuple(self.problem.node_names[v] for v in nodes), tuple(closed),
                        tuple(sizes), tuple(alloc), tuple(users), tuple(kept))

    def _buffers(self, nodes: Sequence[int], local: dict[int, int], lo: int, hi: int):
        """Per buffer ``nodes`` touch (with bytes): its index, the mask of its users among them,
        whether it was allocated before step ``lo``, and whether it is kept or read at ``hi`` or later."""
        touches, sizes, position = self.problem.touches, self.sizes, self.position
        for b in dict.fromkeys(b for v in nodes for b in touches[v]):
            if not sizes[b]:
                continue
            mask, later = 0, self.output[b]
            for u in self.users[b]:
                if u in local:
                    mask |= 1 << local[u]
                elif position[u] >= hi:
                    later = True
            creator = self.creator[b]
            yield b, mask, creator < 0 or position[creator] < lo, later

    def _preds(self, nodes: Sequence[int], local: dict[int, int]) -> tuple[int, ...]:
        preds = self.problem.preds
        return tuple(sum(1 << local[p] for p in preds[v] if p in local) for v in nodes)

    def replace(self, lo: int, hi: int, model: MemModel, nodes: Sequence[int], local_order: Sequence[int]) -> None:
        """Run the window ``[lo, hi)`` (modelled by ``model`` over ``nodes``) in ``local_order``."""
        new = [nodes[i] for i in local_order]
        self.order[lo:hi] = new
        for step, v in enumerate(new, start=lo):
            self.position[v] = step
        self.profile[lo:hi] = model_profile(model, local_order)


def _with_base(model: MemModel, base: int) -> MemModel:
    return MemModel(model.names, model.preds, model.sizes, model.alloc, model.users, model.kept, base)


def whole_model(problem: Problem) -> MemModel:
    """The model of a whole (small) graph, node index = model index."""
    return OrderView(problem, range(len(problem.node_names))).window_model(0, len(problem.node_names))[0]
