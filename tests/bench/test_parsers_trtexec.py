"""trtexec parser against the real recorded logs of every TensorRT generation (fixtures/device/trtexec)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edgemem.bench.parsers.trtexec import decode_version, parse_export_times, parse_trtexec_log, split_envelope

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "device" / "trtexec"
MIB = 1 << 20


def parse(name: str):
    return parse_trtexec_log((LOGS / name).read_text())


def test_trt7_blocks_with_end_to_end():
    log = parse("t1_trt7.1.3_agx_xavier_summary.log")
    assert log.summary_family == "7.x" and log.complete
    latency, e2e = log.metrics["Latency"], log.metrics["End-to-End Host Latency"]
    assert (latency.min_ms, latency.max_ms, latency.mean_ms, latency.median_ms) == (6.14319, 9.15771, 6.84532, 6.60986)
    assert latency.percentiles == {99.0: 8.90259} and e2e.percentiles == {99.0: 8.97888}
    assert e2e.median_ms == 6.62183
    assert log.throughput_qps == 145.5 and log.host_walltime_s == 3.01718


def test_trt7_trace_line_and_zero_qps_quirk():
    log = parse("t1b_trt7_trace_zero_qps.log")
    assert log.throughput_qps == 0.0
    (trace,) = log.trace
    assert (trace.runs, trace.gpu_ms, trace.host_ms, trace.end_to_end_ms, trace.enqueue_ms) == (10, 1.56245, 1.65786, 2.76426, 0.943042)
    assert log.metrics["Latency"].median_ms == 1.65601


def test_trt82_summary_with_end_to_end_line_and_timestamp_rollover():
    log = parse("t2_trt8.2_xavier_nx_summary.log")
    assert log.summary_family == "8.0-8.3" and log.complete
    assert set(log.metrics) == {"Latency", "End-to-End Host Latency", "Enqueue Time", "H2D Latency", "GPU Compute Time", "D2H Latency"}
    assert log.metrics["GPU Compute Time"].percentiles == {99.0: 0.578552}
    assert log.metrics["H2D Latency"].min_ms == 0.00610352
    assert log.throughput_qps == 27207 and log.host_walltime_s == 3.00158 and log.gpu_compute_total_s == 2.88214


def test_trt84_summary_and_real_banner():
    log = parse("t3_trt8.4.0_agx_xavier_summary_banner.log")
    assert log.version == (8, 4, 0) and log.banner == "PASSED" and log.command == "trtexec --loadEngine=mnist16.trt --batch=16"
    assert log.summary_family == "8.4+" and "End-to-End Host Latency" not in log.metrics
    assert log.metrics["Latency"].median_ms == 0.401947 and log.throughput_qps == 41087.7


def test_trt852_truncated_lines_are_rejected_not_half_read():
    log = parse("t4_trt8.5.2_agx_xavier_truncated.log")
    assert not log.complete and len(log.rejected) == 3
    assert set(log.metrics) == {"Latency"}  # the one complete metric line
    assert log.metrics["Latency"].percentiles == {90.0: 0.391113, 95.0: 0.393066, 99.0: 0.404907}
    assert all(r.startswith(("Enqueue Time:", "H2D Latency:", "GPU Compute Time:")) for r in log.rejected)


def test_trt10_summary_percentile_list():
    log = parse("t5_trt10_summary.log")
    gpu = log.metrics["GPU Compute Time"]
    assert gpu.percentiles == {90.0: 10.2881, 95.0: 10.8175, 99.0: 12.9485}
    assert log.complete and log.throughput_qps == 130.298


def test_unstable_warning_and_zero_transfers():
    log = parse("t5b_trt8.4_unstable_warning.log")
    assert log.unstable_cv_pct == 2.10486
    h2d = log.metrics["H2D Latency"]
    assert (h2d.min_ms, h2d.max_ms, h2d.percentiles) == (0.0, 0.0, {99.0: 0.0})


def test_trt10_build_memory_lines():
    m = parse("t6_trt10_build_memory.log").memory
    assert m.activation_bytes == 2478873600 and m.weights_bytes == 34082304
    assert m.scratch_bytes == 2065996800 and m.host_persistent_bytes == 84864 and m.device_persistent_bytes == 0
    assert m.block_assignment_bytes == 2478874624
    assert (m.allocator_peak_cpu_bytes, m.allocator_peak_gpu_bytes) == (6 * MIB, 2174 * MIB)
    assert m.engine_bytes == round(34.271 * MIB)  # the precise "Created engine with size", not the truncated 34 MiB
    assert m.tactic_memory_starved
    assert parse("t6_trt10_build_memory.log").build_s == 273.487


def test_trt801_unified_memory_usage_lines():
    log = parse("t7_trt8.0.1_xavier_nx_memusage.log")
    assert log.version == (8, 0, 1) and log.banner == "RUNNING"
    assert log.mem_usage_changes[0] == ("Init CUDA", 353, 0, 371, 1800)
    assert log.memory.system_used_gpu_mib_max == 6180 and log.memory.engine_bytes == 7 * MIB


def test_deserialization_and_context_allocations():
    log = parse("t8_trt8.4_deserialize_context.log")
    assert log.memory.deserialization_gpu_bytes == 20 * MIB and log.memory.context_creation_gpu_bytes == 67 * MIB
    assert log.load_s == 5.11544 and log.memory.engine_bytes == 21 * MIB


def test_trt10_device_block():
    log = parse("t9_trt10.16.2_orin_device.log")
    assert log.version == (10, 16, 2) and log.compute_capability == "8.7"
    assert log.device_memory_bytes == 15536 * MIB


def test_builder_starved_with_unprefixed_continuation_line():
    log = parse("t10_trt8.5_orin_nx_builder_starved.log")
    assert log.memory.tactic_memory_starved and log.memory.activation_bytes == 7957761536
    assert log.rejected == ()


def test_python_logger_tag_order_and_unitless_sizes():
    log = parse("t11_trt9_python_logger.log")
    m = log.memory
    assert (m.activation_bytes, m.weights_bytes, m.scratch_bytes) == (3120566272, 14483464192, 537001984)
    assert log.build_s == 16.3055


@pytest.mark.parametrize("line, severity, body", [
    ("[12/06/2022-15:00:20] [I] Throughput: 27207 qps", "I", "Throughput: 27207 qps"),
    ("[04/07/2024-15:13:34] [TRT] [I] Total Scratch Memory: 537001984", "I", "Total Scratch Memory: 537001984"),
    ("[10/01/2021-11:03:58] [I] [TRT] [MemUsageChange] x", "I", "[MemUsageChange] x"),
    ("[I] Latency: min = 1 ms", "I", "Latency: min = 1 ms"),
    ("Try decreasing the workspace size", None, "Try decreasing the workspace size"),
])
def test_envelope_in_either_tag_order_or_none(line, severity, body):
    assert split_envelope(line) == (severity, body)


def test_version_decoding():
    assert decode_version(8201) == (8, 2, 1) and decode_version(8400) == (8, 4, 0) and decode_version(7103) == (7, 1, 3)
    assert decode_version(100900) == (10, 9, 0) and decode_version(101602) == (10, 16, 2)


def test_retyped_summary_is_rejected():
    # beyondli/Yolo_on_Jetson#4 style: '=' signs lost when a user re-typed the summary
    log = parse_trtexec_log("[I] GPU Compute Time: min 0.5 ms, max 0.6 ms\n")
    assert log.rejected and not log.metrics


def test_numbers_in_cpp_default_format():
    log = parse_trtexec_log("[I] Latency: min = 1e-05 ms, max = inf ms, mean = -nan ms, median = 0 ms, percentile(99%) = 2 ms\n")
    latency = log.metrics["Latency"]
    assert latency.min_ms == 1e-05 and math.isinf(latency.max_ms) and math.isnan(latency.mean_ms)


def test_export_times_drops_warmup_only_before_85():
    rows = '[{"startComputeMs": 10, "computeMs": 1, "latencyMs": 1.5}, {"startComputeMs": 300, "computeMs": 2, "latencyMs": 2.5}]'
    assert parse_export_times(rows, (8, 4, 0), 200.0) == {"latency_ms": [2.5], "compute_ms": [2.0]}
    assert parse_export_times(rows, (8, 5, 2), 200.0)["latency_ms"] == [1.5, 2.5]
    with pytest.raises(ValueError):
        parse_export_times("[{broken", (10, 0, 0), 0)
