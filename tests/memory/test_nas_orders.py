"""The issue's targets on generated NAS graphs: reordering RandWire pays >= 12%, graphs of up to 60
coarse nodes are proved optimal within the default work budget, a 3,000-node NAS graph is
analysed without the time guard firing, and an unproved result carries its bound and gap to the
user. Nothing here depends on the machine's speed: searches stop on work units, and the time
limits given are far above what the work takes (a guard that fires says so in the method)."""

from __future__ import annotations

import json
import random

import onnx
import pytest
from typer.testing import CliRunner

from edgemem.cli import app
from edgemem.graph import load_graph
from edgemem.graph.build import graph_from_model
from edgemem.graph.types import LoadOptions
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.bounds import order_lower_bound
from edgemem.memory.convention import Convention
from edgemem.memory.liveness import peak_of_order
from edgemem.memory.problem import problem_from_graph
from edgemem.memory.schedule import STRATEGIES, ScheduleContext
from edgemem.memory.schedule.optimal.coarsen import coarsen
from edgemem.memory.schedule.optimal.split import segments
from edgemem.memory.schedule.optimal.view import OrderView
from tests.fixtures.builders import random_graph
from tests.fixtures.nas_graphs import nas_cells, node_count, randwire


def saved(tmp_path, name, model):
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_randwire_best_order_is_at_least_12_percent_below_the_stored_order(tmp_path, seed):
    # the anchors' setting: WS(32, 4, 0.75), C = 78 at 56x56, blocks in a random topological order
    graph = load_graph(saved(tmp_path, "randwire", randwire(32, 4, 0.75, seed=seed)))
    report = analyze(graph, AnalyzeOptions(time_limit_s=600))
    orders = {o.name: o for o in report.orders}
    # the search stopped on its work budget (same answer on any machine), not on the 600 s guard
    assert "time limit" not in orders["optimal"].method
    assert report.best.peak_bytes <= 0.88 * orders["stored"].peak_bytes
    assert report.best.verified and report.best.arena_bytes == report.best.arena_lower_bound_bytes


def coarse_nodes(problem) -> int:
    """Units of the largest segment between cut nodes: what the exact search works on."""
    view = OrderView(problem, range(len(problem.node_names)))
    models = (view.window_model(lo, hi)[0] for lo, hi in segments(problem.preds, view.order))
    return max(len(coarsen(sub, range(sub.n))) for sub in models)


@pytest.mark.slow
@pytest.mark.parametrize("name, model", [
    ("randwire22_s1", lambda: randwire(22, seed=1)),
    ("randwire24_s3", lambda: randwire(24, seed=3)),
    ("randwire28_s2", lambda: randwire(28, seed=2)),
    ("darts3", lambda: nas_cells(3, "darts", seed=0)),
    ("nasnet2", lambda: nas_cells(2, "nasnet", seed=1)),
])
def test_optimal_order_proved_for_up_to_60_coarse_nodes_within_the_default_budget(tmp_path, name, model):
    problem = problem_from_graph(load_graph(saved(tmp_path, name, model())), Convention())
    assert coarse_nodes(problem) <= 60
    greedy = STRATEGIES["greedy"](problem, ScheduleContext(lower_bound_bytes=order_lower_bound(problem)))
    context = ScheduleContext(lower_bound_bytes=order_lower_bound(problem), incumbent=greedy, time_limit_s=600)
    result = STRATEGIES["optimal"](problem, context)
    assert not result.timed_out
    assert result.proved_optimal and result.gap == 0.0
    assert peak_of_order(problem, result.order) == result.peak_bytes <= greedy.peak_bytes


@pytest.mark.slow
def test_3000_node_nas_graph_full_analysis_on_the_work_budget(tmp_path):
    model = nas_cells(95, "darts", seed=0)
    assert node_count(model) >= 3000
    path = saved(tmp_path, "darts95", model)
    result = CliRunner().invoke(app, ["analyze", str(path), "--json", "--time-limit", "600s"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["nodes"] >= 3000
    optimal = next(o for o in doc["orders"] if o["name"] == "optimal")
    assert "time limit" not in optimal["method"]
    assert optimal["lower_bound_bytes"] <= optimal["peak_bytes"]
    assert optimal["proved_optimal"] or optimal["gap"] > 0
    stored = next(o for o in doc["orders"] if o["name"] == "stored")
    assert optimal["peak_bytes"] < stored["peak_bytes"]


def test_unproved_result_prints_bound_and_gap(tmp_path):
    path = saved(tmp_path, "randwire", randwire(128, seed=1, channels=8, size=8))
    args = ["analyze", str(path), "--order", "stored,optimal", "--work-limit", "2000"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    optimal = next(o for o in doc["orders"] if o["name"] == "optimal")
    assert not optimal["proved_optimal"]  # 2,000 work units cannot prove this graph, on any machine
    assert 0 < optimal["gap"] < 1 and optimal["lower_bound_bytes"] < optimal["peak_bytes"]
    assert "lower bound" in result.stdout and "gap" in result.stdout


def test_optimal_method_names_segments_units_and_states(tmp_path):
    problem = problem_from_graph(load_graph(saved(tmp_path, "cells", nas_cells(2, "nasnet", seed=1))), Convention())
    result = STRATEGIES["optimal"](problem, ScheduleContext(lower_bound_bytes=order_lower_bound(problem), time_limit_s=600))
    assert result.proved_optimal
    assert "segment" in result.method


def test_an_optimal_search_that_finds_nothing_lower_keeps_the_incumbent_order():
    """No second order of equal peak to place: an order below the incumbent's peak, or the incumbent
    itself. The incumbents here are an earlier search's
    order, which the second search cannot beat, on graphs whose bound is below their optimum."""
    searched = 0
    for seed in range(40):
        problem = problem_from_graph(random_graph(random.Random(seed), 30), Convention())
        bound = order_lower_bound(problem)
        greedy = STRATEGIES["greedy"](problem, ScheduleContext(lower_bound_bytes=bound))
        first = STRATEGIES["optimal"](problem, ScheduleContext(lower_bound_bytes=bound, incumbent=greedy, time_limit_s=600))
        assert first.peak_bytes < greedy.peak_bytes or first.order == greedy.order
        if first.peak_bytes <= bound:
            continue  # the search never starts: the incumbent meets the bound
        searched += 1
        again = STRATEGIES["optimal"](problem, ScheduleContext(lower_bound_bytes=bound, incumbent=first, time_limit_s=600))
        assert again.order == first.order and again.peak_bytes == first.peak_bytes
        assert peak_of_order(problem, again.order) == again.peak_bytes
        assert again.lower_bound_bytes <= again.peak_bytes
    assert searched >= 5


def test_windows_that_lower_no_peak_leave_the_incumbent_order():
    """On a 2,200-node stack of cells a small budget re-orders a few windows without lowering the
    whole order's peak: the result is the incumbent's order, not an equal-peak variant of it."""
    problem = problem_from_graph(graph_from_model(nas_cells(70, "darts", seed=0), LoadOptions(), None, "darts70", "darts70.onnx"), Convention())
    bound = order_lower_bound(problem)
    greedy = STRATEGIES["greedy"](problem, ScheduleContext(lower_bound_bytes=bound))
    result = STRATEGIES["optimal"](problem, ScheduleContext(lower_bound_bytes=bound, incumbent=greedy, time_limit_s=600,
                                                            work_limit=10_000))
    assert "exact windows re-ordered 0 time" not in result.method and "re-ordered" in result.method
    assert result.peak_bytes == greedy.peak_bytes and result.order == greedy.order
    assert "no order below the incumbent's peak" in result.method
