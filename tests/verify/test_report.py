"""The one verdict, the JSON document and the offline HTML report."""

from __future__ import annotations

from edgemem.budget import BudgetCheck, Scope
from edgemem.memory.runtime.prediction import Part, RuntimePrediction, Setting
from edgemem.output.verify_html import write_report
from edgemem.verify.report import SCHEMA, Measurement, VerifyReport, decide

MIB = 1 << 20


def check(required, budget=100 * MIB):
    fits = None if required is None else required <= budget
    return BudgetCheck(budget, Scope.PROCESS, required, fits, max(0, (required or 0) - budget))


def measurement(partial=False):
    summary = {"activations": {"median_bytes": 2 * MIB, "spread_bytes": 0, "source": "VmHWM"},
               "process_peak": {"median_bytes": 80 * MIB, "spread_bytes": 0, "source": "VmHWM"}}
    return Measurement(3, summary, (1.0, 1.2, 0.9), ((0.0, 60 * MIB, 20 * MIB), (0.1, 80 * MIB, 22 * MIB)), {},
                       partial, "GPU memory (nvmap) was not readable" if partial else None)


def test_fits_over_partial_and_unknown():
    assert decide(check(80 * MIB), check(79 * MIB), measurement()).status == "fits"
    assert decide(check(120 * MIB), check(79 * MIB), measurement()).status == "over"
    partial = decide(check(80 * MIB), check(79 * MIB), measurement(partial=True))
    assert partial.status == "partial" and partial.exit_code == 3 and "not a pass" in partial.reason
    assert decide(check(120 * MIB), check(79 * MIB), measurement(partial=True)).status == "over"
    assert decide(None, check(79 * MIB), None).status == "unknown"


def report():
    prediction = RuntimePrediction(
        "onnxruntime", (Setting("intra_op_num_threads", "1", "explicit"),), ("a", "b"), "replayed",
        tuple(Part(n, MIB, "x") for n in ("runtime_baseline", "weights", "session_overhead", "activations", "scratch",
                                          "io_buffers")), {"in_use_per_step": [MIB, 2 * MIB], "arena_reserved_bytes": 3 * MIB})
    return VerifyReport("m.onnx", "/m.onnx", "local", "onnxruntime", MIB // 2, prediction, measurement(), (),
                        check(6 * MIB), check(80 * MIB), decide(check(80 * MIB), check(6 * MIB), measurement()))


def test_json_document_has_the_schema_and_every_section():
    document = report().to_json()
    assert document["schema"] == SCHEMA
    assert {"prediction", "measurement", "comparison", "budget", "verdict"} <= set(document)
    assert document["verdict"]["exit_code"] == 0 and document["budget"]["measured"]["fits"] is True


def test_html_report_is_self_contained(tmp_path):
    page = write_report(report(), tmp_path / "r.html").read_text()
    assert page.count("<svg") == 4  # timeline, arena, memory trace, latency histogram
    assert "http://" not in page and "https://" not in page and "<script" not in page
