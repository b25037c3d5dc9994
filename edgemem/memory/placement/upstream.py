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

from edgemem.memory.arena import ArenaPlan
from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.placement.plan import (
    aligned_sizes, conflict_counts, place_in_sequence, place_on_top, plan_from_offsets,
)


def _descending_names(names: tuple[str, ...]) -> list[int]:
    """Rank of every name in descending order (0 = greatest), for use in an ascending sort key."""
    ranked = sorted(range(len(names)), key=lambda b: names[b], reverse=True)
    rank = [0] * len(names)
    for r, b in enumerate(ranked):
        rank[b] = r
    return rank


def _planned(name: str, lifetimes: Lifetimes, alignment_bytes: int, key, on_top: bool) -> ArenaPlan:
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    conflicts = conflict_counts(lifetimes) if on_top else []
    rank = _descending_names(lifetimes.names) if on_top else []
    sequence = sorted(range(len(lifetimes)), key=lambda b: key(b, sizes, conflicts, rank))
    place = place_on_top if on_top else place_in_sequence
    return plan_from_offsets(name, place(lifetimes, sizes, sequence, alignment_bytes), sizes)


def tflite(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return _planned("tflite", lifetimes, alignment_bytes, lambda b, s, c, r: (-s[b], lifetimes.first_step[b], b), False)


def onnxsim(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return _planned("onnxsim", lifetimes, alignment_bytes, lambda b, s, c, r: (-s[b], lifetimes.names[b]), False)


def tvm_by_size(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return _planned("tvm_by_size", lifetimes, alignment_bytes, lambda b, s, c, r: (-s[b], -c[b], r[b]), True)


def tvm_by_conflicts(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return _planned("tvm_by_conflicts", lifetimes, alignment_bytes, lambda b, s, c, r: (-c[b], -s[b], r[b]), True)
