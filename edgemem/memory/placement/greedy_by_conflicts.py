"""Greedy by conflicts (TVM USMP's second greedy), placed at the best gap instead of on top.

Buffers live with the most others are placed first (then the larger, then the earlier), each
in the smallest gap left between the placed buffers live at the same time, the leading gap
included. Placing the most constrained buffers first helps where many small buffers overlap
a few long-lived ones, which greedy by size orders last.
"""

from __future__ import annotations

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.arena import ArenaPlan
from edgemem.memory.placement.plan import aligned_sizes, conflict_counts, place_in_sequence, plan_from_offsets, sequence_by


def plan(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    conflicts = conflict_counts(lifetimes)
    sequence = sequence_by([-c for c in conflicts], [-s for s in sizes], lifetimes.first_step)
    offsets = place_in_sequence(lifetimes, sizes, sequence, alignment_bytes)
    return plan_from_offsets("greedy_by_conflicts", offsets, sizes)
