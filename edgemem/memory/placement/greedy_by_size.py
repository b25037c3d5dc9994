"""Greedy by size (TFLite ArenaPlanner / TFLM GreedyMemoryPlanner), with two fixes.

Buffers are placed largest first; each goes into the smallest gap left between the buffers
already placed that are live at the same time, else above them. Ties between equal sizes are
broken by lifetime start (then end), not by name: equal-size buffers then pack like an
interval-graph colouring, which onnxsim's by-name ties miss by 3-6%. The gap below the
lowest placed buffer is searched too (XNNPACK's leading-gap fix, -6%).
"""

from __future__ import annotations

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.arena import ArenaPlan
from edgemem.memory.placement.plan import aligned_sizes, place_in_sequence, plan_from_offsets, sequence_by


def plan(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    sequence = sequence_by([-s for s in sizes], lifetimes.first_step, lifetimes.last_step)
    offsets = place_in_sequence(lifetimes, sizes, sequence, alignment_bytes)
    return plan_from_offsets("greedy_by_size", offsets, sizes)
