"""Load balancing: which worker trains which block, from measured per-block costs.

One table by name (``SCHEDULERS``):

* ``lpt`` -- longest processing time first (Graham 1969), the bin packing of the paper's static
  schedules: blocks sorted by cost, longest first, each to the least loaded worker. Its makespan
  is at most (4/3 - 1/(3m)) x optimal on m workers. A local search then moves or swaps single
  blocks between the most loaded worker and another while that lowers their larger load (each
  step strictly lowers the sorted load vector, so it never raises the makespan and stops), and
  the round-robin assignment of the same costs is kept instead when it is better: ``lpt`` is
  never worse than ``round_robin`` and stays within 4/3 of optimal.
* ``round_robin`` -- block i to worker i mod m in block order (the paper's ``targets[rank::size]``).

Pure functions of the costs (standard library only); ties break by block and worker index, so
every worker computes the same assignment from the same costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class Assignment:
    scheduler: str
    bins: tuple[tuple[int, ...], ...]  # per worker: indices into the cost list, in ascending order
    loads: tuple[float, ...]  # per worker: the sum of its costs

    @property
    def makespan(self) -> float:
        return max(self.loads, default=0.0)

    def worker_of(self, index: int) -> int:
        for worker, items in enumerate(self.bins):
            if index in items:
                return worker
        raise KeyError(index)


def _assignment(name: str, bins: list[list[int]], costs: Sequence[float]) -> Assignment:
    ordered = tuple(tuple(sorted(items)) for items in bins)
    return Assignment(name, ordered, tuple(float(sum(costs[i] for i in items)) for items in ordered))


def _check(costs: Sequence[float], workers: int) -> None:
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if any(c < 0 for c in costs):
        raise ValueError("costs must be >= 0")


def round_robin(costs: Sequence[float], workers: int) -> Assignment:
    """Block i to worker i mod ``workers``."""
    _check(costs, workers)
    bins: list[list[int]] = [[] for _ in range(workers)]
    for index in range(len(costs)):
        bins[index % workers].append(index)
    return _assignment("round_robin", bins, costs)


def lpt(costs: Sequence[float], workers: int) -> Assignment:
    """Longest processing time first, improved by moves and swaps, never worse than round robin."""
    _check(costs, workers)
    bins: list[list[int]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        worker = min(range(workers), key=lambda w: (loads[w], w))
        bins[worker].append(index)
        loads[worker] += costs[index]
    _improve(bins, loads, costs)
    packed = _assignment("lpt", bins, costs)
    baseline = round_robin(costs, workers)
    if baseline.makespan < packed.makespan:
        return Assignment("lpt", baseline.bins, baseline.loads)
    return packed


def _improve(bins: list[list[int]], loads: list[float], costs: Sequence[float], max_steps: int = 10_000) -> None:
    """Move or swap single blocks off the most loaded worker while that lowers the pair's larger load."""
    for _ in range(max_steps):
        top = max(range(len(loads)), key=lambda w: (loads[w], -w))
        if not _improve_once(top, bins, loads, costs):
            return


def _improve_once(top: int, bins: list[list[int]], loads: list[float], costs: Sequence[float]) -> bool:
    eps = 1e-12 * max(1.0, loads[top])
    for other in range(len(loads)):
        if other == top:
            continue
        for i in list(bins[top]):
            if loads[other] + costs[i] < loads[top] - eps:  # move i: both new loads are below loads[top]
                bins[top].remove(i), bins[other].append(i)
                loads[top] -= costs[i]
                loads[other] += costs[i]
                return True
            for j in list(bins[other]):
                delta = costs[i] - costs[j]
                if delta > eps and loads[other] + delta < loads[top] - eps:  # swap i <-> j
                    bins[top].remove(i), bins[other].remove(j)
                    bins[top].append(j), bins[other].append(i)
                    loads[top] -= delta
                    loads[other] += delta
                    return True
    return False


SCHEDULERS: dict[str, Callable[[Sequence[float], int], Assignment]] = {
    "lpt": lpt,
    "round_robin": round_robin,
}


def assign(name: str, costs: Sequence[float], workers: int) -> Assignment:
    """The assignment of scheduler ``name`` (a key of SCHEDULERS)."""
    try:
        scheduler = SCHEDULERS[name]
    except KeyError:
        raise ValueError(f"unknown scheduler {name!r}; known: {', '.join(SCHEDULERS)}") from None
    return scheduler(costs, workers)
