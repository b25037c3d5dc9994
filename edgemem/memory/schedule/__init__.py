"""Execution orders, one strategy per file, chosen by name from ``STRATEGIES``.

Every strategy has the signature ``schedule(problem, context) -> ScheduleResult``.
"""

from __future__ import annotations

from edgemem.memory.schedule import greedy, optimal, stored
from edgemem.memory.schedule.result import ScheduleContext, ScheduleResult

STRATEGIES = {
    "stored": stored.schedule,
    "greedy": greedy.schedule,
    "optimal": optimal.schedule,
}

__all__ = ["STRATEGIES", "ScheduleContext", "ScheduleResult"]
