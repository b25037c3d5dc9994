"""What every order strategy receives and returns."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_WORK_LIMIT = 2_000_000  # work units of the optimal search: the same answer on any machine


@dataclass(frozen=True)
class ScheduleResult:
    name: str
    order: tuple[int, ...]  # node indices, a topological order
    peak_bytes: int  # live-set peak of this order
    proved_optimal: bool  # no order has a lower peak (under this convention)
    lower_bound_bytes: int  # proved lower bound on the peak of any order
    method: str  # one line: how the order was found
    search_s: float = 0.0
    states: int = 0  # states explored by an exact search
    timed_out: bool = False  # the time limit stopped the search before its work budget was spent

    @property
    def gap(self) -> float:
        """(peak - bound) / peak: 0.0 when proved optimal."""
        if self.proved_optimal or self.peak_bytes == 0:
            return 0.0
        return (self.peak_bytes - self.lower_bound_bytes) / self.peak_bytes


@dataclass(frozen=True)
class ScheduleContext:
    lower_bound_bytes: int  # order-independent bound (bounds.order_lower_bound)
    incumbent: ScheduleResult | None = None  # best order known so far (seeds pruning)
    time_limit_s: float = 60.0  # a guard only: the search stops on its work budget
    work_limit: int = DEFAULT_WORK_LIMIT  # work units (search states, window nodes, CP-SAT steps)
