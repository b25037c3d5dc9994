"""Segments too large for one exact search: exact windows for the order, relaxed windows for the bound.

Upper side (large-neighbourhood search): take the steps around a peak of the current order,
carve them out as a window model (``OrderView.window_model``: the rest of the order stays valid
and its memory is unchanged) and re-order them exactly with the unit search. Every step at the
peak must be improved for the peak to drop; a window that cannot be improved is grown, and when
the largest cannot either, the search stops there.

Lower side: the nodes of a window, as a relaxed model (``OrderView.relaxed_model``: buffers they
touch live only between their own first and last use, precedence through the whole segment),
solved exactly or bounded by the same search. Its optimum is a lower bound on the segment's.
Windows are tried around the step the order search stuck at, then around the highest steps,
until ``STALE_WINDOWS`` in a row have not raised the bound.

Everything is charged to the work budget: each window model costs ``SETUP_UNITS_PER_NODE`` per
node, each search what it generates, so the result does not depend on the machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgemem.memory.schedule.optimal.coarsen import coarsen
from edgemem.memory.schedule.optimal.decision import minimize
from edgemem.memory.schedule.optimal.model import structure
from edgemem.memory.schedule.optimal.search import UnitSearch
from edgemem.memory.schedule.optimal.view import OrderView
from edgemem.memory.schedule.optimal.work import Work

WINDOWS = (40, 90, 160, 250)  # nodes per window: the first size, then larger ones where it fails
BOUND_WINDOWS = (90, 160, 40, 250)  # relaxed windows: mid-size first (tighter than 40, still solvable)
WINDOW_UNITS = 10_000  # at most per window search
SETUP_UNITS_PER_NODE = 15  # building a window's model and search costs about this many search steps per node
ORDER_SHARE = 0.5  # of the budget: improving the order; the rest: the bound
STALE_WINDOWS = 6  # relaxed windows in a row that do not raise the bound end the bound search


@dataclass(frozen=True)
class WindowResult:
    peak: int  # of the segment's order in the view, after the windows
    lower_bound: int
    states: int
    method: str


def improve(view: OrderView, lo: int, hi: int, goal: int, work: Work) -> WindowResult:
    """Lower the peak of the segment ``[lo, hi)`` of ``view`` towards ``goal``; bound it from below."""
    peak, states, windows, stuck = _improve_order(view, lo, hi, goal, work.part(ORDER_SHARE))
    lower, lb_windows, lb_states = _bound(view, lo, hi, peak, stuck, work)
    method = f"exact windows re-ordered {windows} time(s); relaxed windows bound the peak from below ({lb_windows} solved)"
    return WindowResult(peak, min(lower, peak), states + lb_states, method)


def _improve_order(view: OrderView, lo: int, hi: int, goal: int, work: Work):
    """Re-order windows around the peak until it drops no more; returns the step it stuck at."""
    states = applied = 0
    peak = view.peak(lo, hi)
    seen: dict[tuple, tuple] = {}  # window model -> what its search found (repeated cells are searched once)
    while peak > goal:
        at_peak = np.flatnonzero(view.profile[lo:hi] == peak) + lo
        for step in _region_centres(at_peak.tolist()):
            for size in WINDOWS:
                if work.exhausted():
                    return view.peak(lo, hi), states, applied, step
                wlo = max(lo, step - size // 2)
                whi = min(hi, wlo + size)
                if view.peak(wlo, whi) < peak:
                    break  # an earlier window already lowered this region
                sub, nodes = view.window_model(wlo, whi)
                key = structure(sub)
                if key not in seen:
                    work.charge(sub.n * SETUP_UNITS_PER_NODE)
                    search = UnitSearch(sub, coarsen(sub, range(sub.n)))
                    outcome = minimize(search, view.peak(wlo, whi), Work(min(WINDOW_UNITS, work.left()), work.clock, work))
                    states += outcome.states
                    seen[key] = (outcome.order, outcome.peak)
                order, found = seen[key]
                if order is not None and found < peak:
                    view.replace(wlo, whi, sub, nodes, order)
                    applied += 1
                    break
            else:
                return view.peak(lo, hi), states, applied, step
        peak = view.peak(lo, hi)
    return peak, states, applied, None


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


def _bound(view: OrderView, lo: int, hi: int, peak: int, stuck: int | None, work: Work):
    """The best relaxed-window bound: windows of growing size, around the step the order search
    stuck at first, then around the highest steps of the order; each search bounded."""
    profile = view.profile
    tops = (np.argsort(-profile[lo:hi], kind="stable") + lo).tolist()
    best = solved = states = stale = 0
    tried: set[tuple[int, int]] = set()
    for size in BOUND_WINDOWS:
        centres = ([stuck] if stuck is not None else []) + tops[:: max(1, size // 4)]
        for centre in centres:
            wlo = max(lo, min(centre - size // 2, hi - size))
            whi = min(hi, wlo + size)
            if best >= peak or work.exhausted():
                return best, solved, states
            if (wlo, whi) in tried or view.peak(wlo, whi) <= best:
                continue
            tried.add((wlo, whi))
            sub = view.relaxed_model(wlo, whi, lo, hi)
            work.charge(sub.n * SETUP_UNITS_PER_NODE)
            search = UnitSearch(sub, coarsen(sub, range(sub.n)))
            outcome = search.run(peak + 1, Work(min(WINDOW_UNITS, work.left()), work.clock, work))
            states += outcome.states
            solved += outcome.finished
            found = max(outcome.lower_bound, search.static_bound)
            stale = 0 if found > best else stale + 1
            best = max(best, found)
            if stale >= STALE_WINDOWS:
                return best, solved, states
    return best, solved, states
