"""Improve one segment's order within a deadline: exact search first, then the fallbacks.

1. Beam search over units (widths 16, 64, 256 ... while it keeps improving and time allows):
   a good incumbent fast, which is what branch and bound prunes against and what is returned
   if nothing else finishes.
2. ``search``: best-first dynamic programming over units; proved optimal when it finishes.
3. If it does not finish: a wider beam, then ``windows`` (exact re-ordering of windows of the
   best order, and lower bounds from relaxed windows), then CP-SAT (``cpsat``, where OR-Tools is
   installed and the segment has at most ``CPSAT_MAX_NODES`` nodes: an exact model of the same
   problem under the remaining time, hinted with the best order; its proved objective bound and
   any better order it finds are kept).
4. Segments of more than ``EXACT_MAX_UNITS`` units go to ``windows`` directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from edgemem.memory.schedule.optimal import cpsat, windows
from edgemem.memory.schedule.optimal.coarsen import coarsen
from edgemem.memory.schedule.optimal.model import MemModel, model_peak
from edgemem.memory.schedule.optimal.search import UnitSearch

EXACT_MAX_UNITS = 400  # larger segments go to the window search
CPSAT_MAX_NODES = 400
BEAM_SHARE = 0.1  # of the segment's time
DP_SHARE = 0.6  # of the segment's time; the fallbacks share the rest
BEAM_WIDTHS = (16, 64, 256, 1024)
WIDE_BEAM, WIDE_BEAM_SHARE = 4096, 0.25  # after an unfinished search: a wider beam, on this share of what is left
WINDOW_SHARE = 0.7  # of what is left then: windows; CP-SAT gets the rest


@dataclass(frozen=True)
class Improved:
    order: tuple[int, ...]  # the best order found (the given one when nothing better was)
    peak: int
    lower_bound: int  # proved
    proved: bool
    states: int
    method: str


def improve_segment(model: MemModel, order: tuple[int, ...], bound: int, deadline: float, max_states: int) -> Improved:
    """Best order of ``model`` found by ``deadline``, starting from ``order``, and a proved bound.

    ``bound`` is a bound proved elsewhere (e.g. another segment's): stop as soon as it is met.
    """
    start = time.perf_counter()
    span = max(0.0, deadline - start)
    peak = model_peak(model, order)
    units = coarsen(model, order)
    what = f"{model.n} nodes in {len(units)} units"
    if len(units) > EXACT_MAX_UNITS:
        found = windows.improve(model, order, peak, bound, deadline, max_states)
        return Improved(found.order, found.peak, found.lower_bound, found.lower_bound >= found.peak, found.states,
                        f"{what}: {found.method}")
    search = UnitSearch(model, units, order)
    lower = search.static_bound
    beam_deadline = start + span * BEAM_SHARE
    for width in BEAM_WIDTHS:
        if peak <= max(lower, bound):
            break
        found = search.beam(width, beam_deadline)
        if found is None:
            break
        if found[1] < peak:
            order, peak = found
    if peak <= max(lower, bound):
        method = "beam search meets the proved bound" if peak <= lower else "beam search meets another segment's bound"
        return Improved(order, peak, min(lower, peak), peak <= lower, 0, f"{what}: {method}")
    dp_deadline = start + span * DP_SHARE
    outcome = search.run(peak, dp_deadline, max_states)
    if outcome.order is not None:
        order, peak = outcome.order, outcome.peak
    lower = max(lower, outcome.lower_bound)
    if outcome.finished:
        return Improved(order, peak, peak, True, outcome.states,
                        f"{what}: dynamic programming proved optimal ({outcome.states} states)")
    method = f"{what}: dynamic programming stopped after {outcome.states} states"
    states = outcome.states
    left = deadline - time.perf_counter()
    found = search.beam(WIDE_BEAM, time.perf_counter() + left * WIDE_BEAM_SHARE)
    if found is not None and found[1] < peak:
        order, peak = found
        method += f"; a {WIDE_BEAM}-wide beam found a better order"
    left = deadline - time.perf_counter()
    fallback = cpsat.available() and model.n <= CPSAT_MAX_NODES
    if left > 0.2 and peak > lower:
        share = WINDOW_SHARE if fallback else 1.0
        windowed = windows.improve(model, order, peak, bound, time.perf_counter() + left * share, max_states)
        lower = max(lower, windowed.lower_bound)
        states += windowed.states
        if windowed.peak < peak:
            order, peak = windowed.order, windowed.peak
        method += f"; {windowed.method}"
    left = deadline - time.perf_counter()
    if fallback and left > 0.2 and peak > lower:
        solved = cpsat.solve(model, order, peak, left)
        if solved is not None:
            lower = max(lower, solved.lower_bound)
            if solved.peak < peak:
                order, peak = solved.order, solved.peak
            method += "; CP-SAT " + ("proved optimal" if solved.proved else "stopped at the time limit")
    assert model_peak(model, order) == peak, "segment order peak disagrees with the model"
    return Improved(order, peak, min(lower, peak), lower >= peak, states, method)
