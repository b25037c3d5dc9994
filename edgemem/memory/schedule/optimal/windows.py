"""Segments too large for one exact search: exact windows for the order, relaxed windows for the bound.

Upper side (large-neighbourhood search): take the steps around a peak of the current order,
carve them out as a segment model (``model.segment``: the rest of the order stays valid and
its memory is unchanged) and re-order them exactly with the unit search. Every step at the
peak must be improved for the peak to drop; a window that cannot be improved is grown once,
then the search stops there.

Lower side: the nodes of a window, as a relaxed model (``model.relaxed``: buffers they touch
live only between their own first and last use, precedence through the whole graph), solved
exactly or bounded by the same search. Its optimum is a lower bound on the whole segment's.
Windows are tried around the highest parts of the best order first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

from edgemem.memory.schedule.optimal.coarsen import coarsen
from edgemem.memory.schedule.optimal.model import MemModel, ancestor_masks, model_peak, model_profile, relaxed, segment
from edgemem.memory.schedule.optimal.search import UnitSearch

WINDOWS = (40, 90, 160, 250)  # nodes per window: the first size, then larger ones where it fails
BOUND_WINDOWS = (90, 160, 40, 250)  # relaxed windows: mid-size first (tighter than 40, still solvable)
WINDOW_SECONDS = 2.0  # at most per exact window search
ORDER_SHARE = 0.5  # of the time: improving the order; the rest: the bound


@dataclass(frozen=True)
class WindowResult:
    order: tuple[int, ...]
    peak: int
    lower_bound: int
    states: int
    method: str


def improve(model: MemModel, order: Sequence[int], peak: int, bound: int, deadline: float, max_states: int) -> WindowResult:
    start = time.perf_counter()
    order = list(order)
    order_deadline = start + (deadline - start) * ORDER_SHARE
    order, peak, states, windows, stuck = _improve_order(model, order, peak, bound, order_deadline, max_states)
    lower, lb_windows, lb_states = _bound(model, order, peak, stuck, deadline, max_states)
    method = f"exact windows re-ordered {windows} time(s); relaxed windows bound the peak from below ({lb_windows} solved)"
    return WindowResult(tuple(order), peak, min(lower, peak), states + lb_states, method)


def _improve_order(model, order, peak, bound, deadline, max_states):
    """Re-order windows around the peak until it drops no more; returns the step it stuck at."""
    states = applied = 0
    while peak > bound:
        profile = model_profile(model, order)
        peak = max(profile)
        for step in _region_centres([s for s, live in enumerate(profile) if live == peak]):
            for size in WINDOWS:
                if time.perf_counter() >= deadline:
                    return order, model_peak(model, order), states, applied, step
                lo = max(0, step - size // 2)
                hi = min(len(order), lo + size)
                sub, nodes = segment(model, order, lo, hi)
                here = model_peak(sub, range(sub.n))
                if here < peak:
                    break  # an earlier window already lowered this region
                search = UnitSearch(sub, coarsen(sub, range(sub.n)))
                budget = min(WINDOW_SECONDS, deadline - time.perf_counter())
                outcome = search.run(here, time.perf_counter() + budget, max_states)
                states += outcome.states
                if outcome.order is not None and outcome.peak < peak:
                    order[lo:hi] = [nodes[i] for i in outcome.order]
                    applied += 1
                    break
            else:
                return order, model_peak(model, order), states, applied, step
    return order, model_peak(model, order), states, applied, None


def _region_centres(steps: list[int]) -> list[int]:
    """One step per run of consecutive steps (the middle of each run)."""
    centres, run = [], []
    for s in steps:
        if run and s != run[-1] + 1:
            centres.append(run[len(run) // 2])
            run = []
        run.append(s)
    if run:
        centres.append(run[len(run) // 2])
    return centres


def _bound(model, order, peak, stuck, deadline, max_states):
    """The best relaxed-window bound: windows of growing size, around the step the order search
    stuck at first, then around the highest steps of the order; each search time-boxed."""
    anc = ancestor_masks(model, order)
    profile = model_profile(model, order)
    tops = sorted(range(len(order)), key=lambda s: -profile[s])
    best = solved = states = 0
    tried: set[tuple[int, int]] = set()
    for size in BOUND_WINDOWS:
        centres = ([stuck] if stuck is not None else []) + tops[:: max(1, size // 4)]
        for centre in centres:
            lo = max(0, min(centre - size // 2, len(order) - size))
            if best >= peak or time.perf_counter() >= deadline:
                return best, solved, states
            if (lo, size) in tried or max(profile[lo:lo + size]) <= best:
                continue
            tried.add((lo, size))
            sub = relaxed(model, order[lo:lo + size], anc)
            search = UnitSearch(sub, coarsen(sub, range(sub.n)))
            budget = min(WINDOW_SECONDS, deadline - time.perf_counter())
            outcome = search.run(peak + 1, time.perf_counter() + budget, max_states)
            states += outcome.states
            best = max(best, outcome.lower_bound, search.static_bound)
            solved += outcome.finished
    return best, solved, states
