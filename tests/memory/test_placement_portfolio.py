"""The placement portfolio: every member verifies, the best one wins, the improvers never make a
plan worse, exact placement equals brute force on small instances, and on the NAS corpus the
arena stays within 2% of the best order's padded live bound (median)."""

from __future__ import annotations

import itertools
import random
import statistics

import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemem.graph import load_graph
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.convention import Convention
from edgemem.memory.lifetimes import Lifetimes
from edgemem.memory.liveness import lifetimes_from_order
from edgemem.memory.placement import ALGORITHMS, DEFAULT_ALGORITHM, cpsat, exact, hill_climb, portfolio
from edgemem.memory.placement.plan import aligned_sizes, live_bound
from edgemem.memory.problem import problem_from_graph
from edgemem.memory.verify import check_plan
from tests.fixtures.builders import random_graph
from tests.fixtures.nas_graphs import nas_cells, randwire

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_lifetimes(seed: int, n: int, max_size: int = 64, steps: int = 12) -> Lifetimes:
    rng = random.Random(seed)
    first = [rng.randrange(steps) for _ in range(n)]
    last = [f + rng.randrange(0, 4) for f in first]
    return Lifetimes(tuple(f"b{i}" for i in range(n)), tuple(rng.randint(1, max_size) for _ in range(n)),
                     tuple(first), tuple(min(l, steps - 1) for l in last), steps)


def test_portfolio_is_the_default():
    assert DEFAULT_ALGORITHM == "portfolio"
    assert AnalyzeOptions().placement == "portfolio"


@SETTINGS
@given(st.integers(0, 10**9), st.integers(1, 30), st.sampled_from((1, 8, 64)))
def test_every_algorithm_verifies_and_the_portfolio_wins(seed, n, alignment):
    lifetimes = random_lifetimes(seed, n)
    arenas = {}
    for name, algorithm in ALGORITHMS.items():
        if name == "cpsat" and not cpsat.available():
            continue
        plan = algorithm(lifetimes, alignment)
        assert check_plan(lifetimes, plan, alignment).ok, name
        assert plan.arena_bytes >= live_bound(lifetimes, aligned_sizes(lifetimes, alignment))
        arenas[name] = plan.arena_bytes
    members = {name for name, _ in portfolio.MEMBERS}
    assert arenas["portfolio"] <= min(arenas[m] for m in members)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(2, 25))
def test_improvers_never_make_a_plan_worse(seed, n):
    lifetimes = random_lifetimes(seed, n, max_size=1000)
    start = ALGORITHMS["tvm_by_size"](lifetimes, 16)  # often far from the bound: room to improve
    climbed = hill_climb.climb(lifetimes, 16, start, iterations=30)
    improved = exact.improve(lifetimes, 16, start)
    for plan in (climbed, improved):
        assert check_plan(lifetimes, plan, 16).ok
        assert plan.arena_bytes <= start.arena_bytes
    if cpsat.available():
        solved = cpsat.improve(lifetimes, 16, start, 2.0)
        assert solved is None or (check_plan(lifetimes, solved, 16).ok and solved.arena_bytes < start.arena_bytes)


def brute_force_arena(lifetimes: Lifetimes, sizes: list[int]) -> int:
    """Every placement sequence, each buffer at its lowest fit (covers an optimal packing)."""
    best = None
    for sequence in itertools.permutations(range(len(sizes))):
        placed: dict[int, int] = {}
        for b in sequence:
            taken = sorted((placed[o], placed[o] + sizes[o]) for o in placed if lifetimes.overlaps(o, b))
            cursor = 0
            for lo, hi in taken:
                if lo - cursor >= sizes[b]:
                    break
                cursor = max(cursor, hi)
            placed[b] = cursor
        top = max(placed[b] + sizes[b] for b in placed)
        best = top if best is None else min(best, top)
    return best


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.integers(1, 6))
def test_exact_placement_equals_brute_force(seed, n):
    lifetimes = random_lifetimes(seed, n, max_size=9, steps=4)
    plan = ALGORITHMS["exact"](lifetimes, 1)
    assert check_plan(lifetimes, plan, 1).ok
    assert plan.arena_bytes == brute_force_arena(lifetimes, list(lifetimes.sizes_bytes))


@pytest.mark.skipif(not cpsat.available(), reason="OR-Tools (the solver extra) is not installed")
@pytest.mark.parametrize("seed", range(10))
def test_cpsat_placement_equals_brute_force(seed):
    lifetimes = random_lifetimes(seed, 6, max_size=9, steps=4)
    start = ALGORITHMS["tvm_by_size"](lifetimes, 1)
    solved = cpsat.improve(lifetimes, 1, start, 10.0)
    best = solved.arena_bytes if solved is not None else start.arena_bytes
    assert best == brute_force_arena(lifetimes, list(lifetimes.sizes_bytes))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nas")
    models = {f"randwire_s{s}": randwire(20, seed=s, channels=16, size=16) for s in (1, 2, 3)}
    models.update({f"darts_s{s}": nas_cells(4, "darts", seed=s, channels=8, size=16) for s in (1, 2)})
    models.update({f"nasnet_s{s}": nas_cells(4, "nasnet", seed=s, channels=8, size=16) for s in (1, 2)})
    paths = {}
    for name, model in models.items():
        paths[name] = folder / f"{name}.onnx"
        onnx.save(model, paths[name])
    return paths


@pytest.mark.slow
def test_arena_within_two_percent_of_the_live_bound_on_the_nas_corpus(corpus):
    ratios = []
    for name, path in corpus.items():
        report = analyze(load_graph(path), AnalyzeOptions(time_limit_s=600))
        best = report.best
        assert best.verified
        ratios.append(best.arena_bytes / best.arena_lower_bound_bytes)
        graph = load_graph(path)
        problem = problem_from_graph(graph, Convention())
        order = [problem.node_names.index(name_) for name_ in best.order]
        lifetimes = lifetimes_from_order(problem, order)
        for upstream in ("tflite", "onnxsim", "tvm_by_size", "tvm_by_conflicts"):
            assert best.arena_bytes <= ALGORITHMS[upstream](lifetimes, 64).arena_bytes, (name, upstream)
    assert statistics.median(ratios) <= 1.02, ratios


@pytest.mark.skipif(not cpsat.available(), reason="OR-Tools (the solver extra) is not installed")
@pytest.mark.parametrize("seed", range(12))
def test_cpsat_in_chunks_keeps_plans_valid_and_never_worse(seed, monkeypatch):
    monkeypatch.setattr(cpsat, "CHUNK_BUFFERS", 4)
    monkeypatch.setattr(cpsat, "LOOKAHEAD", 3)
    lifetimes = random_lifetimes(seed, 25, max_size=1000, steps=20)
    start = ALGORITHMS["tvm_by_size"](lifetimes, 16)
    solved = cpsat.improve(lifetimes, 16, start, 2.0)
    assert solved is None or (check_plan(lifetimes, solved, 16).ok and solved.arena_bytes < start.arena_bytes)
    again = cpsat.improve(lifetimes, 16, start, 2.0)
    assert (again and again.offsets) == (solved and solved.offsets)  # deterministic
