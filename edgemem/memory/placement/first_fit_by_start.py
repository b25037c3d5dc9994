"""First fit by start: buffers in the order they come alive, each at the lowest offset that fits.

This is how an online allocator behaves when it sees the whole future (onnx-tool and ONNX
Runtime's pattern planner allocate in execution order); with equal sizes it is an optimal
interval-graph colouring, which greedy by size can miss when ties are broken badly. Ties:
the larger buffer first, then the one that dies later.
"""

from __future__ import annotations

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.arena import ArenaPlan
from edgemem.memory.placement.plan import aligned_sizes, place_in_sequence, plan_from_offsets, sequence_by


def plan(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    sequence = sequence_by(lifetimes.first_step, [-s for s in sizes], [-s for s in lifetimes.last_step])
    offsets = place_in_sequence(lifetimes, sizes, sequence, alignment_bytes, best_fit=False)
    return plan_from_offsets("first_fit_by_start", offsets, sizes)
