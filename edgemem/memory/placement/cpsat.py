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

import math

from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.placement import greedy_by_size
from edgemem.memory.placement.plan import ArenaPlan, aligned_sizes, live_bound, plan_from_offsets

DETERMINISTIC_S = 2.0  # CP-SAT's deterministic time, about seconds of work on one core
FEASIBILITY_SHARE = 0.4  # of the budget: packing at the padded live bound
WORKERS = 1  # several workers race, so their answer depends on the machine's load
SEED = 7
MAX_BUFFERS = 20000


def available() -> bool:
    try:
        import ortools.sat.python.cp_model  # noqa: F401
    except ImportError:
        return False
    return True


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
    # packing at the bound is a feasibility problem, usually far easier than the optimisation
    found, status, spent = _solve(lifetimes, sizes, used, unit, start, bound, bound, deterministic_s * FEASIBILITY_SHARE)
    if found is None:
        low = bound + 1 if status == "infeasible" else bound
        left = deterministic_s - spent
        if low >= top_start or left <= 0.05:
            return None
        found, _, _ = _solve(lifetimes, sizes, used, unit, start, low, top_start - 1, left)
    if found is None:
        return None
    result = [0] * len(lifetimes)
    for b, offset in found.items():
        result[b] = offset * unit
    plan_found = plan_from_offsets("cpsat", result, sizes)
    return plan_found if plan_found.arena_bytes < start.arena_bytes else None


def _solve(lifetimes, sizes, used, unit, start, low, high, deterministic_s):
    """Offsets (in units) with every top in [low, high], the lowest top found; the status; the
    deterministic time spent."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    steps, places, offsets = [], [], {}
    for b in used:
        size = sizes[b] // unit
        offset = model.NewIntVar(0, max(0, high - size), f"o{b}")
        steps.append(model.NewFixedSizeIntervalVar(lifetimes.first_step[b], lifetimes.last_step[b] - lifetimes.first_step[b] + 1, f"t{b}"))
        places.append(model.NewFixedSizeIntervalVar(offset, size, f"p{b}"))
        offsets[b] = offset
        model.AddHint(offset, min(start.offsets[b] // unit, max(0, high - size)))
    model.AddNoOverlap2D(steps, places)
    if low < high:
        top = model.NewIntVar(low, high, "top")
        for b in used:
            model.Add(offsets[b] + sizes[b] // unit <= top)
        model.AddCumulative(steps, [sizes[b] // unit for b in used], top)  # redundant: live bytes per step
        model.Minimize(top)
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = float(max(0.05, deterministic_s))
    solver.parameters.num_workers = WORKERS
    solver.parameters.random_seed = SEED
    status = solver.Solve(model)
    spent = solver.response_proto.deterministic_time
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {b: solver.Value(offsets[b]) for b in used}, "found", spent
    return None, "infeasible" if status == cp_model.INFEASIBLE else "unknown", spent
