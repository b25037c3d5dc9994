"""Divide and conquer: cut the graph at nodes that every other node precedes or follows.

A node comparable with every other node (all others are its ancestors or descendants) runs at
the same step in every order, with exactly its ancestors before it: the same set of buffers is
live across it whatever the order. The nodes between two consecutive cut nodes therefore form
the same contiguous segment of every order, and each segment can be ordered on its own (its
peak, plus the bytes that pass over it, is independent of how the other segments are ordered).
These are Serenity's divide-and-conquer cuts (cell boundaries, stage inputs, residual adds).
"""

from __future__ import annotations

from typing import Sequence

from edgemem.memory.schedule.optimal.model import MemModel, ancestor_masks, descendant_masks


def cut_positions(model: MemModel, order: Sequence[int]) -> list[int]:
    """Positions in ``order`` of the nodes every other node precedes or follows."""
    full = (1 << model.n) - 1
    anc = ancestor_masks(model, order)
    desc = descendant_masks(model, order)
    return [i for i, v in enumerate(order) if anc[v] | desc[v] | (1 << v) == full]


def segments(model: MemModel, order: Sequence[int]) -> list[tuple[int, int]]:
    """[lo, hi) position ranges of ``order``, each ending just after a cut node (the last at the end)."""
    bounds, lo = [], 0
    for position in cut_positions(model, order):
        bounds.append((lo, position + 1))
        lo = position + 1
    if lo < len(order):
        bounds.append((lo, len(order)))
    return bounds
