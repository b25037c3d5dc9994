"""analyze(graph, options) -> MemoryReport: every order, its arena, bounds, and the budget verdict."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace

from edgemem.budget import Budget, BudgetCheck, MemoryParts, Scope
from edgemem.errors import UsageError
from edgemem.graph.types import Graph
from edgemem.memory import bounds
from edgemem.memory.convention import Convention
from edgemem.memory.liveness import lifetimes_from_order, live_at, live_profile
from edgemem.memory.placement import ALGORITHMS, DEFAULT_ALGORITHM, aligned_sizes
from edgemem.memory.problem import Problem, problem_from_graph
from edgemem.memory.problem import accounted_size
from edgemem.memory.report import ConventionSummary, LiveTensor, MemoryReport, OrderReport, TensorRow
from edgemem.memory.schedule import STRATEGIES, ScheduleContext, ScheduleResult
from edgemem.memory.schedule.result import DEFAULT_WORK_LIMIT
from edgemem.memory.verify import check_plan

ORDER_NAMES = tuple(STRATEGIES)
CHEAP_PLACEMENT = "greedy_by_size"  # places a large order that cannot hold the best arena (see place_orders)
EVERY_ORDER_MAX_BUFFERS = 2500  # up to this many buffers, the placement asked for runs on every order
# the analyzer knows activations and weights; the process scope needs a runtime baseline (bench, verify)
ANALYZER_SCOPES = (Scope.ACTIVATIONS, Scope.WEIGHTS, Scope.MODEL)


@dataclass(frozen=True)
class AnalyzeOptions:
    orders: tuple[str, ...] = ("stored", "greedy", "optimal")
    convention: Convention = Convention()
    placement: str = DEFAULT_ALGORITHM
    time_limit_s: float = 60.0  # a guard: the order search stops on work_limit
    work_limit: int = DEFAULT_WORK_LIMIT  # work units of the optimal search (same answer on any machine)
    budget: Budget | None = None  # checked against the best plan (edgemem.budget.check_budget)
    peak_tensors: int = 5
    place_every_order: bool = False  # run the placement asked for on every order, not only the possible best

    def __post_init__(self) -> None:
        unknown = [o for o in self.orders if o not in STRATEGIES]
        if unknown or not self.orders:
            raise UsageError(f"unknown order {', '.join(unknown) or '(none)'}", hint=f"choose from {', '.join(STRATEGIES)}")
        if self.placement not in ALGORITHMS:
            raise UsageError(f"unknown placement {self.placement!r}", hint=f"choose from {', '.join(ALGORITHMS)}")
        if self.budget is not None and self.budget.scope not in ANALYZER_SCOPES:
            raise UsageError(f"budget scope {self.budget.scope}: the analyzer alone knows no runtime baseline",
                             hint=f"use {', '.join(s.value for s in ANALYZER_SCOPES)}; measure the process with edgemem bench")
        if self.convention.alignment_bytes < 1:
            raise UsageError("alignment must be at least 1 byte")


def analyze(graph: Graph, options: AnalyzeOptions = AnalyzeOptions()) -> MemoryReport:
    start = time.perf_counter()
    problem = problem_from_graph(graph, options.convention)
    order_bound = bounds.order_lower_bound(problem)
    results = run_orders(problem, options, order_bound)
    plans = place_orders(problem, results, options)
    orders = tuple(order_report(problem, graph, r, options, plans) for r in results)
    best = min(orders, key=lambda o: (o.arena_bytes, o.peak_bytes, ORDER_NAMES.index(o.name)))
    return MemoryReport(
        model=graph.name,
        path=graph.path,
        opset=graph.opset,
        nodes=len(graph.nodes),
        weights_bytes=graph.weights_bytes,
        activations_total_bytes=graph.activations_total_bytes if options.convention.precision is None
        else sum(problem_tensor_sizes(graph, options.convention)),
        lower_bound_bytes=bounds.working_set_bound(problem),
        order_lower_bound_bytes=order_bound,
        orders=orders,
        best=best,
        budget=budget_check(best, graph, options),
        convention=ConventionSummary(
            inplace=options.convention.inplace,
            alias_views=options.convention.alias_views,
            alignment_bytes=options.convention.alignment_bytes,
            precision=options.convention.precision,
            description=options.convention.describe(),
        ),
        buffers=len(problem.buffers),
        aliased_tensors=problem.aliased_tensors,
        inplace_tensors=problem.inplace_tensors,
        size_sources=dict(Counter(t.source for t in graph.tensors.values() if t.kind != "weight")),
        tensors=tensor_rows(graph, problem),
        notes=graph.notes,
        analysis_s=time.perf_counter() - start,
    )


def problem_tensor_sizes(graph: Graph, convention: Convention):
    return [accounted_size(t, convention.precision) for t in graph.tensors.values() if t.kind != "weight"]


def run_orders(problem: Problem, options: AnalyzeOptions, order_bound: int) -> list[ScheduleResult]:
    """Run the requested strategies in table order; each later one is seeded with the best so far."""
    results: list[ScheduleResult] = []
    incumbent = None
    for name in ORDER_NAMES:
        if name not in options.orders:
            continue
        context = ScheduleContext(lower_bound_bytes=order_bound, incumbent=incumbent, time_limit_s=options.time_limit_s,
                                  work_limit=options.work_limit)
        result = STRATEGIES[name](problem, context)
        results.append(result)
        if incumbent is None or result.peak_bytes < incumbent.peak_bytes:
            incumbent = result
    bound = max(r.lower_bound_bytes for r in results)
    proved = [r.peak_bytes for r in results if r.proved_optimal]
    if proved:  # an exact result proves the bound for every order
        bound = min(proved)
    return [replace(r, proved_optimal=r.peak_bytes <= bound, lower_bound_bytes=min(bound, r.peak_bytes)) for r in results]


def place_orders(problem: Problem, results: list[ScheduleResult], options: AnalyzeOptions) -> dict[tuple[int, ...], tuple]:
    """Order -> (lifetimes, verified plan, check, padded live bound), each distinct order placed once.

    Orders are placed from the lowest padded live bound up. The placement asked for runs on every
    order that could still hold the best arena; an order whose bound already exceeds a placed
    arena (or equals it at a higher peak or later in the table) cannot, and when it has more than
    ``EVERY_ORDER_MAX_BUFFERS`` buffers the portfolio leaves it to ``CHEAP_PLACEMENT`` alone (its
    report names that planner), unless ``options.place_every_order``. The best order, and so every
    figure of the best plan, is the same either way: a placement is never below its order's bound.
    """
    align = options.convention.alignment_bytes
    rank: dict[tuple[int, ...], tuple[int, int]] = {}  # order -> (peak, table index of its first strategy)
    for r in results:
        rank.setdefault(r.order, (r.peak_bytes, ORDER_NAMES.index(r.name)))
    shaped = {order: order_lifetimes(problem, order, align) for order in rank}
    plans: dict[tuple[int, ...], tuple] = {}
    best: tuple[int, int, int] | None = None  # (arena, peak, index) of the best fully placed order
    for order in sorted(rank, key=lambda o: (shaped[o][1], *rank[o])):
        lifetimes, arena_bound = shaped[order]
        hopeless = best is not None and (arena_bound, *rank[order]) > best
        cheap = hopeless and options.placement == "portfolio" and not options.place_every_order \
            and len(lifetimes) > EVERY_ORDER_MAX_BUFFERS
        plan, check = place_checked(lifetimes, CHEAP_PLACEMENT if cheap else options.placement, align)
        plans[order] = (lifetimes, plan, check, arena_bound)
        if not cheap and (best is None or (plan.arena_bytes, *rank[order]) < best):
            best = (plan.arena_bytes, *rank[order])
    return plans


def order_lifetimes(problem: Problem, order: tuple[int, ...], align: int) -> tuple:
    """Lifetimes of one order and their padded live-set peak (no placement can be smaller)."""
    lifetimes = lifetimes_from_order(problem, order)
    padded = replace(lifetimes, sizes_bytes=tuple(aligned_sizes(lifetimes, align)))
    return lifetimes, int(live_profile(padded).max()) if order else 0


def place_checked(lifetimes, algorithm: str, align: int):
    """The plan of ``algorithm`` and its verification; a plan that fails is an internal error."""
    plan = ALGORITHMS[algorithm](lifetimes, align)
    check = check_plan(lifetimes, plan, align)
    if not check.ok:
        raise RuntimeError(f"internal error: the {algorithm} plan failed verification: {check.problems[0]}")
    return plan, check


def order_report(problem: Problem, graph: Graph, result: ScheduleResult, options: AnalyzeOptions, plans: dict) -> OrderReport:
    lifetimes, plan, check, arena_bound = plans[result.order]
    profile = live_profile(lifetimes)
    peak_step = int(profile.argmax()) if len(profile) else 0
    peak = int(profile[peak_step]) if len(profile) else 0
    node = result.order[peak_step] if result.order else 0
    live = live_at(lifetimes, peak_step)[: options.peak_tensors]
    peak_tensors = tuple(
        LiveTensor(
            name=problem.buffers[b].name,
            size_bytes=problem.buffers[b].size_bytes,
            producer=problem.node_names[problem.buffers[b].creator] if problem.buffers[b].creator >= 0 else None,
            op_type=problem.op_types[problem.buffers[b].creator] if problem.buffers[b].creator >= 0 else None,
            tensors=len(problem.buffers[b].tensors),
        )
        for b in live
    )
    assert peak == result.peak_bytes, "schedule peak disagrees with liveness"
    return OrderReport(
        name=result.name,
        peak_bytes=peak,
        arena_bytes=plan.arena_bytes,
        arena_lower_bound_bytes=arena_bound,
        fragmentation=(plan.arena_bytes / arena_bound - 1.0) if arena_bound else 0.0,
        peak_step=peak_step,
        peak_node=problem.node_names[node] if problem.node_names else "",
        peak_op=problem.op_types[node] if problem.op_types else "",
        proved_optimal=result.proved_optimal,
        lower_bound_bytes=result.lower_bound_bytes,
        gap=result.gap,
        method=result.method,
        search_s=result.search_s,
        placement=plan.algorithm,
        verified=check.ok,
        peak_tensors=peak_tensors,
        profile_bytes=tuple(int(x) for x in profile),
        order=tuple(problem.node_names[i] for i in result.order),
        offsets={
            lifetimes.names[b]: (plan.offsets[b], plan.sizes_bytes[b], lifetimes.first_step[b], lifetimes.last_step[b])
            for b in range(len(lifetimes))
        },
    )


def budget_check(best: OrderReport, graph: Graph, options: AnalyzeOptions) -> BudgetCheck | None:
    """The budget against the best plan: its arena is the activations, the graph's initializers the weights."""
    if options.budget is None:
        return None
    return options.budget.check(MemoryParts(activations_bytes=best.arena_bytes, weights_bytes=graph.weights_bytes))


def tensor_rows(graph: Graph, problem: Problem) -> tuple[TensorRow, ...]:
    return tuple(
        TensorRow(
            name=t.name,
            dtype=t.dtype,
            shape=t.shape,
            size_bytes=t.size_bytes,
            kind=t.kind,
            source=t.source,
            producer=t.producer,
            buffer=problem.buffers[problem.buffer_of[t.name]].name if t.name in problem.buffer_of else None,
        )
        for t in graph.tensors.values()
    )
