"""Lifetimes of buffers for a given order, and the live-bytes profile they imply.

A buffer is live from its creator's step (graph inputs: step 0) through the last step of any
node that touches it (graph outputs: the last step). Intervals are inclusive, so a node's
inputs and outputs are live together at its step.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.problem import Problem

__all__ = ["Lifetimes", "lifetimes_from_order", "live_profile", "peak_and_step", "live_at", "peak_of_order"]


def lifetimes_from_order(problem: Problem, order: Sequence[int], sizes_bytes: Sequence[int] | None = None) -> Lifetimes:
    """Lifetimes of every buffer when nodes run in ``order`` (a permutation of node indices)."""
    steps = len(order)
    step_of = [0] * steps
    for step, node in enumerate(order):
        step_of[node] = step
    first = [0] * len(problem.buffers)
    last = [0] * len(problem.buffers)
    for b, buf in enumerate(problem.buffers):
        first[b] = 0 if buf.creator < 0 else step_of[buf.creator]
        last[b] = first[b]
    for node, used in enumerate(problem.touches):
        s = step_of[node]
        for b in used:
            if s > last[b]:
                last[b] = s
    for b, buf in enumerate(problem.buffers):
        if buf.is_output:
            last[b] = steps - 1
    sizes = tuple(sizes_bytes) if sizes_bytes is not None else tuple(problem.sizes)
    return Lifetimes(
        names=tuple(b.name for b in problem.buffers),
        sizes_bytes=sizes,
        first_step=tuple(first),
        last_step=tuple(last),
        steps=steps,
    )


def live_profile(lifetimes: Lifetimes) -> np.ndarray:
    """Live bytes at every step (int64 array of length ``steps``)."""
    diff = np.zeros(lifetimes.steps + 1, dtype=np.int64)
    if len(lifetimes):
        sizes = np.asarray(lifetimes.sizes_bytes, dtype=np.int64)
        np.add.at(diff, np.asarray(lifetimes.first_step), sizes)
        np.add.at(diff, np.asarray(lifetimes.last_step) + 1, -sizes)
    return np.cumsum(diff[:-1])


def peak_and_step(lifetimes: Lifetimes) -> tuple[int, int]:
    """(peak live bytes, first step where it is reached)."""
    if lifetimes.steps == 0:
        return 0, 0
    profile = live_profile(lifetimes)
    step = int(np.argmax(profile))
    return int(profile[step]), step


def live_at(lifetimes: Lifetimes, step: int) -> list[int]:
    """Buffers live at ``step``, largest first."""
    live = [b for b in range(len(lifetimes)) if lifetimes.first_step[b] <= step <= lifetimes.last_step[b]]
    return sorted(live, key=lambda b: (-lifetimes.sizes_bytes[b], b))


def peak_of_order(problem: Problem, order: Sequence[int]) -> int:
    return peak_and_step(lifetimes_from_order(problem, order))[0]
