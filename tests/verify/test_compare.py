"""Predicted next to measured: gaps over 10% always carry a one-line reason."""

from __future__ import annotations

from edgemem.memory.runtime.prediction import Part, RuntimePrediction, Setting
from edgemem.verify.compare import GAP_LIMIT, compare


def prediction(activations=1000, scratch=100, baseline=50_000, threads="1"):
    parts = (Part("runtime_baseline", baseline, "calibrated"), Part("weights", 400, "file"),
             Part("session_overhead", 2000, "calibrated"), Part("activations", activations, "replay"),
             Part("scratch", scratch, "replay + first run"), Part("io_buffers", 64, "inputs"))
    return RuntimePrediction("onnxruntime", (Setting("intra_op_num_threads", threads, "x"),), (), "", parts)


def measured(**overrides):
    base = {"runtime_baseline": 50_000, "weights": 400, "session_overhead": 2000, "activations": 1100, "io_buffers": 64}
    base.update(overrides)
    return {k: {"median_bytes": v, "spread_bytes": 8, "source": "kernel"} for k, v in base.items()}


def test_close_figures_need_no_reason():
    rows = compare(prediction(), measured())
    assert all(r.reason is None for r in rows)
    assert [r.part for r in rows] == ["runtime_baseline", "weights", "session_overhead", "activations", "io_buffers"]
    assert next(r for r in rows if r.part == "activations").predicted_bytes == 1100


def test_every_gap_over_the_limit_has_a_one_line_reason():
    rows = compare(prediction(threads="2"), measured(activations=2000, session_overhead=3000, runtime_baseline=80_000))
    for row in rows:
        if row.gap is not None and abs(row.gap) > GAP_LIMIT:
            assert row.reason and "\n" not in row.reason
    assert "threads" in next(r for r in rows if r.part == "activations").reason


def test_unknown_prediction_and_missing_measurement_are_said():
    rows = compare(prediction(scratch=None, baseline=None), {"weights": {"median_bytes": 400, "spread_bytes": 0}})
    by_part = {r.part: r for r in rows}
    assert by_part["runtime_baseline"].reason.startswith("no prediction")
    assert by_part["activations"].predicted_bytes is None and by_part["activations"].reason.startswith("no prediction")
    assert by_part["io_buffers"].reason.startswith("not measured")


def test_a_gap_inside_the_measurement_spread_says_so():
    data = measured(activations=1300)
    data["activations"]["spread_bytes"] = 500
    row = next(r for r in compare(prediction(), data) if r.part == "activations")
    assert "spread" in row.reason
