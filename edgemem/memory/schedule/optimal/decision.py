"""The exact search as a sequence of yes/no questions: is there an order whose peak stays <= cap?

``decide(cap)`` is a depth-first search over executed sets of units. Under a fixed cap the past no
longer matters (the live bytes after a set depend only on the set, and every step so far was
under the cap), so a set is never visited twice, and many more moves are forced than in the
best-first search: a ready unit that frees at least what it allocates and whose own peak stays
under the *cap* (not under the peak reached so far) is run at once; moving it earlier in any
order under the cap lowers every step in between and keeps its own steps under the cap. A set
reached by one move is closed under forced moves only once, whatever the parent. Children
are tried lowest live bytes first, so an order under the cap, when there is one, is usually
found on the first dive; when there is none, every set reachable under the cap is visited once.

``minimize(upper)`` asks decide(best - 1) until the answer is no: each yes brings a better order,
and the no proves the last one optimal. ``minimize_both`` asks it of the model and of its mirror
(``reverse``: the order run backwards, same peaks) in turns with doubling budgets. Forwards, the
64-block RandWire stages need about 2 million sets; backwards, a few thousand (48 blocks: a few
hundred, against 48,000). The work budget is charged per child generated; when it runs out the
best order so far is kept and only the single-node bound stands (``certify`` raises it).
"""

from __future__ import annotations

from edgemem.memory.schedule.optimal.model import model_peak
from edgemem.memory.schedule.optimal.search import CHECK_EVERY, SearchOutcome, UnitSearch
from edgemem.memory.schedule.optimal.work import Work

FIRST_ROUND_UNITS = 20_000  # at least, per direction, in the first round of ``minimize_both``


def minimize(search: UnitSearch, upper: int, work: Work, enough: int = 0) -> SearchOutcome:
    """An order with a peak below ``upper``, the lowest one, or a proof that there is none.

    ``enough``: a peak that needs no improving (stop there, unproved unless it meets the bound).
    """
    if not search.units:
        base = search.model.base_bytes
        return SearchOutcome((), base, base, True, 0)
    best_order, best, states = None, upper, 0
    while True:
        cap = best - 1
        if cap < search.static_bound:  # nothing can be below the single-node bound
            return SearchOutcome(best_order, best, best, True, states)
        if best <= enough:
            return SearchOutcome(best_order, best, min(search.static_bound, best), False, states)
        order, peak, finished, visited = decide(search, cap, work)
        states += visited
        if order is not None:
            best_order, best = order, peak
            continue
        return SearchOutcome(best_order, best, best if finished else min(search.static_bound, best), finished, states)


def minimize_both(forward: UnitSearch, backward: UnitSearch | None, upper: int, work: Work,
                  enough: int = 0) -> SearchOutcome:
    """``minimize`` forwards and on the mirrored model (``reverse``), whichever settles first.

    The two run in rounds of doubling budgets, backwards first, each starting from the best
    peak either found so far; the first to finish proves it. Orders found backwards are
    returned reversed (orders of the forward model). Deterministic: the rounds depend on the
    budget's units only.
    """
    if backward is None:
        return minimize(forward, upper, work, enough)
    best_order, best, states = None, upper, 0
    lower = max(forward.static_bound, backward.static_bound)
    quota = max(FIRST_ROUND_UNITS, work.left() // 64)
    while True:
        for search, mirrored in ((backward, True), (forward, False)):
            outcome = minimize(search, best, Work(min(quota, work.left()), work.clock, work), enough)
            states += outcome.states
            if outcome.order is not None:
                best_order = tuple(reversed(outcome.order)) if mirrored else outcome.order
                best = outcome.peak
            proved = outcome.finished or best <= lower
            if proved or best <= enough or work.exhausted():
                return SearchOutcome(best_order, best, best if proved else lower, proved, states)
        quota *= 2


def decide(search: UnitSearch, cap: int, work: Work) -> tuple[tuple[int, ...] | None, int, bool, int]:
    """(order, its peak, True, sets visited) for an order under ``cap``; (None, 0, True, n) when
    there is none; (None, 0, False, n) when the budget ran out first."""
    everything = (1 << len(search.units)) - 1
    start_peak = search.start_mem + search.unused_initial
    if start_peak > cap:
        return None, 0, True, 0
    ready0 = sum(1 << i for i in range(len(search.units)) if not search.unit_preds[i])
    udone, ready, done, mem, forced = search.close(0, ready0, 0, cap, search.start_mem)
    parent: dict[int, tuple[int, tuple[int, ...]]] = {udone: (-1, forced)}
    stack = [(udone, ready, done, mem)]
    opened_before: set[int] = set()  # sets reached by one move, before their forced moves
    expanded = generated = 0
    profile, close, ready_after, unit_mask = search.profile, search.close, search._ready_after, search.unit_mask
    affected, profiles, depends, forcable = search.affected, search.profiles, search.unit_depends, search.forcable
    while stack:
        udone, ready, done, mem = stack.pop()
        if udone == everything:
            return _order_and_peak(search, parent, udone) + (True, len(parent))
        expanded += 1
        if expanded % CHECK_EVERY == 0:
            work.charge(generated)
            generated = 0
            if work.exhausted():
                return None, 0, False, len(parent)
        children = []
        pending = ready
        while pending:
            low = pending & -pending
            pending ^= low
            generated += 1
            i = low.bit_length() - 1
            cached = profiles[i].get((done & depends[i]) << 1 | (done == 0))
            top, residual = cached if cached is not None else profile(i, done)
            if mem + top > cap:
                continue
            opened = udone | low
            if opened in opened_before:  # its closure was generated already
                continue
            opened_before.add(opened)
            ready2 = ready_after(ready, i, opened)
            # the parent is closed: only units it readied or whose buffers unit i touched can have
            # become forced, unless the live bytes dropped (then any freeing unit may fit)
            check = (ready2 if residual < 0 else (ready2 & ~ready) | affected[i]) & forcable
            if check:
                udone2, ready2, done2, mem2, forced = close(opened, ready2, done | unit_mask[i], cap, mem + residual, check)
            else:  # nothing can have become forced
                udone2, done2, mem2, forced = opened, done | unit_mask[i], mem + residual, ()
            if udone2 in parent:
                continue
            parent[udone2] = (udone, (i, *forced))
            children.append((mem2, udone2, ready2, done2))
        children.sort(reverse=True)  # the lowest live bytes on top of the stack
        stack.extend((u, r, d, m) for m, u, r, d in children)
    work.charge(generated)
    return None, 0, True, len(parent)


def _order_and_peak(search: UnitSearch, parent: dict, state: int) -> tuple[tuple[int, ...], int]:
    runs: list[tuple[int, ...]] = []
    while state != -1:
        state, units = parent[state]
        runs.append(units)
    order = tuple(v for units in reversed(runs) for i in units for v in search.units[i].nodes)
    return order, model_peak(search.model, order)
