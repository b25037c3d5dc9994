"""Property: whatever the budget, the chosen student's analyzed memory is under it, it is the least
aggressive candidate that fits, and when nothing fits nothing reachable would have.

Several architectures (2-D and 1-D, zoo and user models) at small inputs; measurements are cached
per architecture, and each chosen student is re-exported once and re-analyzed independently with
the analyzer's defaults (stored, greedy and optimal orders).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from edgemem.distill.export import export_onnx
from edgemem.budget import Budget, Scope
from edgemem.distill.students.search import NoStudentFits, measure_candidate, search_student
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.zoo import build_model
from edgemem.graph import LoadOptions, load_graph
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.convention import Convention
from edgemem.units import format_bytes

from tests.distill.conftest import UserCNN

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

POOLS, CONVS, WIDTHS = (1, 2, 4), ("standard", "G(4)"), (1.0, 0.5)
ARCHS = {
    "resnet20": (lambda: build_model("resnet20"), (1, 3, 16, 16)),
    "resnet1d": (lambda: build_model("resnet1d", width=32), (1, 1, 40)),
    "resnet-mini": (lambda: build_model("resnet-mini"), (1, 1, 8, 8)),
    "user-cnn": (UserCNN, (1, 3, 16, 16)),
}
STATE: dict = {}


def arch(name):
    if name not in STATE:
        make, shape = ARCHS[name]
        STATE[name] = {"teacher": make(), "shape": shape, "cache": {}, "verified": set()}
    return STATE[name]


def grid(state, precision):
    """Every (pool, conv, width) of the search space, measured (cached)."""
    out = []
    for k, conv, width in itertools.product(POOLS, CONVS, WIDTHS):
        spec = StudentSpec(pool_factor=k, conv=conv, width=width)
        memory, _ = measure_candidate(state["teacher"], spec, state["shape"], precision, cache=state["cache"])
        if memory is not None:
            out.append((spec, memory))
    return out


def verify_independently(state, result, scope, budget, tmp_path_factory):
    """Fresh export of the chosen student, analyzed with the analyzer's own defaults."""
    key = (result.spec, result.precision)
    if key in state["verified"]:
        return
    path = export_onnx(result.student.model, state["shape"], tmp_path_factory.mktemp("verify") / "student.onnx")
    report = analyze(load_graph(path, LoadOptions()), AnalyzeOptions(convention=Convention(precision=result.precision)))
    required = report.best.arena_bytes + (report.weights_bytes if scope == "model" else 0)
    assert report.best.peak_bytes <= report.best.arena_bytes <= result.memory.arena_bytes
    assert required <= budget
    state["verified"].add(key)


@pytest.mark.parametrize("name", sorted(ARCHS))
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_chosen_student_fits_every_budget(name, data, tmp_path_factory):
    state = arch(name)
    scope = data.draw(st.sampled_from(["activations", "model"]), label="scope")
    precision = data.draw(st.sampled_from(["fp32", "int8"]), label="precision")
    teacher = measure_candidate(state["teacher"], StudentSpec(), state["shape"], precision, cache=state["cache"])[0]
    top = teacher.required_bytes(scope)
    # log-uniform between top/16 and 1.25 x top: every pool factor and width gets its turn
    budget = max(1, int(top * 2 ** data.draw(st.floats(min_value=-4.0, max_value=0.32), label="log2 budget/teacher")))
    weights_budget = data.draw(st.one_of(st.none(), st.integers(teacher.weights_bytes // 8, teacher.weights_bytes)), label="weights")
    try:
        result = search_student(state["teacher"], state["shape"], Budget(budget, scope), precision=precision,
                                weights_budget=None if weights_budget is None else Budget(weights_budget, Scope.WEIGHTS), pool_factors=POOLS, convs=CONVS, widths=WIDTHS,
                                cache=state["cache"])
    except NoStudentFits as error:
        event("nothing fits")
        assert error.exit_code == 3
        reachable = grid(state, precision)
        if scope == "activations" and weights_budget is None:  # cheap convs are not a knob for activations
            reachable = [(s, m) for s, m in reachable if s.conv == "standard"]
        assert not any(m.required_bytes(scope) <= budget and (weights_budget is None or m.weights_bytes <= weights_budget)
                       for _, m in reachable)
        if error.smallest is not None:
            assert format_bytes(error.smallest.required_bytes) in error.one_line()
        return
    event(f"fits: {result.spec.label()}")
    memory = result.memory
    assert memory.peak_activation_bytes <= memory.arena_bytes
    assert memory.required_bytes(scope) <= budget
    assert weights_budget is None or memory.weights_bytes <= weights_budget
    assert result.candidates[-1].spec == result.spec and result.candidates[-1].fits
    assert not any(c.fits for c in result.candidates[:-1])  # the least aggressive one that fits
    verify_independently(state, result, scope, budget, tmp_path_factory)
