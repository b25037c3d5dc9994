"""Which orders get the full placement: on graphs of more than EVERY_ORDER_MAX_BUFFERS buffers,
only those that could hold the best arena.

An order whose padded live bound already exceeds a placed arena (or equals it at a higher peak
or later in the table) is placed by greedy_by_size alone; the best order, its arena and its plan
are the same as when every order gets the portfolio, and every reported arena stays verified and
at or above its order's bound. Small graphs get the portfolio on every order. The tests lower the
threshold to 0 to run the rule on small graphs.
"""

from __future__ import annotations

import random

import pytest

from edgemem.graph.build import graph_from_model
from edgemem.graph.types import LoadOptions
from edgemem.memory import analyze as analyze_module
from edgemem.memory.analyze import CHEAP_PLACEMENT, ORDER_NAMES, AnalyzeOptions, analyze
from tests.fixtures.builders import random_graph
from tests.fixtures.scale_graphs import random_dag


def both(graph, **options):
    quick = analyze(graph, AnalyzeOptions(**options))
    every = analyze(graph, AnalyzeOptions(place_every_order=True, **options))
    return quick, every


def check_same_best(quick, every) -> None:
    assert quick.best.name == every.best.name
    assert quick.best.arena_bytes == every.best.arena_bytes
    assert quick.best.placement == every.best.placement
    assert quick.best.offsets == every.best.offsets
    for fast, full in zip(quick.orders, every.orders):
        assert fast.verified and full.verified
        assert fast.peak_bytes == full.peak_bytes and fast.order == full.order
        assert fast.arena_lower_bound_bytes == full.arena_lower_bound_bytes
        assert fast.arena_bytes >= full.arena_bytes >= full.arena_lower_bound_bytes
        if fast.placement == CHEAP_PLACEMENT:  # placed cheaply: it could not have been the best
            key = (fast.arena_lower_bound_bytes, fast.peak_bytes, ORDER_NAMES.index(fast.name))
            assert key > (quick.best.arena_bytes, quick.best.peak_bytes, ORDER_NAMES.index(quick.best.name))
        else:
            assert fast.arena_bytes == full.arena_bytes and fast.placement == full.placement


@pytest.fixture
def any_size(monkeypatch):
    monkeypatch.setattr(analyze_module, "EVERY_ORDER_MAX_BUFFERS", 0)


@pytest.mark.parametrize("seed", range(40))
def test_the_best_plan_is_the_same_as_with_the_portfolio_on_every_order(seed, any_size):
    graph = random_graph(random.Random(seed), 24)
    quick, every = both(graph)
    check_same_best(quick, every)
    assert any(o.placement == CHEAP_PLACEMENT for o in quick.orders)  # (these graphs all have an order that cannot win)


def test_an_order_that_cannot_win_is_placed_once_by_the_cheap_planner(any_size):
    model = random_dag(60, seed=1)  # small: the portfolio on its stored order runs CP-SAT
    graph = graph_from_model(model, LoadOptions(), None, "random_dag", "random_dag.onnx")
    quick, every = both(graph, orders=("stored", "greedy"))
    check_same_best(quick, every)
    stored = quick.orders[0]
    assert stored.name == "stored" and stored.placement == CHEAP_PLACEMENT
    assert stored.arena_lower_bound_bytes > quick.best.arena_bytes
    assert every.orders[0].placement.startswith("portfolio:")
    assert quick.best.placement.startswith("portfolio:")


def test_small_graphs_get_the_portfolio_on_every_order():
    for seed in range(10):
        graph = random_graph(random.Random(seed), 24)
        quick, every = both(graph)
        assert [(o.placement, o.arena_bytes) for o in quick.orders] == [(o.placement, o.arena_bytes) for o in every.orders]


def test_another_placement_runs_on_every_order(any_size):
    graph = random_graph(random.Random(5), 24)
    report = analyze(graph, AnalyzeOptions(placement="first_fit_by_start"))
    assert {o.placement for o in report.orders} == {"first_fit_by_start"}
