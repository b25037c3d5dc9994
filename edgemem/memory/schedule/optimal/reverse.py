"""The model run backwards: every order reversed has the same live bytes at every step, mirrored.

A buffer is live from the first of its allocating nodes to the last of its users. Run the order
backwards and the same buffer is live from the first of its users (in the reversed order) to
the last of its allocating nodes; so the reversed model has the successors as predecessors,
allocates a buffer at whichever of its users runs first, frees it after its allocating nodes,
keeps what was live from the start, and starts with what was kept. An order of one model
reversed is an order of the other with the same peak, so an exact answer on one is an exact
answer on the other.

Why it matters: the exact search's forced moves and its dead ends are not symmetric. On
RandWire stages, where a block's output waits for several later blocks, the forward search
meets its dead ends late (after it built up many waiting outputs), the backward search early:
the 64-block stages are proved optimal in a few thousand sets backwards, against more than two
million forwards.

The mirror is exact when every user of a buffer that does not allocate it runs after one that
does (true of window models, where the one allocating node produces the buffer, and of relaxed
models, where every user may allocate) and no buffer with bytes is left unread from the start
(a graph input no node reads is live at the first step only, which has no mirror). Otherwise
``reversed_model`` returns None and the search stays forwards.
"""

from __future__ import annotations

from typing import Sequence

from edgemem.memory.schedule.optimal.model import MemModel, bits, descendant_masks


def reversed_model(model: MemModel, order: Sequence[int]) -> MemModel | None:
    """The mirrored model (same node indices), or None when the mirror would not be exact.

    ``order``: any topological order of ``model``.
    """
    n = model.n
    succs = [0] * n
    for v in range(n):
        for p in bits(model.preds[v]):
            succs[p] |= 1 << v
    desc = descendant_masks(model, order)
    alloc, users, kept = [], [], []
    for b, size in enumerate(model.sizes):
        allocators, readers = model.alloc[b], model.users[b]
        if not readers:
            if size:
                return None  # live at the first step only: no mirror
            allocators = readers = 0
        elif allocators:
            if allocators & ~readers:
                return None  # an allocating node that does not count as touching it
            after_allocation = allocators
            for a in bits(allocators):
                after_allocation |= desc[a]
            if readers & ~after_allocation:
                return None  # a user that may run before the buffer exists
        alloc.append(0 if model.kept[b] else readers)
        users.append(readers)
        kept.append(not allocators and bool(readers))
    return MemModel(model.names, tuple(succs), model.sizes, tuple(alloc), tuple(users), tuple(kept), model.base_bytes)
