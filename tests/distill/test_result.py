"""DistillResult's --json document reads back to an equal result, None fields included."""

import json

from edgemem.budget import MemoryParts, Precision, Scope, check_budget
from edgemem.distill.result import SCHEMA, DistillResult, ModelSummary, TrainSummary


def summary(role: str, accuracy, peak_bytes: int, budget_bytes: int | None = None) -> ModelSummary:
    check = None if budget_bytes is None else check_budget(MemoryParts(peak_bytes, 1000), budget_bytes, Scope.ACTIVATIONS)
    return ModelSummary(role, f"{role} model", accuracy, peak_bytes, peak_bytes + 64, 1000, 250, budget=check)


def round_trip(result: DistillResult) -> DistillResult:
    return DistillResult.from_json(json.loads(json.dumps(result.to_json())))


def test_sweep_report_without_a_student_reads_back_equal():
    # a budget search that found no student: student None, sweep members never trained (accuracy None)
    sweep = (summary("sweep", None, 4096, budget_bytes=2048), summary("sweep", None, 1024, budget_bytes=2048))
    result = DistillResult("digits", "kd", Precision.FP16, summary("teacher", 0.97, 8192), None, sweep=sweep,
                           notes=("no student fits",))
    document = result.to_json()
    assert document["schema"] == SCHEMA and document["student"] is None and document["reduction"] is None
    back = round_trip(result)
    assert back == result
    assert [m.budget.over for m in back.sweep] == [True, False]


def test_full_report_reads_back_equal():
    training = TrainSummary("kd", 3, 0.91, 12.5, 1, False)
    student = ModelSummary("student", "pooled", 0.91, 1024, 1088, 500, 120, spec={"pool": 2},
                           onnx_path="s.onnx", training=training,
                           budget=check_budget(MemoryParts(1024, 500), 2048, Scope.ACTIVATIONS))
    result = DistillResult("digits", "kd", Precision.FP32, summary("teacher", 0.97, 8192), student,
                           weights_budget_bytes=400, parity_max_abs_diff=1e-6)
    back = round_trip(result)
    assert back == result
    assert back.reduction == 8.0 and back.weights_budget.over and not back.fits
