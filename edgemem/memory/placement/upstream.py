"""The planners users run today, as portfolio members, so the portfolio is never worse than them.

Each is a fixed placement sequence and a placement rule, as the upstream code does it:
  tflite          TFLite ArenaPlanner: size descending, ties by first use; best-fit gap
  onnxsim         onnxsim 0.8.1 planner: size descending, ties by name; best-fit gap
  tvm_by_size     TVM USMP greedy_by_size: size, then conflicts, descending, ties by name
                  (descending); each buffer just above every placed buffer live with it
  tvm_by_conflicts  TVM USMP greedy_by_conflicts: conflicts, then size, descending, ties by name
                  (descending); on top, likewise
All see the same padded sizes and lifetimes as every other algorithm here.
"""

from __future__ import annotations

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.placement.plan import (
    ArenaPlan, aligned_sizes, conflict_counts, place_in_sequence, place_on_top, plan_from_offsets,
)


def _descending_names(names: tuple[str, ...]) -> list[int]:
    """Rank of every name in descending order (0 = greatest), for use in an ascending sort key."""
    ranked = sorted(range(len(names)), key=lambda b: names[b], reverse=True)
    rank = [0] * len(names)
    for r, b in enumerate(ranked):
        rank[b] = r
    return rank


def tflite(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    sequence = sorted(range(len(lifetimes)), key=lambda b: (-sizes[b], lifetimes.first_step[b], b))
    return plan_from_offsets("tflite", place_in_sequence(lifetimes, sizes, sequence, alignment_bytes), sizes)


def onnxsim(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    sequence = sorted(range(len(lifetimes)), key=lambda b: (-sizes[b], lifetimes.names[b]))
    return plan_from_offsets("onnxsim", place_in_sequence(lifetimes, sizes, sequence, alignment_bytes), sizes)


def tvm_by_size(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    conflicts = conflict_counts(lifetimes)
    rank = _descending_names(lifetimes.names)
    sequence = sorted(range(len(lifetimes)), key=lambda b: (-sizes[b], -conflicts[b], rank[b]))
    return plan_from_offsets("tvm_by_size", place_on_top(lifetimes, sizes, sequence, alignment_bytes), sizes)


def tvm_by_conflicts(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    conflicts = conflict_counts(lifetimes)
    rank = _descending_names(lifetimes.names)
    sequence = sorted(range(len(lifetimes)), key=lambda b: (-conflicts[b], -sizes[b], rank[b]))
    return plan_from_offsets("tvm_by_conflicts", place_on_top(lifetimes, sizes, sequence, alignment_bytes), sizes)
