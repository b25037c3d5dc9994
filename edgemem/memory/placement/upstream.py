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
    aligned_sizes, conflict_counts, place_in_sequence, place_on_top, plan_from_offsets, sequence_by,
)


def _name_rank(names: tuple[str, ...], descending: bool) -> list[int]:
    """Rank of every name (0 = first in the order asked for), for use in an ascending sort key."""
    ranked = sorted(range(len(names)), key=names.__getitem__, reverse=descending)
    rank = [0] * len(names)
    for r, b in enumerate(ranked):
        rank[b] = r
    return rank


def _negated(values) -> list[int]:
    return [-v for v in values]


def _best_fit(name: str, lifetimes: Lifetimes, alignment_bytes: int, tie_key) -> ArenaPlan:
    """Size descending, ties by ``tie_key`` (then index); each buffer into its best-fit gap."""
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    sequence = sequence_by(_negated(sizes), tie_key)
    return plan_from_offsets(name, place_in_sequence(lifetimes, sizes, sequence, alignment_bytes), sizes)


def _on_top(name: str, lifetimes: Lifetimes, alignment_bytes: int, conflicts_first: bool) -> ArenaPlan:
    """Size and conflicts descending (in either order), ties by name descending; each buffer on top."""
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    by_size, by_conflicts = _negated(sizes), _negated(conflict_counts(lifetimes))
    keys = (by_conflicts, by_size) if conflicts_first else (by_size, by_conflicts)
    sequence = sequence_by(*keys, _name_rank(lifetimes.names, descending=True))
    return plan_from_offsets(name, place_on_top(lifetimes, sizes, sequence, alignment_bytes), sizes)


def tflite(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return _best_fit("tflite", lifetimes, alignment_bytes, lifetimes.first_step)


def onnxsim(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return _best_fit("onnxsim", lifetimes, alignment_bytes, _name_rank(lifetimes.names, descending=False))


def tvm_by_size(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return _on_top("tvm_by_size", lifetimes, alignment_bytes, conflicts_first=False)


def tvm_by_conflicts(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    return _on_top("tvm_by_conflicts", lifetimes, alignment_bytes, conflicts_first=True)
