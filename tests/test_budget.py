"""edgemem.budget: the one list of precisions and scopes, what counts per scope, the one check."""

from __future__ import annotations

import json

import pytest

from edgemem.budget import Budget, BudgetCheck, MemoryParts, Precision, Scope, check_budget
from edgemem.errors import UsageError

PARTS = MemoryParts(activations_bytes=300, weights_bytes=200, runtime_bytes=1000, scratch_bytes=40, io_bytes=10)


def test_what_counts_for_each_scope():
    assert PARTS.required_bytes(Scope.ACTIVATIONS) == 300
    assert PARTS.required_bytes(Scope.WEIGHTS) == 200
    assert PARTS.required_bytes(Scope.MODEL) == 500
    assert PARTS.required_bytes(Scope.PROCESS) == 1550  # runtime + weights + activations + scratch + I/O
    measured = MemoryParts(activations_bytes=300, weights_bytes=200, process_bytes=1234)
    assert measured.required_bytes(Scope.PROCESS) == 1234  # a measured whole-process peak wins


def test_unknown_parts_make_an_unknown_verdict_never_a_guess():
    parts = MemoryParts(activations_bytes=300)
    check = check_budget(parts, 1000, Scope.MODEL)
    assert (check.required_bytes, check.fits, check.verdict, check.over, check.headroom_bytes) == (None, None, "unknown", False, None)
    assert check_budget(parts, 1000, Scope.PROCESS).fits is None  # no runtime baseline: the process is unknown


@pytest.mark.parametrize("budget, fits, shortfall", [(500, True, 0), (499, False, 1), (10_000, True, 0)])
def test_check_budget_boundaries(budget, fits, shortfall):
    check = check_budget(PARTS, budget, Scope.MODEL)
    assert (check.fits, check.shortfall_bytes, check.headroom_bytes) == (fits, shortfall, budget - 500)
    assert check.verdict == ("fits" if fits else "over")


def test_without_a_scope_the_widest_known_is_used():
    assert check_budget(MemoryParts(300, 200, process_bytes=900), 1000, None).scope is Scope.PROCESS
    assert check_budget(MemoryParts(300, 200), 1000, None).scope is Scope.MODEL
    assert check_budget(MemoryParts(300), 1000, None).scope is Scope.MODEL  # and unknown


def test_names_parse_case_insensitively_and_bad_ones_are_usage_errors():
    assert Precision.parse("FP16") is Precision.FP16 and Precision.FP16.bits == 16 and Precision.INT8.bits == 8
    assert Scope.parse(" Model ") is Scope.MODEL and Scope.PROCESS.description.startswith("runtime")
    with pytest.raises(UsageError, match="choose fp32, fp16, int8"):
        Precision.parse("fp4")
    with pytest.raises(UsageError, match="activations, weights, model, process"):
        Scope.parse("total")
    with pytest.raises(UsageError, match="positive"):
        Budget(0)


def test_budget_check_json_round_trip():
    check = Budget(400, "activations").check(PARTS)
    document = json.loads(json.dumps(check.to_json()))
    assert document == {"budget_bytes": 400, "scope": "activations", "required_bytes": 300, "fits": True, "shortfall_bytes": 0}
    assert BudgetCheck.from_json(document) == check
