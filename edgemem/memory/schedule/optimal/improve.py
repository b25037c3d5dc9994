"""Improve one segment's order within a work budget: exact search first, then the fallbacks.

1. Beam search over units (widths 16, 64, 256 ... while it keeps improving and the budget
   allows): a good order fast, which the exact search starts from.
2. ``decision``: is there an order under the best peak minus one byte? asked until the answer
   is no, which proves the last order optimal; asked of the model and of its mirror
   (``reverse``: the order run backwards) in turns, the first to settle wins.
3. If the budget ends first: questions below the best peak (``certify``) raise the proved bound
   towards it (a certified gap), then the time-slice bound (``downset_bound``, CP-SAT, where
   OR-Tools is installed), a wider beam, then ``windows`` (exact re-ordering of windows of the
   best order, and lower bounds from relaxed windows), then CP-SAT (``cpsat``, where OR-Tools is
   installed and the segment has at most ``CPSAT_MAX_NODES`` nodes: an exact model of the same
   problem under the rest of the budget, hinted with the best order; its proved objective bound
   and any better order it finds are kept).
4. Segments of more than ``MODEL_MAX_NODES`` nodes or ``EXACT_MAX_UNITS`` units go to
   ``windows`` directly.

The segment is ``[lo, hi)`` of an ``OrderView``; the best order found is written into the view.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemem.memory.schedule.optimal import cpsat, windows
from edgemem.memory.schedule.optimal.certify import certify
from edgemem.memory.schedule.optimal.coarsen import coarsen
from edgemem.memory.schedule.optimal.decision import minimize_both
from edgemem.memory.schedule.optimal.downset_bound import downset_bound
from edgemem.memory.schedule.optimal.model import MemModel, model_peak
from edgemem.memory.schedule.optimal.reverse import reversed_model
from edgemem.memory.schedule.optimal.search import UnitSearch
from edgemem.memory.schedule.optimal.view import OrderView
from edgemem.memory.schedule.optimal.work import Work

MODEL_MAX_NODES = 2000  # larger segments are only ever modelled window by window
LARGE_SEGMENT_SHARE = 0.5  # of its budget, for a segment only windows can work on: the rest would rarely pay
EXACT_MAX_UNITS = 400  # larger segments go to the window search
CPSAT_MAX_NODES = 400
BEAM_SHARE = 0.05  # of the segment's budget
EXACT_SHARE = 0.7  # of what the beams left: the exact search (``decision``), both ways
CERTIFY_SHARE = 0.6  # of what is left then: questions below the best peak for a bound (``certify``)
SLICE_SHARE = 0.3  # of what is left then: the time-slice bound (``downset_bound``); the fallbacks share the rest
BEAM_WIDTHS = (16, 64, 256, 1024)
WIDE_BEAM, WIDE_BEAM_SHARE = 4096, 0.25  # after an unfinished search: a wider beam, on this share of what is left
WINDOW_SHARE = 0.7  # of what is left then: windows; CP-SAT gets the rest


@dataclass(frozen=True)
class Improved:
    peak: int  # of the segment's best order (now in the view)
    lower_bound: int  # proved
    proved: bool
    states: int
    method: str
    local_order: tuple[int, ...] | None = None  # the order as indices of the segment's model, when modelled


def improve_segment(view: OrderView, lo: int, hi: int, goal: int, work: Work,
                    modelled: tuple[MemModel, tuple[int, ...]] | None = None) -> Improved:
    """Lower the peak of the segment ``[lo, hi)`` of ``view`` and prove a lower bound on it.

    ``goal`` is a peak below which this segment no longer matters (a bound proved elsewhere, or
    another segment's peak): stop as soon as it is met. ``modelled``: the segment's model and
    nodes (``view.window_model(lo, hi)``) when the caller built them already.
    """
    if hi - lo > MODEL_MAX_NODES:
        return _windows_only(view, lo, hi, goal, work, f"{hi - lo} nodes")
    model, nodes = modelled or view.window_model(lo, hi)
    work.charge(model.n)
    units = coarsen(model, range(model.n))
    what = f"{model.n} nodes in {len(units)} units"
    if len(units) > EXACT_MAX_UNITS:
        return _windows_only(view, lo, hi, goal, work, what)
    found = _exact_then_fallbacks(view, lo, hi, model, nodes, units, goal, work)
    return Improved(found.peak, found.lower_bound, found.proved, found.states, f"{what}: {found.method}", found.local_order)


def _windows_only(view: OrderView, lo: int, hi: int, goal: int, work: Work, what: str) -> Improved:
    found = windows.improve(view, lo, hi, goal, work.part(LARGE_SEGMENT_SHARE))
    return Improved(found.peak, found.lower_bound, found.lower_bound >= found.peak, found.states, f"{what}: {found.method}")


def _exact_then_fallbacks(view, lo, hi, model: MemModel, nodes, units, goal: int, work: Work) -> Improved:
    search, backward = UnitSearch(model, units), _backward(model)
    lower = max(search.static_bound, backward.static_bound if backward is not None else 0)
    order, peak = _beams(search, backward, view.peak(lo, hi), max(lower, goal), work.part(BEAM_SHARE))
    if peak <= max(lower, goal):
        method = "beam search meets the proved bound" if peak <= lower else "beam search meets the goal"
        return _done(view, lo, hi, model, nodes, order, peak, min(lower, peak), peak <= lower, 0, method)
    outcome = minimize_both(search, backward, peak, work.part(EXACT_SHARE), enough=goal)
    if outcome.order is not None:
        order, peak = outcome.order, outcome.peak
    states = outcome.states
    if outcome.finished:
        return _done(view, lo, hi, model, nodes, order, peak, peak, True, states,
                     f"exact search proved optimal ({states} sets)")
    if peak <= goal:
        return _done(view, lo, hi, model, nodes, order, peak, lower, False, states, "exact search meets the goal")
    searches = [(backward, True), (search, False)] if backward is not None else [(search, False)]
    certified = certify(searches, max(lower, outcome.lower_bound), peak, work.part(CERTIFY_SHARE))
    if certified.order is not None:
        order, peak = certified.order, certified.peak
    lower, states = certified.lower_bound, states + certified.states
    method = (f"exact search stopped after {outcome.states} sets; {certified.settled} of {certified.questions} "
              f"questions below the best peak settled, bound {lower} B")
    if peak > lower:
        slices = downset_bound(model, units, peak, work.part(SLICE_SHARE))
        method += f"; time-slice bound {slices} B"
        lower = max(lower, slices)
    return _fallbacks(view, lo, hi, model, nodes, search, (order, peak, lower, states, method), goal, work)


def _fallbacks(view, lo, hi, model: MemModel, nodes, search: UnitSearch, found: tuple, goal: int, work: Work) -> Improved:
    """A wider beam, windows, then CP-SAT on what is left of the budget."""
    order, peak, lower, states, method = found
    wide = search.beam(WIDE_BEAM, work.part(WIDE_BEAM_SHARE)) if peak > lower else None
    if wide is not None and wide[1] < peak:
        order, peak = wide
        method += f"; a {WIDE_BEAM}-wide beam found a better order"
    view.replace(lo, hi, model, nodes, order)
    fallback = cpsat.available() and model.n <= CPSAT_MAX_NODES
    if peak > lower and not work.exhausted():
        windowed = windows.improve(view, lo, hi, max(goal, lower), work.part(WINDOW_SHARE if fallback else 1.0))
        lower = max(lower, windowed.lower_bound)
        states += windowed.states
        peak = windowed.peak
        local = {v: i for i, v in enumerate(nodes)}
        order = tuple(local[v] for v in view.order[lo:hi])
        method += f"; {windowed.method}"
    if fallback and peak > lower and not work.exhausted():
        solved = cpsat.solve(model, order, peak, work)
        if solved is not None:
            lower = max(lower, solved.lower_bound)
            if solved.peak < peak:
                order, peak = solved.order, solved.peak
            method += "; CP-SAT " + ("proved optimal" if solved.proved else "stopped at its budget")
    return _done(view, lo, hi, model, nodes, order, peak, min(lower, peak), lower >= peak, states, method)


def _backward(model: MemModel) -> UnitSearch | None:
    """The exact search on the mirrored model (``reverse``), or None where the mirror is not exact."""
    mirrored = reversed_model(model, range(model.n))
    if mirrored is None:
        return None
    order = range(model.n - 1, -1, -1)
    return UnitSearch(mirrored, coarsen(mirrored, order), order)


def _beams(search: UnitSearch, backward: UnitSearch | None, peak: int, enough: int, work: Work):
    """The best of the identity order and beams of growing width, on the mirror first (its orders
    reversed), while the budget allows and the peak is above ``enough``."""
    order = tuple(range(search.model.n))
    for width in BEAM_WIDTHS:
        for direction in (backward, search) if backward is not None else (search,):
            if peak <= enough:
                return order, peak
            found = direction.beam(width, work.part(0.5) if direction is backward else work)
            if found is not None and found[1] < peak:
                order, peak = (found[0][::-1] if direction is backward else found[0]), found[1]
        if work.exhausted():
            break
    return order, peak


def _done(view, lo, hi, model, nodes, order, peak, lower, proved, states, method) -> Improved:
    assert model_peak(model, order) == peak, "segment order peak disagrees with the model"
    view.replace(lo, hi, model, nodes, order)
    return Improved(peak, lower, proved, states, method, tuple(order))
