"""Minimum-peak order, exact where it can be proved and anytime where it cannot.

1. Start from the best heuristic order (the incumbent) and the order-independent bound.
2. Cut the graph at nodes every other node precedes or follows (``split``); each segment is
   ordered on its own and only segments whose peak is above the best proved bound matter.
3. In each such segment, coarsen chains into units that may run back to back (``coarsen``)
   and search the executed sets best-first with branch and bound against the incumbent
   (``search``). A finished search proves the segment optimal.
4. Segments the search cannot finish in its share of the time go to the fallbacks
   (``improve``): CP-SAT under a time limit where OR-Tools is installed, re-ordering windows
   of the order exactly, and lower bounds from relaxed windows.

The result is always a valid order no worse than the incumbent, with a proved lower bound;
"proved optimal" only when the peak meets it.
"""

from __future__ import annotations

import time

from edgemem.memory.problem import Problem
from edgemem.memory.schedule import greedy
from edgemem.memory.schedule.optimal.improve import improve_segment
from edgemem.memory.schedule.optimal.model import model_from_problem, model_peak, segment, working_sets
from edgemem.memory.schedule.result import ScheduleContext, ScheduleResult
from edgemem.memory.schedule.optimal.split import segments


def schedule(problem: Problem, context: ScheduleContext) -> ScheduleResult:
    start = time.perf_counter()
    deadline = start + context.time_limit_s
    incumbent = context.incumbent or greedy.schedule(problem, context)
    upper = incumbent.peak_bytes
    if upper <= context.lower_bound_bytes or not problem.node_names:
        return _result(incumbent.order, upper, upper, "the incumbent order meets the lower bound", start, 0)
    model = model_from_problem(problem)
    order = list(incumbent.order)
    parts = []
    for lo, hi in segments(model, order):
        sub, nodes = segment(model, order, lo, hi)
        parts.append(_Part(lo, hi, sub, nodes, model_peak(sub, range(sub.n))))
    bound = max([context.lower_bound_bytes] + [p.bound for p in parts])
    notes: list[str] = []
    states = 0
    for part in sorted(parts, key=lambda p: -p.peak):
        if part.peak <= bound:
            break
        left = deadline - time.perf_counter()
        busy = [p for p in parts if p.peak > bound and not p.done]
        share = left * max(0.3, part.peak / sum(p.peak for p in busy))
        found = improve_segment(part.model, tuple(range(part.model.n)), bound, time.perf_counter() + share, context.max_states)
        part.done = True
        states += found.states
        if found.peak < part.peak:
            order[part.lo:part.hi] = [part.nodes[i] for i in found.order]
            part.peak = found.peak
        part.bound = max(part.bound, found.lower_bound)
        bound = max(bound, part.bound)
        notes.append(found.method)
    peak = max(p.peak for p in parts)
    method = f"{len(parts)} segment(s) between cut nodes"
    if notes:
        method += "; " + "; ".join(notes[:3]) + (f"; +{len(notes) - 3} more" if len(notes) > 3 else "")
    else:
        method += ", none above the bound"
    return _result(order, peak, min(bound, peak), method, start, states)


class _Part:
    def __init__(self, lo, hi, model, nodes, peak) -> None:
        self.lo, self.hi, self.model, self.nodes, self.peak = lo, hi, model, nodes, peak
        self.bound = max(working_sets(model), default=model.base_bytes)
        self.done = False


def _result(order, peak, bound, method, start, states) -> ScheduleResult:
    return ScheduleResult(
        name="optimal",
        order=tuple(order),
        peak_bytes=peak,
        proved_optimal=peak <= bound,
        lower_bound_bytes=bound,
        method=method,
        search_s=time.perf_counter() - start,
        states=states,
    )
