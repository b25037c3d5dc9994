"""Percentiles (trtexec's rule), the prediction/budget record, and the never-overwriting results store."""

from __future__ import annotations

import json
import math
import threading

import pytest

from edgemem.bench.stats import latency_stats, median, percentile
from edgemem.bench.store import REPORT_SCHEMA, load_reports, save_report
from edgemem.bench.verdict import Prediction, compare
from edgemem.budget import Budget, MemoryParts, Scope


def test_percentile_rule_matches_trtexec():
    values = [float(v) for v in range(1, 101)]  # 1..100
    # exclude = int((1 - p/100) * N) in doubles, as sampleReporting.cpp does: (1 - 0.9) * 100 = 9.999... -> 9
    assert percentile(values, 90) == 91.0 and percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0 and percentile(values, 100) == 100.0
    assert percentile([5.0], 99) == 5.0 and math.isinf(percentile([], 99))
    assert percentile([1.0, 2.0, 3.0], 0) == 1.0  # everything excluded: the smallest
    assert median([1.0, 3.0]) == 2.0 and median([1.0, 2.0, 9.0]) == 2.0


def test_latency_stats():
    stats = latency_stats([2.0, 1.0, 3.0, 2.0], "test", warmup_runs=3)
    assert (stats.runs, stats.min_ms, stats.max_ms, stats.median_ms, stats.mean_ms) == (4, 1.0, 3.0, 2.0, 2.0)
    assert stats.cv_pct == pytest.approx(math.sqrt(0.5) / 2 * 100) and stats.throughput_qps == 500.0
    assert latency_stats([], "test") is None


def test_verdict_ratio_and_budget_scopes():
    predicted = Prediction(activation_bytes=100, peak_bytes=90)
    v = compare(predicted, MemoryParts(150, 300, process_bytes=1000), Budget(900, None))  # no scope: the widest measured
    b = v.budget
    assert v.ratio == 1.5 and b.scope is Scope.PROCESS and b.verdict == "over" and b.headroom_bytes == -100 and v.over_budget
    v = compare(predicted, MemoryParts(150, 300), Budget(900, None))
    assert v.budget.scope is Scope.MODEL and v.budget.required_bytes == 450 and v.budget.verdict == "fits"
    v = compare(None, MemoryParts(150, None), Budget(900, Scope.MODEL))
    assert v.budget.verdict == "unknown" and v.ratio is None and v.budget.headroom_bytes is None
    assert v.prediction_note.startswith("not requested")
    v = compare(predicted, MemoryParts(1, 1, process_bytes=1), None)
    assert v.budget is None and not v.over_budget
    assert v.to_json()["budget"] is None and compare(predicted, MemoryParts(1, 1), Budget(5, "weights")).to_json()["budget"] == {
        "budget_bytes": 5, "scope": "weights", "required_bytes": 1, "fits": True, "shortfall_bytes": 0}


def report(host="dev", started="2026-01-01T00:00:00Z"):
    return {"schema": REPORT_SCHEMA, "result": {"started_utc": started, "host": host, "model": {"name": "m.onnx"},
                                                 "backend": "onnxruntime"}, "verdict": None}


def test_store_never_overwrites_even_when_writers_race(tmp_path):
    paths = []
    threads = [threading.Thread(target=lambda: paths.append(save_report(tmp_path, report()))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(paths)) == 8 and len(list(tmp_path.glob("*.json"))) == 8
    assert not list(tmp_path.glob(".tmp-*"))  # temporary files are gone
    assert all(json.loads(p.read_text())["schema"] == REPORT_SCHEMA for p in paths)


def test_load_reports_orders_by_time_and_skips_junk(tmp_path):
    save_report(tmp_path, report(started="2026-02-01T00:00:00Z"))
    save_report(tmp_path, report(started="2026-01-01T00:00:00Z"))
    (tmp_path / "other.json").write_text('{"schema": "something/1"}')
    reports, skipped = load_reports([tmp_path])
    assert [r["result"]["started_utc"] for _, r in reports] == ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"]
    assert len(skipped) == 1 and "other.json" in skipped[0]
