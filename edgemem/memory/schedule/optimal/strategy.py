"""Minimum-peak order, exact where it can be proved, with a certified gap where it cannot.

1. Start from the best heuristic order (the incumbent) and the order-independent bound.
2. Cut the graph at nodes every other node precedes or follows (``split``, one linear sweep);
   each segment is ordered on its own. Every segment gets a linear-time bound: what each of its
   nodes touches plus the buffers alive across the whole segment in every order. Only segments
   whose peak is above the best proved bound and above the peak other segments already reached
   can change the answer.
3. Each such segment, highest first, with an equal share of the work budget left: coarsen
   chains into units (``coarsen``), beam search, the exact search as yes/no questions on the
   segment and on its mirror (``decision``, ``reverse``), then questions below the best peak
   for a certified gap (``certify``) and the fallbacks (``improve``). Segments with the same
   model (repeated blocks) are solved once.

The budget is counted in work units (``work``), so the answer is the same on any machine; the
time limit is only a guard, and the method says when it stopped the search. The result is
always a valid order no worse than the incumbent (the incumbent itself when no order below its
peak was found, so that the report places one order, not two equal ones), with a proved lower bound; "proved optimal"
only when the peak meets it.
"""

from __future__ import annotations

import bisect
import time

from edgemem.memory.bounds import working_set_bytes
from edgemem.memory.problem import Problem
from edgemem.memory.schedule import greedy
from edgemem.memory.schedule.optimal.improve import MODEL_MAX_NODES, Improved, improve_segment
from edgemem.memory.schedule.optimal.model import structure
from edgemem.memory.schedule.optimal.split import segments
from edgemem.memory.schedule.optimal.view import OrderView
from edgemem.memory.schedule.optimal.work import Work
from edgemem.memory.schedule.result import ScheduleContext, ScheduleResult


def schedule(problem: Problem, context: ScheduleContext) -> ScheduleResult:
    start = time.perf_counter()
    work = Work.of(context.work_limit, context.time_limit_s)
    incumbent = context.incumbent or greedy.schedule(problem, context)
    upper = incumbent.peak_bytes
    if upper <= context.lower_bound_bytes or not problem.node_names:
        return _result(incumbent.order, upper, upper, "the incumbent order meets the lower bound", start, 0)
    view = OrderView(problem, incumbent.order)
    parts = segments(problem.preds, view.order)
    peaks = [view.peak(lo, hi) for lo, hi in parts]
    lower = segment_bounds(problem, view, parts)
    bound = max([context.lower_bound_bytes, *lower])
    reached = 0  # the highest peak of the segments searched so far: the answer is at least this
    notes: list[str] = []
    states = 0
    solved: dict[tuple, Improved] = {}  # segment model -> what its search found
    ranked = sorted(range(len(parts)), key=lambda k: (-peaks[k], k))
    descending = [-peaks[k] for k in ranked]
    for index, k in enumerate(ranked):
        goal = max(bound, reached)
        if peaks[k] <= goal or work.exhausted():
            break
        lo, hi = parts[k]
        busy = bisect.bisect_left(descending, -goal) - index  # this and the later segments above the goal
        found = _solve_once(view, lo, hi, goal, work.part(1.0 / busy), solved)
        states += found.states
        peaks[k] = found.peak
        lower[k] = max(lower[k], found.lower_bound)
        bound = max(bound, lower[k])
        reached = max(reached, found.peak)
        notes.append(found.method)
    peak = max(peaks)
    method = f"{len(parts)} segment(s) between cut nodes"
    if notes:
        method += "; " + "; ".join(notes[:3]) + (f"; +{len(notes) - 3} more" if len(notes) > 3 else "")
    else:
        method += ", none above the bound"
    if work.timed_out:
        method += f"; stopped by the time limit ({context.time_limit_s:g} s) before the work budget was spent"
    if peak >= upper:  # nothing below the incumbent's peak: keep its order (one order to place, not two)
        return _result(incumbent.order, upper, min(bound, upper), method + "; no order below the incumbent's peak",
                       start, states, work.timed_out)
    return _result(view.order, peak, min(bound, peak), method, start, states, work.timed_out)


def _solve_once(view: OrderView, lo: int, hi: int, goal: int, work: Work, solved: dict) -> Improved:
    """``improve_segment``, or the order found before for a segment with the same model."""
    if hi - lo > MODEL_MAX_NODES:
        return improve_segment(view, lo, hi, goal, work)
    model, nodes = view.window_model(lo, hi)
    key = structure(model)
    before = solved.get(key)
    if before is not None and before.local_order is not None:
        view.replace(lo, hi, model, nodes, before.local_order)
        return Improved(before.peak, before.lower_bound, before.proved, 0, "the same as an earlier segment",
                        before.local_order)
    found = improve_segment(view, lo, hi, goal, work, (model, nodes))
    solved[key] = found
    return found


def segment_bounds(problem: Problem, view: OrderView, parts: list[tuple[int, int]]) -> list[int]:
    """Per segment: a lower bound on its peak in any order, in O(nodes + edges).

    A buffer allocated before a segment (by an earlier segment, or a graph input) and read after
    it (or a graph output) is live across the whole segment in every order; while a node of the
    segment runs, so is everything it touches.
    """
    n_parts = len(parts)
    part_of = [0] * len(view.order)
    for k, (lo, hi) in enumerate(parts):
        for step in range(lo, hi):
            part_of[view.order[step]] = k
    sizes = problem.sizes
    across = [0] * (n_parts + 1)  # difference array over segments
    spans = []  # per buffer: (first, last) segment it lives across strictly inside
    for b, buf in enumerate(problem.buffers):
        first = part_of[buf.creator] if buf.creator >= 0 else -1
        last = n_parts if buf.is_output else max((part_of[u] for u in view.users[b]), default=first)
        spans.append((first, last))
        if sizes[b] and last - first > 1:
            across[first + 1] += sizes[b]
            across[last] -= sizes[b]
    live_across, running = [], 0
    for k in range(n_parts):
        running += across[k]
        live_across.append(running)
    bounds = [0] * n_parts
    for v, ws in enumerate(working_set_bytes(problem)):
        k = part_of[v]
        counted = sum(sizes[b] for b in problem.touches[v] if spans[b][0] < k < spans[b][1])
        bounds[k] = max(bounds[k], ws + live_across[k] - counted)
    return bounds


def _result(order, peak, bound, method, start, states, timed_out=False) -> ScheduleResult:
    return ScheduleResult(
        name="optimal",
        order=tuple(order),
        peak_bytes=peak,
        proved_optimal=peak <= bound,
        lower_bound_bytes=bound,
        method=method,
        search_s=time.perf_counter() - start,
        states=states,
        timed_out=timed_out,
    )
