"""Divide and conquer: cut the graph at nodes that every other node precedes or follows.

A node comparable with every other node (all others are its ancestors or descendants) runs at
the same step in every order, with exactly its ancestors before it: the same set of buffers is
live across it whatever the order. The nodes between two consecutive cut nodes therefore form
the same contiguous segment of every order, and each segment can be ordered on its own (its
peak, plus the bytes that pass over it, is independent of how the other segments are ordered).
These are Serenity's divide-and-conquer cuts (cell boundaries, stage inputs, residual adds).

Found in two sweeps over a topological order, O(nodes + edges): the node v at step i has every
earlier node as an ancestor exactly when every earlier node has a successor at step i or before
(going back from step i - 1, each such successor is v or reaches v), and every later node as a
descendant exactly when every later node has a predecessor at step i or after.
"""

from __future__ import annotations

from typing import Sequence


def cut_positions(preds: Sequence[Sequence[int]], order: Sequence[int]) -> list[int]:
    """Positions in ``order`` of the nodes every other node precedes or follows."""
    n = len(order)
    position = [0] * n
    for step, v in enumerate(order):
        position[v] = step
    first_succ = [n] * n  # per node: the earliest step of a successor (n: none)
    last_pred = [-1] * n  # per node: the latest step of a predecessor (-1: none)
    for v, before in enumerate(preds):
        for p in before:
            first_succ[p] = min(first_succ[p], position[v])
            last_pred[v] = max(last_pred[v], position[p])
    later_ok = [True] * (n + 1)  # later_ok[i]: every node after step i has a predecessor at step >= i
    lowest = n
    for step in range(n - 1, -1, -1):
        later_ok[step] = lowest >= step
        lowest = min(lowest, last_pred[order[step]])
    cuts: list[int] = []
    furthest = -1  # the latest "earliest successor" among the nodes before the step
    for step, v in enumerate(order):
        if furthest <= step and later_ok[step]:
            cuts.append(step)
        furthest = max(furthest, first_succ[v])
    return cuts


def segments(preds: Sequence[Sequence[int]], order: Sequence[int]) -> list[tuple[int, int]]:
    """[lo, hi) position ranges of ``order``, each ending just after a cut node (the last at the end)."""
    bounds, lo = [], 0
    for position in cut_positions(preds, order):
        bounds.append((lo, position + 1))
        lo = position + 1
    if lo < len(order):
        bounds.append((lo, len(order)))
    return bounds
