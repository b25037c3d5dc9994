"""search_student: least aggressive student that fits, each knob steered by what it saves."""

from __future__ import annotations

import pytest

from edgemem.distill.students import search as search_module
from edgemem.distill.students.search import NoStudentFits, search_student
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.zoo import build_model
from edgemem.budget import Budget, Scope
from edgemem.errors import BudgetError, EdgememError, ExitCode
from edgemem.units import format_bytes

pytestmark = pytest.mark.usefixtures("one_thread")
CIFAR = (1, 3, 32, 32)


@pytest.fixture(scope="module")
def resnet20():
    return build_model("resnet20")


@pytest.fixture(scope="module")
def cache():
    return {}


def test_teacher_that_fits_is_kept(resnet20, cache):
    result = search_student(resnet20, CIFAR, Budget(300_000), cache=cache)
    assert result.spec == StudentSpec() and len(result.candidates) == 1 and result.candidates[0].fits
    assert result.teacher_memory.peak_activation_bytes == 196_608


def test_smallest_pool_factor_that_fits(resnet20, cache):
    result = search_student(resnet20, CIFAR, Budget(100_000), cache=cache)
    assert result.spec == StudentSpec(pool_factor=2)
    assert [c.spec.pool_factor for c in result.candidates] == [1, 2]
    assert not result.candidates[0].fits and result.candidates[0].verdict.startswith("over budget by")
    assert result.memory.arena_bytes <= 100_000 and result.memory.peak_activation_bytes <= 100_000
    assert result.student.spec == result.spec and result.student.red_pairs
    assert result.student.model.conv1.stride == (2, 2)


def test_width_after_every_pool_factor(resnet20, cache):
    result = search_student(resnet20, CIFAR, Budget(30_000), widths=(1.0, 0.5), cache=cache)
    assert result.spec == StudentSpec(pool_factor=2, width=0.5)
    tried = [(c.spec.width, c.spec.pool_factor) for c in result.candidates]
    assert tried == [(1.0, 1), (1.0, 2), (1.0, 4), (1.0, 8), (0.5, 1), (0.5, 2)]
    assert all(c.spec.conv == "standard" for c in result.candidates)  # cheap convs do not lower activations
    na = result.candidates[3]
    assert na.memory is None and na.verdict.startswith("not applicable: pool factor 8 does not apply")


def test_weights_budget_steers_the_conv(resnet20, cache):
    result = search_student(resnet20, CIFAR, Budget(10_000_000), weights_budget=Budget(400_000, Scope.WEIGHTS), cache=cache)
    assert result.spec == StudentSpec(conv="G(4)")
    assert result.memory.weights_bytes <= 400_000
    skipped = [c for c in result.candidates if c.verdict.startswith("skipped")]
    assert skipped and all(c.memory is None and c.spec.pool_factor > 1 for c in skipped)


def test_model_scope_uses_cheap_convs(resnet20, cache):
    result = search_student(resnet20, CIFAR, Budget(600_000, Scope.MODEL), cache=cache)
    assert result.spec.conv != "standard"
    assert result.memory.arena_bytes + result.memory.weights_bytes <= 600_000


def test_precision_changes_what_fits(resnet20, cache):
    assert search_student(resnet20, CIFAR, Budget(60_000), precision="int8", cache=cache).spec == StudentSpec()
    assert search_student(resnet20, CIFAR, Budget(60_000), precision="fp32", cache=cache).spec != StudentSpec()


def test_nothing_fits_exits_3_with_the_smallest_reachable(resnet20, cache):
    with pytest.raises(NoStudentFits) as info:
        search_student(resnet20, CIFAR, Budget(5_000), widths=(1.0, 0.5), cache=cache)
    error = info.value
    assert isinstance(error, BudgetError) and error.exit_code == ExitCode.OVER_BUDGET == 3
    measured = [c for c in error.candidates if c.memory is not None]
    smallest = min(measured, key=lambda c: c.required_bytes)
    assert error.smallest.required_bytes == smallest.required_bytes
    line = error.one_line()
    assert "\n" not in line and "no student of CifarResNet fits the budget 4.88 KiB" in line
    assert f"smallest peak activation memory (arena) reachable is {format_bytes(smallest.required_bytes)} by {error.smallest.spec.label()}" in line
    assert "teacher: 192.00 KiB" in line


@pytest.mark.parametrize("make, message", [
    (lambda: {"budget": Budget(0)}, "budget must be a positive number of bytes"),
    (lambda: {"budget": Budget(10**6, "all")}, "unknown budget scope 'all'"),
    (lambda: {"budget": 10**6}, "takes its budgets as edgemem.budget.Budget"),
    (lambda: {"budget": Budget(10**6), "precision": "fp8"}, "unknown precision 'fp8'"),
    (lambda: {"budget": Budget(10**6), "weights_budget": Budget(-5, Scope.WEIGHTS)}, "budget must be a positive number of bytes"),
])
def test_bad_arguments(resnet20, make, message):
    with pytest.raises(EdgememError, match=message):
        search_student(resnet20, CIFAR, **make())


def test_workdir_keeps_each_candidate(tmp_path):
    result = search_student(build_model("resnet-mini"), (1, 1, 8, 8), Budget(5_000), workdir=tmp_path)
    assert result.memory.onnx_path.is_file() and result.memory.onnx_path.parent.parent == tmp_path
    assert len({c.memory.onnx_path for c in result.candidates if c.memory}) == sum(1 for c in result.candidates if c.memory)


def test_cache_avoids_measuring_twice(monkeypatch):
    calls = []
    real = search_module.exported_graph
    monkeypatch.setattr(search_module, "exported_graph", lambda *a, **k: calls.append(1) or real(*a, **k))
    teacher, cache = build_model("resnet-mini"), {}
    first = search_student(teacher, (1, 1, 8, 8), Budget(5_000), cache=cache)
    measured = len(calls)
    second = search_student(teacher, (1, 1, 8, 8), Budget(5_000), cache=cache)
    assert len(calls) == measured and first.spec == second.spec and first.memory == second.memory
