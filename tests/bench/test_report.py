"""bench.report (the result/verdict layer) and the history's reading of old and new verdicts."""

from __future__ import annotations

from pathlib import Path

from edgemem.bench.compare import history_rows
from edgemem.bench.report import report_devices
from edgemem.bench.result import BenchResult, DeviceInfo, Measured, MemoryBreakdown
from edgemem.bench.store import REPORT_SCHEMA
from edgemem.bench.verdict import Prediction
from edgemem.budget import Budget, Scope


class Entry:
    def __init__(self, name):
        self.name = name


class Outcome:
    def __init__(self, name, result, error=None):
        self.entry, self.result, self.error = Entry(name), result, error


def result(process_bytes: int, partial: bool = False, status: str = "ok") -> BenchResult:
    memory = MemoryBreakdown(runtime_baseline=Measured(50, "rss"), weights=Measured(30, "rss"), activations=Measured(20, "rss"),
                             process_peak=Measured(process_bytes, "rss", partial), system_peak_delta=Measured(None, "unknown"))
    return BenchResult("run", "dev", status, None, {"name": "m.onnx", "sha256": "ab"}, "onnxruntime", "fp32", {},
                       DeviceInfo("dev"), {}, None, memory, None, None, "2026-01-01T00:00:00Z", 1.0, {}, None, (), (), {}, {})


def test_devices_joined_with_prediction_and_budget_and_saved(tmp_path):
    outcomes = [Outcome("a", result(100)), Outcome("b", result(100, partial=True)), Outcome("c", None, "cannot reach c")]
    fleet = report_devices(outcomes, Prediction(activation_bytes=10), Budget(90, None), "board", tmp_path, fleet=True)
    a, b, c = fleet.devices
    assert (a.verdict.budget.scope, a.verdict.budget.fits, a.verdict.ratio) == (Scope.PROCESS, False, 2.0)
    assert (b.verdict.budget.scope, b.verdict.budget.required_bytes, b.verdict.budget.fits) == (Scope.MODEL, 50, True)
    assert c.verdict is None and c.failed and fleet.failed == (c,) and fleet.over_budget
    assert Path(a.saved_to).parent == tmp_path and c.saved_to is None
    document = fleet.to_json()
    assert document["devices"][0]["report"]["verdict"]["budget"]["scope"] == "process"
    assert document["devices"][0]["report"]["profile"] == "board" and document["devices"][2]["report"] is None


def test_history_reads_old_and_new_verdicts():
    def stored(verdict):
        return Path("x.json"), {"schema": REPORT_SCHEMA, "result": {"host": "h", "model": {"name": "m", "sha256": "s"},
                                                                  "backend": "ort", "precision": "fp32", "status": "ok"},
                                "verdict": verdict}
    old = stored({"budget_bytes": 10, "verdict": "fail"})
    new = stored({"budget": {"budget_bytes": 20, "scope": "model", "required_bytes": 5, "fits": True, "shortfall_bytes": 0}})
    rows = history_rows([old, new, stored(None)])
    assert [(r.budget_bytes, r.verdict) for r in rows] == [(10, "over"), (20, "fits"), (None, None)]
