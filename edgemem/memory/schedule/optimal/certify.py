"""A certified gap where the proof of optimality is out of reach: yes/no questions below the best peak.

A "no" from the exact decision search (``decision.decide``) at a cap c proves that every order
peaks above c, whatever the question's cap is: a lower bound. Questions far below the optimum
are often much cheaper than the last one ``minimize`` asks (at the best peak minus one byte,
where every order that comes close must be ruled out), so when that one runs out of budget the
bound can still be raised: the first question is asked at the cap whose "no" would certify a
gap of ``GAP_TARGET``, then the interval between the proved bound and the best peak is halved
with further questions while the budget lasts. A "yes" gives a better order; a question that
runs out of its budget marks every cap from it up as out of reach, and the next question is
asked below it.

Peaks are the always-live bytes plus a sum of buffer sizes, so they are multiples of the
sizes' greatest common divisor above the base: caps are taken on that grid, and a "no" at a
cap proves the next point of the grid. Everything is charged to the work budget (the sets the
searches generate), so the bound is the same on any machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from edgemem.memory.schedule.optimal.decision import ask_both
from edgemem.memory.schedule.optimal.search import UnitSearch
from edgemem.memory.schedule.optimal.work import Work

GAP_TARGET = 0.10  # the first question: the cap whose "no" certifies (peak - bound) / peak <= 10%
QUESTION_SHARE = 0.5  # of the budget left, for each question


@dataclass(frozen=True)
class Certified:
    order: tuple[int, ...] | None  # a better order found by a "yes", or None
    peak: int  # the best peak (of ``order`` when given)
    lower_bound: int  # proved
    questions: int  # questions asked
    settled: int  # of them, answered (yes or no) within their share
    states: int  # sets the questions visited


def certify(searches: Sequence[tuple[UnitSearch, bool]], lower: int, peak: int, work: Work) -> Certified:
    """Raise the proved ``lower`` bound (and maybe lower ``peak``) by questions below ``peak``.

    ``searches``: the exact search of the model and, where there is one, of its mirror (with
    True: its orders are reversed), as in ``decision.minimize_both``. Each question goes to
    both in turns (``decision.ask_both``); the first answer settles it.
    """
    model = searches[0][0].model
    base = model.base_bytes
    grid = math.gcd(*(s for s in model.sizes if s)) if any(model.sizes) else 1
    lower = _grid_up(lower, base, grid)  # every peak is on the grid
    order, reach = None, peak  # reach: caps at or above it ran out of budget
    questions = settled = states = 0
    while lower < peak and not work.exhausted():
        top = min(peak, reach) - 1  # the highest cap still worth asking
        if top < lower:
            break
        cap = _next_cap(lower, top, peak, base, grid, first=questions == 0)
        found, found_peak, finished, visited = ask_both(searches, cap, work.part(QUESTION_SHARE))
        questions += 1
        states += visited
        if found is not None:
            order, peak = found, found_peak
        elif finished:
            lower = _grid_up(cap + 1, base, grid)
        else:
            reach = cap
            continue
        settled += 1
    return Certified(order, peak, min(lower, peak), questions, settled, states)


def _next_cap(lower: int, top: int, peak: int, base: int, grid: int, first: bool) -> int:
    """A grid point in [lower, top]: the gap target's cap first, then the middle."""
    if first:
        target = _grid_down(math.ceil((1 - GAP_TARGET) * peak) - 1, base, grid)
        if lower <= target <= top:
            return target
    middle = _grid_down((lower + top) // 2, base, grid)
    return max(lower, min(middle, _grid_down(top, base, grid)))


def _grid_up(value: int, base: int, grid: int) -> int:
    return base + max(0, -(-(value - base) // grid)) * grid


def _grid_down(value: int, base: int, grid: int) -> int:
    return base + max(0, (value - base) // grid) * grid
