"""Exact minimum-peak order: dynamic programming over executed sets, with pruning (Serenity).

The live bytes after running a set S of nodes depend only on S, so the best peak of any
prefix that runs exactly S is a function of S: best(S + v) = min over v of
max(best(S), live(S) + new(v)). States are expanded level by level (|S| = k) and memoised in
a dict keyed by the bitset S. A state is pruned when its peak, or a bound on what is still to
come (the largest working set of a node not yet run), reaches the incumbent (the best heuristic
order): it cannot lead to a better order. If the search finishes, the result is proved
optimal; if it runs out of time or states, it returns the incumbent with a proved lower bound
(the smallest bound over the open frontier) and the gap.
"""

from __future__ import annotations

import time

from edgemem.memory.bounds import working_set_bytes
from edgemem.memory.liveness import peak_of_order
from edgemem.memory.problem import Problem
from edgemem.memory.schedule import greedy
from edgemem.memory.schedule.result import ScheduleContext, ScheduleResult


def schedule(problem: Problem, context: ScheduleContext) -> ScheduleResult:
    start = time.perf_counter()
    incumbent = context.incumbent or greedy.schedule(problem, context)
    upper = incumbent.peak_bytes
    if upper <= context.lower_bound_bytes:
        return _result(incumbent.order, upper, True, upper, "incumbent order meets the lower bound", start, 0)
    search = _Search(problem, context, upper, start)
    order, peak, bound, states, finished = search.run()
    if order is None:
        order, peak = incumbent.order, upper
    if finished:
        return _result(order, peak, True, peak, f"dynamic programming over executed sets: {states} states", start, states)
    bound = max(bound, context.lower_bound_bytes)
    why = "time limit" if time.perf_counter() - start >= context.time_limit_s else "state limit"
    return _result(order, peak, peak <= bound, min(bound, peak), f"dynamic programming stopped at the {why} after {states} states: best found", start, states)


def _result(order, peak, proved, bound, method, start, states) -> ScheduleResult:
    return ScheduleResult(
        name="optimal",
        order=tuple(order),
        peak_bytes=peak,
        proved_optimal=proved,
        lower_bound_bytes=bound,
        method=method,
        search_s=time.perf_counter() - start,
        states=states,
    )


class _Search:
    def __init__(self, problem: Problem, context: ScheduleContext, upper: int, start: float) -> None:
        self.problem = problem
        self.context = context
        self.upper = upper
        self.deadline = start + context.time_limit_s
        n = len(problem.node_names)
        self.n = n
        sizes = problem.sizes
        self.sizes = sizes
        self.pred_mask = [sum(1 << p for p in preds) for preds in problem.preds]
        user_mask = [0] * len(problem.buffers)
        for node, used in enumerate(problem.touches):
            for b in used:
                user_mask[b] |= 1 << node
        self.user_mask = user_mask
        self.keep = [buf.is_output for buf in problem.buffers]
        self.new = [sum(sizes[b] for b in c) for c in problem.creates]
        self.start_mem = sum(sizes[b] for b, buf in enumerate(problem.buffers) if buf.is_input)
        self.unused_inputs = sum(
            sizes[b] for b, buf in enumerate(problem.buffers) if buf.is_input and not user_mask[b] and not buf.is_output
        )
        ws = working_set_bytes(problem)
        self.by_ws = sorted(range(n), key=lambda v: -ws[v])
        self.ws = ws

    def remaining_bound(self, executed: int) -> int:
        for v in self.by_ws:
            if not executed >> v & 1:
                return self.ws[v]
        return 0

    def run(self):
        n, upper = self.n, self.upper
        full = (1 << n) - 1
        level = {0: (0, self.start_mem)}
        parents: list[dict] = []
        states = 1
        for k in range(n):
            nxt: dict[int, tuple[int, int]] = {}
            back: dict[int, tuple[int, int]] = {}
            for executed, (peak, mem) in level.items():
                for v in range(n):
                    if executed >> v & 1 or self.pred_mask[v] & ~executed:
                        continue
                    step_peak = max(peak, mem + self.new[v])
                    if step_peak >= upper:
                        continue
                    after = executed | (1 << v)
                    old = nxt.get(after)
                    if old is not None and old[0] <= step_peak:
                        continue
                    if old is None:
                        if max(step_peak, self.remaining_bound(after)) >= upper:
                            continue
                        freed = self.unused_inputs if k == 0 else 0
                        for b in self.problem.touches[v]:
                            if not self.keep[b] and not (self.user_mask[b] & ~after):
                                freed += self.sizes[b]
                        nxt[after] = (step_peak, mem + self.new[v] - freed)
                    else:
                        nxt[after] = (step_peak, old[1])
                    back[after] = (executed, v)
            states += len(nxt)
            parents.append(back)
            if not nxt:
                return None, upper, upper, states, True  # every order reaches the incumbent's peak
            if time.perf_counter() > self.deadline or states > self.context.max_states:
                bound = min(max(p, self.remaining_bound(s)) for s, (p, _) in nxt.items())
                return None, upper, bound, states, False
            level = nxt
        peak = level[full][0]
        order = []
        state = full
        for back in reversed(parents):
            prev, v = back[state]
            order.append(v)
            state = prev
        order.reverse()
        assert peak_of_order(self.problem, order) == peak, "dynamic programming peak disagrees with liveness"
        return order, peak, peak, states, True
