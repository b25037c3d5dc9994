"""Optional exact placement: the offsets as a CP-SAT model (OR-Tools, the ``solver`` extra).

Each buffer is a rectangle: its steps are fixed, its offset is a variable (in units of the
sizes' common divisor, so the model is exact); rectangles may not overlap (NoOverlap2D) and
the top of the highest one is minimised, hinted with a starting plan. It first asks for a
packing at the padded live bound (a feasibility problem, usually solved in a fraction of a
second), and minimises only when that fails. On the irregular graphs where every greedy misses
the bound this often reaches it: for a 3,000-node DARTS-style graph every greedy member was
17-50% above the bound and CP-SAT packed it at the bound in 0.2 s. It runs on one worker under
a deterministic time limit (CP-SAT's own measure of work), so the plan is the same on any
machine; it returns the best plan found (never worse than the start) or None when OR-Tools is
not installed.
"""

from __future__ import annotations

import importlib.util
import math

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.placement import greedy_by_size
from edgemem.memory.arena import ArenaPlan
from edgemem.memory.placement.plan import aligned_sizes, live_bound, plan_from_offsets

DETERMINISTIC_S = 2.0  # CP-SAT's deterministic time, about seconds of work on one core
FEASIBILITY_SHARE = 0.4  # of the budget: packing at the padded live bound
WORKERS = 1  # several workers race, so their answer depends on the machine's load
SEED = 7
MAX_BUFFERS = 200_000
LOOKAHEAD = 500  # buffers of the next chunk packed with each chunk (then packed again)
CHUNK_BUFFERS = 1000  # larger plans are packed chunk by chunk (CP-SAT's effort grows faster than linearly)


def available() -> bool:
    """OR-Tools is installed (found without importing it: CP-SAT's import alone takes most of a second)."""
    try:
        return importlib.util.find_spec("ortools.sat.python.cp_model") is not None
    except ImportError:
        return False


def plan(lifetimes: Lifetimes, alignment_bytes: int) -> ArenaPlan:
    start = greedy_by_size.plan(lifetimes, alignment_bytes)
    better = improve(lifetimes, alignment_bytes, start)
    return better if better is not None else plan_from_offsets("cpsat", start.offsets, start.sizes_bytes)


def improve(lifetimes: Lifetimes, alignment_bytes: int, start: ArenaPlan,
            deterministic_s: float = DETERMINISTIC_S) -> ArenaPlan | None:
    """A plan below ``start`` within ``deterministic_s`` of CP-SAT work: packed at the bound, else minimised."""
    try:
        from ortools.sat.python import cp_model  # noqa: F401
    except ImportError:
        return None
    sizes = aligned_sizes(lifetimes, alignment_bytes)
    used = [b for b in range(len(lifetimes)) if sizes[b]]
    if not used or len(used) > MAX_BUFFERS or deterministic_s <= 0.05:
        return None
    unit = math.gcd(*(sizes[b] for b in used))
    top_start = start.arena_bytes // unit
    bound = -(-live_bound(lifetimes, sizes) // unit)
    if top_start <= bound:
        return None
    problem = _Packing(lifetimes, sizes, unit, start)
    if len(used) <= CHUNK_BUFFERS:
        found = _pack(problem, used, {}, bound, top_start, deterministic_s)
    else:
        found = _pack_in_chunks(problem, used, bound, top_start, deterministic_s)
    if found is None:
        return None
    result = [0] * len(lifetimes)
    for b, offset in found.items():
        result[b] = offset * unit
    plan_found = plan_from_offsets("cpsat", result, sizes)
    return plan_found if plan_found.arena_bytes < start.arena_bytes else None


class _Packing:
    def __init__(self, lifetimes: Lifetimes, sizes: list[int], unit: int, start: ArenaPlan) -> None:
        self.lifetimes, self.sizes, self.unit, self.start = lifetimes, sizes, unit, start


def _pack(problem: _Packing, free: list[int], fixed: dict[int, int], bound: int, top_start: int, deterministic_s: float):
    """Offsets (in units) of ``free`` around the ``fixed`` ones with every top below ``top_start``:
    first packed at ``bound`` (a feasibility problem, usually far easier than the optimisation),
    else the lowest found. None when none is found."""
    found, status, spent = _solve(problem, free, fixed, bound, bound, deterministic_s * FEASIBILITY_SHARE)
    if found is None:
        low = bound + 1 if status == "infeasible" else bound
        left = deterministic_s - spent
        if low >= top_start or left <= 0.05:
            return None
        found, _, _ = _solve(problem, free, fixed, low, top_start - 1, left)
    return found


def _pack_in_chunks(problem: _Packing, used: list[int], bound: int, top_start: int, deterministic_s: float):
    """Large plans: buffers by first step in chunks of ``CHUNK_BUFFERS``, each chunk packed around
    the buffers of the earlier chunks still live then (fixed where they were put), so every model
    stays small and the whole costs time linear in the buffers."""
    first, last = problem.lifetimes.first_step, problem.lifetimes.last_step
    ordered = sorted(used, key=lambda b: (first[b], b))
    placed: dict[int, int] = {}
    target = bound
    chunks = range(0, len(ordered), CHUNK_BUFFERS)
    for lo in chunks:
        chunk = ordered[lo:lo + CHUNK_BUFFERS]
        ahead = ordered[lo + CHUNK_BUFFERS:lo + CHUNK_BUFFERS + LOOKAHEAD]  # packed too, kept for the next chunk
        begins = first[chunk[0]]
        fixed = {b: o for b, o in placed.items() if last[b] >= begins}
        found = _pack(problem, chunk + ahead, fixed, target, top_start, deterministic_s / len(chunks))
        if found is None:
            return None
        placed.update((b, found[b]) for b in chunk)
        target = max(target, max(found[b] + problem.sizes[b] // problem.unit for b in chunk))
    return placed


def _solve(problem: _Packing, free: list[int], fixed: dict[int, int], low: int, high: int, deterministic_s: float):
    """Offsets (in units) of ``free`` with every top in [low, high], the lowest top found, the
    ``fixed`` buffers staying where they are; the status; the deterministic time spent."""
    from ortools.sat.python import cp_model

    lifetimes, sizes, unit, start = problem.lifetimes, problem.sizes, problem.unit, problem.start
    model = cp_model.CpModel()
    steps, places, offsets = [], [], {}
    for b in (*free, *fixed):
        size = sizes[b] // unit
        steps.append(model.NewFixedSizeIntervalVar(lifetimes.first_step[b], lifetimes.last_step[b] - lifetimes.first_step[b] + 1, f"t{b}"))
        if b in fixed:
            places.append(model.NewFixedSizeIntervalVar(fixed[b], size, f"p{b}"))
            continue
        offset = model.NewIntVar(0, max(0, high - size), f"o{b}")
        places.append(model.NewFixedSizeIntervalVar(offset, size, f"p{b}"))
        offsets[b] = offset
        model.AddHint(offset, min(start.offsets[b] // unit, max(0, high - size)))
    model.AddNoOverlap2D(steps, places)
    if low < high:
        top = model.NewIntVar(low, high, "top")
        for b in free:
            model.Add(offsets[b] + sizes[b] // unit <= top)
        model.AddCumulative(steps, [sizes[b] // unit for b in (*free, *fixed)], top)  # redundant: live bytes per step
        model.Minimize(top)
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = float(max(0.05, deterministic_s))
    solver.parameters.num_workers = WORKERS
    solver.parameters.random_seed = SEED
    status = solver.Solve(model)
    spent = solver.response_proto.deterministic_time
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {b: solver.Value(offsets[b]) for b in free}, "found", spent
    return None, "infeasible" if status == cp_model.INFEASIBLE else "unknown", spent
