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

    Each question is asked of both searches in turns, with doubling budgets (mirror first); a
    paused search resumes where it stopped, so nothing is searched twice, and the first answer
    settles the question for both. Orders found backwards are returned reversed (orders of the
    forward model). Deterministic: the turns depend on the budget's units only.
    """
    if backward is None:
        return minimize(forward, upper, work, enough)
    best_order, best, states = None, upper, 0
    lower = max(forward.static_bound, backward.static_bound)
    while True:
        if best - 1 < lower:
            return SearchOutcome(best_order, best, best, True, states)
        if best <= enough:
            return SearchOutcome(best_order, best, lower, False, states)
        order, peak, finished, visited = ask_both(((backward, True), (forward, False)), best - 1, work)
        states += visited
        if not finished:
            return SearchOutcome(best_order, best, lower, False, states)
        if order is None:
            return SearchOutcome(best_order, best, best, True, states)
        best_order, best = order, peak


def ask_both(searches, cap: int, work: Work) -> tuple[tuple[int, ...] | None, int, bool, int]:
    """``decide(cap)`` on each (search, mirrored) in turns with doubling budgets until one settles it
    or ``work`` runs out; orders of mirrored searches come back reversed. Same answer as ``decide``."""
    questions = [Question(search, cap, mirrored, work) for search, mirrored in searches]
    quota = max(FIRST_ROUND_UNITS, work.left() // 64)
    while True:
        for question in questions:
            order, peak, finished, _ = question.advance(min(quota, work.left()))
            if finished or work.exhausted():
                return order, peak, finished, sum(q.answer[3] for q in questions)
        quota *= 2


class Question:
    """``decide(cap)`` on one search, paused when its budget runs out and resumed with more units."""

    def __init__(self, search: UnitSearch, cap: int, mirrored: bool, work: Work) -> None:
        self.budget = Work(0, work.clock, work)
        self.steps = _asking(search, cap, self.budget)
        self.mirrored = mirrored
        self.answer: tuple = (None, 0, False, 0)

    def advance(self, units: int) -> tuple:
        """Search ``units`` more (unless settled); the answer so far, orders in the forward model."""
        if not self.answer[2]:
            self.budget.limit = self.budget.spent + units
            self.answer = next(self.steps)
        order = self.answer[0]
        return (order[::-1] if self.mirrored and order is not None else order, *self.answer[1:])


def decide(search: UnitSearch, cap: int, work: Work) -> tuple[tuple[int, ...] | None, int, bool, int]:
    """(order, its peak, True, sets visited) for an order under ``cap``; (None, 0, True, n) when
    there is none; (None, 0, False, n) when the budget ran out first."""
    return next(_asking(search, cap, work))


def _asking(search: UnitSearch, cap: int, work: Work):
    """``decide`` as a generator: yields (None, 0, False, n) each time ``work`` runs out (raise its
    limit and resume for more), then the answer."""
    everything = (1 << len(search.units)) - 1
    start_peak = search.start_mem + search.unused_initial
    if start_peak > cap:
        yield None, 0, True, 0
        return
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
            yield _order_and_peak(search, parent, udone) + (True, len(parent))
            return
        expanded += 1
        if expanded % CHECK_EVERY == 0:
            work.charge(generated)
            generated = 0
            while work.exhausted():
                yield None, 0, False, len(parent)
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
    yield None, 0, True, len(parent)


def _order_and_peak(search: UnitSearch, parent: dict, state: int) -> tuple[tuple[int, ...], int]:
    runs: list[tuple[int, ...]] = []
    while state != -1:
        state, units = parent[state]
        runs.append(units)
    order = tuple(v for units in reversed(runs) for i in units for v in search.units[i].nodes)
    return order, model_peak(search.model, order)
