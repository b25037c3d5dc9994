"""The portfolio: run several placements of the same lifetimes and keep the smallest verified arena.

Members, in order: greedy by size (ties by lifetime start), the upstream planners (TFLite,
onnxsim, TVM USMP greedy_by_size and greedy_by_conflicts, see ``upstream``), first fit by
start and greedy by conflicts. Because the upstream planners are members, the portfolio is
never larger than any of them on the same order. The moment a member reaches the padded
live-set bound (no placement can be smaller) the rest are skipped, which is the common case
on chain-like graphs and keeps large graphs fast. Otherwise the best plan is improved by an
exact search of small independent groups (``exact``), by the CP-SAT model (``cpsat``, where
OR-Tools is installed and the plan has at most ``CPSAT_MAX_BUFFERS`` buffers, within
``CPSAT_DETERMINISTIC_S`` of its deterministic time, more for more buffers) and by a bounded hill climb (``hill_climb``), the last two only while the bound is not
met. Every budget counts work, not seconds, so the plan is the same on any machine. Plans are
checked by ``verify`` from the smallest up; the first that passes wins.
"""

from __future__ import annotations

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.placement import cpsat, exact, first_fit_by_start, greedy_by_conflicts, greedy_by_size, hill_climb, upstream
from edgemem.memory.arena import ArenaPlan
from edgemem.memory.placement.plan import aligned_sizes, live_bound
from edgemem.memory.verify import check_plan

MEMBERS = (
    ("greedy_by_size", greedy_by_size.plan),
    ("tflite", upstream.tflite),
    ("onnxsim", upstream.onnxsim),
    ("tvm_by_size", upstream.tvm_by_size),
    ("tvm_by_conflicts", upstream.tvm_by_conflicts),
    ("first_fit_by_start", first_fit_by_start.plan),
    ("greedy_by_conflicts", greedy_by_conflicts.plan),
)
CPSAT_DETERMINISTIC_S = (0.25, 10.0)  # the CP-SAT model, where OR-Tools is installed: 0.25 + 1 per 500 buffers, at most 10
CPSAT_MAX_BUFFERS = 2500  # above this CP-SAT costs seconds (``--placement cpsat`` packs larger plans chunk by chunk)
HILL_CLIMB_MAX_BUFFERS = 5000  # above this one re-placement is too slow to climb with


def plan(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    bound = live_bound(lifetimes, aligned_sizes(lifetimes, alignment_bytes))
    candidates: list[ArenaPlan] = []
    for _, member in MEMBERS:
        candidates.append(member(lifetimes, alignment_bytes))
        if candidates[-1].arena_bytes <= bound:
            break
    best = min(candidates, key=lambda p: p.arena_bytes)
    if best.arena_bytes > bound:
        candidates.append(exact.improve(lifetimes, alignment_bytes, best))
        best = min(candidates, key=lambda p: p.arena_bytes)
        if best.arena_bytes > bound and len(lifetimes) <= CPSAT_MAX_BUFFERS:
            budget = min(CPSAT_DETERMINISTIC_S[1], CPSAT_DETERMINISTIC_S[0] + len(lifetimes) / 500)
            solved = cpsat.improve(lifetimes, alignment_bytes, best, budget)
            if solved is not None:
                candidates.append(solved)
                best = min(candidates, key=lambda p: p.arena_bytes)
        if best.arena_bytes > bound and len(lifetimes) <= HILL_CLIMB_MAX_BUFFERS:
            candidates.append(hill_climb.climb(lifetimes, alignment_bytes, best))
    for candidate in sorted(candidates, key=lambda p: p.arena_bytes):
        if check_plan(lifetimes, candidate, alignment_bytes).ok:
            return ArenaPlan(f"portfolio:{candidate.algorithm}", candidate.offsets, candidate.sizes_bytes, candidate.arena_bytes)
    raise RuntimeError("internal error: no portfolio member produced a valid plan")
