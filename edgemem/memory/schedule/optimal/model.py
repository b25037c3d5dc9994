"""The memory model the order searches work on: nodes, precedence and buffers as bit masks.

A buffer is allocated by the first of its ``alloc`` nodes to run (``alloc == 0``: live from the
start, like a graph input) and freed after the last of its ``users`` ran (never when ``kept``).
``base_bytes`` is live at every step (buffers that pass over a segment untouched). With one
allocating node per buffer this is exactly the convention of ``liveness.py``; several allocating
nodes express a buffer allocated by whichever runs first, and ``segment`` and ``relaxed`` carve
sub-models out of a model:

* ``segment(model, order, lo, hi)``: the steps ``order[lo:hi]`` of a topological order as a
  model of their own. Any reordering of the segment keeps the rest of the order valid, and the
  segment model's peak plus nothing else is the peak of those steps: reordering is local and exact.
* ``relaxed(model, nodes, anc)``: a model over any node set whose every order's peak is at most
  the peak of the same steps inside any full order, so its optimum is a lower bound on the
  optimum of the whole model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from edgemem.memory.problem import Problem


@dataclass(frozen=True)
class MemModel:
    names: tuple[str, ...]  # node names, for messages
    preds: tuple[int, ...]  # per node: bit mask of the nodes it waits for (transitively closed or not)
    sizes: tuple[int, ...]  # per buffer
    alloc: tuple[int, ...]  # per buffer: mask of nodes that may allocate it; 0 = live from the start
    users: tuple[int, ...]  # per buffer: mask of nodes that touch it (alloc nodes included)
    kept: tuple[bool, ...]  # per buffer: live to the end once allocated
    base_bytes: int = 0

    @property
    def n(self) -> int:
        return len(self.preds)


def bits(mask: int):
    """Indices of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def model_from_problem(problem: Problem) -> MemModel:
    users = [0] * len(problem.buffers)
    for node, used in enumerate(problem.touches):
        for b in used:
            users[b] |= 1 << node
    return MemModel(
        names=problem.node_names,
        preds=tuple(sum(1 << p for p in set(ps)) for ps in problem.preds),
        sizes=tuple(problem.sizes),
        alloc=tuple(0 if buf.creator < 0 else 1 << buf.creator for buf in problem.buffers),
        users=tuple(users[b] | (0 if buf.creator < 0 else 1 << buf.creator) for b, buf in enumerate(problem.buffers)),
        kept=tuple(buf.is_output for buf in problem.buffers),
    )


def working_sets(model: MemModel) -> list[int]:
    """Per node: the bytes live while it runs no matter the order (what it touches, plus the base)."""
    ws = [model.base_bytes] * model.n
    for b, users in enumerate(model.users):
        for v in bits(users):
            ws[v] += model.sizes[b]
    return ws


def model_profile(model: MemModel, order: Sequence[int]) -> list[int]:
    """Live bytes at every step of ``order`` (a topological order of all nodes)."""
    n = len(order)
    step = [0] * model.n
    for s, v in enumerate(order):
        step[v] = s
    diff = [0] * (n + 1)
    for b, size in enumerate(model.sizes):
        if not size:
            continue
        alloc, users = model.alloc[b], model.users[b]
        first = min((step[v] for v in bits(alloc)), default=0)
        last = n - 1 if model.kept[b] else max((step[v] for v in bits(users)), default=first)
        last = max(last, first)
        diff[first] += size
        diff[last + 1] -= size
    live, profile = model.base_bytes, []
    for s in range(n):
        live += diff[s]
        profile.append(live)
    return profile


def model_peak(model: MemModel, order: Sequence[int]) -> int:
    return max(model_profile(model, order), default=model.base_bytes)


def is_topological(model: MemModel, order: Sequence[int]) -> bool:
    done = 0
    for v in order:
        if model.preds[v] & ~done:
            return False
        done |= 1 << v
    return len(order) == model.n and done == (1 << model.n) - 1


def segment(model: MemModel, order: Sequence[int], lo: int, hi: int) -> tuple[MemModel, tuple[int, ...]]:
    """The sub-model of steps ``order[lo:hi]`` and its nodes (sub index i = nodes[i], in order)."""
    nodes = tuple(order[lo:hi])
    local = {v: i for i, v in enumerate(nodes)}
    inside = sum(1 << v for v in nodes)
    before = sum(1 << v for v in order[:lo])
    after = sum(1 << v for v in order[hi:])
    sizes, alloc, users, kept = [], [], [], []
    base = model.base_bytes
    for b, size in enumerate(model.sizes):
        if not size:
            continue
        used_here = model.users[b] & inside
        allocated_before = model.alloc[b] == 0 or bool(model.alloc[b] & before)
        if not used_here:
            if allocated_before and (model.kept[b] or model.users[b] & after):
                base += size  # passes over the segment
            elif model.alloc[b] == 0 and not model.users[b] and lo == 0:
                sizes.append(size)  # an unused input: live at the first step only
                alloc.append(0)
                users.append(0)
                kept.append(False)
            continue
        sizes.append(size)
        alloc.append(0 if allocated_before else _remap(model.alloc[b] & inside, local))
        users.append(_remap(used_here, local))
        kept.append(model.kept[b] or bool(model.users[b] & after))
    preds = tuple(_remap(model.preds[v] & inside, local) for v in nodes)
    sub = MemModel(tuple(model.names[v] for v in nodes), preds, tuple(sizes), tuple(alloc), tuple(users), tuple(kept), base)
    return sub, nodes


def relaxed(model: MemModel, nodes: Sequence[int], ancestors: Sequence[int]) -> MemModel:
    """A model over ``nodes`` whose optimum is a lower bound on the whole model's optimum.

    Inside any full order, a buffer touched by ``nodes`` is live at least from the first of its
    allocating or reading nodes among them to the last reader among them (to the end when kept);
    buffers they do not touch are left out. Precedence is the transitive one (``ancestors``).
    """
    local = {v: i for i, v in enumerate(nodes)}
    inside = sum(1 << v for v in nodes)
    sizes, alloc, users, kept = [], [], [], []
    for b, size in enumerate(model.sizes):
        used_here = model.users[b] & inside
        if not size or not used_here:
            continue
        sizes.append(size)
        if model.alloc[b] == 0:
            alloc.append(0)
        else:
            alloc.append(_remap(used_here, local))  # allocated no later than its first reader here
        users.append(_remap(used_here, local))
        kept.append(model.kept[b])
    preds = tuple(_remap(ancestors[v] & inside, local) for v in nodes)
    return MemModel(tuple(model.names[v] for v in nodes), preds, tuple(sizes), tuple(alloc), tuple(users), tuple(kept), 0)


def _remap(mask: int, local: dict[int, int]) -> int:
    out = 0
    for v in bits(mask):
        out |= 1 << local[v]
    return out


def ancestor_masks(model: MemModel, order: Sequence[int]) -> list[int]:
    """Per node: the mask of all its ancestors (``order`` must be topological)."""
    anc = [0] * model.n
    for v in order:
        acc = 0
        for p in bits(model.preds[v]):
            acc |= anc[p] | (1 << p)
        anc[v] = acc
    return anc


def descendant_masks(model: MemModel, order: Sequence[int]) -> list[int]:
    """Per node: the mask of all its descendants (``order`` must be topological)."""
    succs: list[list[int]] = [[] for _ in range(model.n)]
    for v in range(model.n):
        for p in bits(model.preds[v]):
            succs[p].append(v)
    desc = [0] * model.n
    for v in reversed(order):
        acc = 0
        for s in succs[v]:
            acc |= desc[s] | (1 << s)
        desc[v] = acc
    return desc
