"""A portfolio of memory-aware list schedulers; the best order wins, the stored order included.

Each heuristic repeatedly runs one ready node, chosen by a key over what the node allocates
(``new``) and what it frees (buffers whose last remaining user it is):
  lpmf       least peak memory first: smallest ``new``, then largest ``free`` (Inductor's LPMF)
  min_net    smallest net growth ``new - free``, then smallest ``new``
  dfs        most recently readied node first (finishes a branch before starting another)
  bfs        Kahn's FIFO order (breadth first)
One-step greedy can lose to the stored order on irregular graphs, so the stored order is a
candidate too and the portfolio is never worse than it. Each run is O(E log N).
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from dataclasses import dataclass

from edgemem.memory.liveness import peak_of_order
from edgemem.memory.problem import Problem
from edgemem.memory.schedule.result import ScheduleContext, ScheduleResult

HEURISTICS = ("lpmf", "min_net", "dfs", "bfs")


def schedule(problem: Problem, context: ScheduleContext) -> ScheduleResult:
    start = time.perf_counter()
    n = len(problem.node_names)
    shared = Shared.of(problem)
    candidates = [("stored", tuple(range(n)))]
    candidates += [(name, list_schedule(problem, name, shared)) for name in HEURISTICS]
    best_name, best_order, best_peak = None, None, None
    for name, order in candidates:
        peak = peak_of_order(problem, order)
        if best_peak is None or peak < best_peak:
            best_name, best_order, best_peak = name, order, peak
    return ScheduleResult(
        name="greedy",
        order=tuple(best_order),
        peak_bytes=best_peak,
        proved_optimal=best_peak <= context.lower_bound_bytes,
        lower_bound_bytes=context.lower_bound_bytes,
        method=f"best of {len(candidates)} list schedules ({', '.join(c[0] for c in candidates)}): {best_name}",
        search_s=time.perf_counter() - start,
    )


@dataclass(frozen=True)
class Shared:
    """What every list scheduler reads and none changes, built once per graph (on a 100,000-node
    graph building them costs as much as a schedule)."""

    succs: list[list[int]]  # per node: the nodes that depend on it
    indegree: tuple[int, ...]  # per node: how many nodes it depends on
    users: list[list[int]]  # per buffer: the nodes that touch it
    sizes: list[int]  # per buffer: bytes
    keep: list[bool]  # per buffer: a graph output (never freed)
    new: list[int]  # per node: the bytes it allocates

    @classmethod
    def of(cls, problem: Problem) -> Shared:
        succs: list[list[int]] = [[] for _ in problem.preds]
        for node, preds in enumerate(problem.preds):
            for p in preds:
                succs[p].append(node)
        sizes = problem.sizes
        return cls(succs, tuple(map(len, problem.preds)), users_of(problem), sizes,
                   [buf.is_output for buf in problem.buffers], [sum(sizes[b] for b in c) for c in problem.creates])


def users_of(problem: Problem) -> list[list[int]]:
    users: list[list[int]] = [[] for _ in problem.buffers]
    for node, used in enumerate(problem.touches):
        for b in used:
            users[b].append(node)
    return users


def list_schedule(problem: Problem, heuristic: str, shared: Shared | None = None) -> tuple[int, ...]:
    shared = shared or Shared.of(problem)
    succs, indegree = shared.succs, list(shared.indegree)
    if heuristic in ("lpmf", "min_net"):
        return _by_memory(problem, heuristic, shared, indegree)
    # dfs (stack) and bfs (queue): readiness order only
    order: list[int] = []
    frontier = deque(sorted((v for v in range(len(indegree)) if indegree[v] == 0), reverse=heuristic == "dfs"))
    while frontier:
        v = frontier.pop() if heuristic == "dfs" else frontier.popleft()
        order.append(v)
        newly = []
        for w in succs[v]:
            indegree[w] -= 1
            if indegree[w] == 0:
                newly.append(w)
        newly.sort(reverse=heuristic == "dfs")
        frontier.extend(newly)
    return tuple(order)


def _by_memory(problem: Problem, heuristic: str, shared: Shared, indegree: list[int]) -> tuple[int, ...]:
    """lpmf or min_net: a heap of ready nodes keyed on what they allocate and free, re-keyed when a
    buffer they touch gets down to its last user."""
    n = len(problem.node_names)
    succs, users, sizes, keep, new, touches = shared.succs, shared.users, shared.sizes, shared.keep, shared.new, problem.touches
    remaining = [len(u) for u in users]
    done = [False] * n
    is_ready = [d == 0 for d in indegree]
    version = [0] * n

    def key(v: int):
        free = sum(sizes[b] for b in touches[v] if remaining[b] == 1 and not keep[b])
        if heuristic == "lpmf":
            return (new[v], -free, v)
        return (new[v] - free, new[v], v)

    order: list[int] = []
    heap = [(key(v), version[v], v) for v in range(n) if is_ready[v]]
    heapq.heapify(heap)
    while heap:
        _, ver, v = heapq.heappop(heap)
        if done[v] or ver != version[v]:
            continue
        done[v] = True
        order.append(v)
        touched = []
        for b in touches[v]:
            remaining[b] -= 1
            if remaining[b] == 1 and not keep[b]:
                touched.append(b)
        for b in touched:
            for w in users[b]:
                if not done[w] and is_ready[w]:
                    version[w] += 1
                    heapq.heappush(heap, (key(w), version[w], w))
        for w in succs[v]:
            indegree[w] -= 1
            if indegree[w] == 0:
                is_ready[w] = True
                heapq.heappush(heap, (key(w), version[w], w))
    return tuple(order)
