"""What each opt-in in-place rule (a kernel capability) would save: the best plan with and without it.

Runs ``analyze`` once with the safe rules only, once per rule alone and once with all of them,
with the same orders, placement and time limit, and reports each best arena next to the base.
A negative saving is possible and is reported as such: Concat written in place reserves the
whole output from its first producer on, which can cost more than the copy it saves.
"""

from __future__ import annotations

from dataclasses import replace

from edgemem.graph.types import Graph
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.problem import problem_from_graph
from edgemem.memory.report import Capability, MemoryReport


def compare_rules(graph: Graph, options: AnalyzeOptions, report: MemoryReport | None = None) -> tuple[Capability, ...]:
    """Rows for () and each rule of ``options.convention.inplace_rules``, then all together.

    ``report``, when given, is the analysis with all the rules (it is not run again).
    """
    rules = tuple(options.convention.inplace_rules)
    sets: list[tuple[str, ...]] = [()] + [(r,) for r in rules]
    if len(rules) > 1:
        sets.append(rules)
    rows: list[Capability] = []
    base_arena = None
    for chosen in sets:
        if report is not None and chosen == rules:
            result = report
        else:
            run = replace(options, convention=replace(options.convention, inplace_rules=chosen), budget=None)
            result = analyze(graph, run)
        if base_arena is None:
            base_arena = result.best.arena_bytes
        rows.append(Capability(
            rules=chosen,
            nodes=_nodes(graph, run_convention=replace(options.convention, inplace_rules=chosen)),
            peak_bytes=result.best.peak_bytes,
            arena_bytes=result.best.arena_bytes,
            saving_bytes=base_arena - result.best.arena_bytes,
            proved_optimal=result.best.proved_optimal,
        ))
    return tuple(rows)


def _nodes(graph: Graph, run_convention) -> int:
    return sum(count for _, count in problem_from_graph(graph, run_convention).rule_nodes)
