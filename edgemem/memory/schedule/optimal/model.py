"""The memory model the order searches work on: nodes, precedence and buffers as bit masks.

A buffer is allocated by the first of its ``alloc`` nodes to run (``alloc == 0``: live from the
start, like a graph input) and freed after the last of its ``users`` ran (never when ``kept``).
``base_bytes`` is live at every step (buffers that pass over a window untouched). With one
allocating node per buffer this is exactly the convention of ``liveness.py``; several allocating
nodes express a buffer allocated by whichever runs first (``OrderView.relaxed_model``). Models
are built for windows of an order (``view.py``), never for a whole large graph: the masks grow
with the node count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


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


def structure(model: MemModel) -> tuple:
    """Everything a search's answer depends on (all but the names): equal for repeated blocks."""
    return (model.preds, model.sizes, model.alloc, model.users, model.kept, model.base_bytes)


def bits(mask: int):
    """Indices of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


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
