"""The order the file stores (re-sorted stably only when it was not topological)."""

from __future__ import annotations

from edgemem.memory.liveness import peak_of_order
from edgemem.memory.problem import Problem
from edgemem.memory.schedule.result import ScheduleContext, ScheduleResult


def schedule(problem: Problem, context: ScheduleContext) -> ScheduleResult:
    order = tuple(range(len(problem.node_names)))
    peak = peak_of_order(problem, order)
    return ScheduleResult(
        name="stored",
        order=order,
        peak_bytes=peak,
        proved_optimal=peak <= context.lower_bound_bytes,
        lower_bound_bytes=context.lower_bound_bytes,
        method="as stored in the file",
    )
