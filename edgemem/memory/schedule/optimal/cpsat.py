"""Optional exact fallback: the minimum-peak order as a CP-SAT model (OR-Tools, the ``solver`` extra).

Variables: the step of every node (all different, predecessors first). A buffer occupies the
steps from the first of its allocating nodes (step 0 for buffers live from the start) to the
last of its users (the last step when kept); the live bytes at every step are a cumulative
constraint whose capacity, the peak, is minimised. Sizes are divided by their common divisor,
so the model is exact. CP-SAT runs on one worker under a deterministic time limit (its own
measure of work, the same on any machine) carved from the search's work budget, with the wall
clock as the guard; it returns its best order and a proved bound. OR-Tools is imported here
only, when a search actually falls back to it.
"""

from __future__ import annotations

import importlib.util
import math
import time
from dataclasses import dataclass
from typing import Sequence

from edgemem.memory.schedule.optimal.model import MemModel, bits, model_peak
from edgemem.memory.schedule.optimal.work import Work

WORKERS = 1  # one worker: parallel CP-SAT is not deterministic
SEED = 7
UNITS_PER_DETERMINISTIC_SECOND = 100_000  # about what the unit search generates in a second
MIN_DETERMINISTIC_S = 0.05


@dataclass(frozen=True)
class Solved:
    order: tuple[int, ...]
    peak: int
    lower_bound: int
    proved: bool


def available() -> bool:
    """OR-Tools is installed (found without importing it: CP-SAT's import alone takes most of a second)."""
    try:
        return importlib.util.find_spec("ortools.sat.python.cp_model") is not None
    except ImportError:
        return False


def solve(model: MemModel, hint: Sequence[int], upper: int, work: Work) -> Solved | None:
    """Best order found within the rest of ``work`` (never above ``hint``'s peak), or None without OR-Tools."""
    try:
        from ortools.sat.python import cp_model
    except ImportError:
        return None
    n = model.n
    deterministic_s = work.left() / UNITS_PER_DETERMINISTIC_SECOND
    if n == 0 or deterministic_s < MIN_DETERMINISTIC_S:
        return None
    live = [(s, b) for b, s in enumerate(model.sizes) if s]
    unit = math.gcd(*(s for s, _ in live)) if live else 1
    m = cp_model.CpModel()
    pos = [m.NewIntVar(0, n - 1, f"p{v}") for v in range(n)]
    m.AddAllDifferent(pos)
    for v in range(n):
        for p in bits(model.preds[v]):
            m.Add(pos[p] < pos[v])
    intervals, demands = [], []
    for size, b in live:
        alloc, users = model.alloc[b], model.users[b]
        start = _extreme(m, pos, alloc, n, "min") if alloc else 0
        if model.kept[b]:
            end = n - 1
        elif users:
            end = _extreme(m, pos, users, n, "max")
        else:
            end = start
        length = m.NewIntVar(1, n, f"l{b}")
        m.Add(length == end - start + 1)
        stop = m.NewIntVar(1, n, f"e{b}")
        m.Add(stop == end + 1)
        start_var = start if not isinstance(start, int) else m.NewConstant(start)
        intervals.append(m.NewIntervalVar(start_var, length, stop, f"i{b}"))
        demands.append(size // unit)
    total = sum(demands)
    capacity = m.NewIntVar(0, total, "peak")
    m.AddCumulative(intervals, demands, capacity)
    hint_peak = model_peak(model, hint) - model.base_bytes
    m.Add(capacity * unit <= max(upper - model.base_bytes, hint_peak))
    m.Minimize(capacity)
    for step, v in enumerate(hint):
        m.AddHint(pos[v], step)
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = deterministic_s
    solver.parameters.max_time_in_seconds = max(0.0, work.clock.deadline - time.perf_counter())
    solver.parameters.num_workers = WORKERS
    solver.parameters.random_seed = SEED
    status = solver.Solve(m)
    work.charge(int(solver.response_proto.deterministic_time * UNITS_PER_DETERMINISTIC_SECOND) + 1)
    work.clock.passed()
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    order = tuple(sorted(range(n), key=lambda v: solver.Value(pos[v])))
    peak = model_peak(model, order)
    bound = int(math.ceil(solver.BestObjectiveBound() - 1e-6)) * unit + model.base_bytes
    proved = status == cp_model.OPTIMAL
    return Solved(order, peak, peak if proved else min(bound, peak), proved)


def _extreme(m, pos, mask: int, n: int, kind: str):
    members = [pos[v] for v in bits(mask)]
    if len(members) == 1:
        return members[0]
    var = m.NewIntVar(0, n - 1, f"{kind}{len(members)}")
    (m.AddMinEquality if kind == "min" else m.AddMaxEquality)(var, members)
    return var
