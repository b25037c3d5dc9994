"""The agent's TensorRT path end to end with replay executables (tests/fixtures/device/bin), one per
TensorRT generation: the agent picks the flags that version accepts (the replay refuses others),
builds in one child, runs in a fresh one, and the host parses the real recorded logs it gets back.
The numbers asserted are the recorded ones from those devices, not measurements of this model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgemem.cli import app

runner = CliRunner()
MIB = 1 << 20
FAST = ["--warmup", "0.2s", "--duration", "1s", "--baseline", "0.05s", "--no-predict", "--no-save", "--json"]

# version -> (latency median, p99, GPU compute median, activations, weights)
EXPECTED = {
    "7.1.3": (6.60986, 8.90259, None, None, None),
    "8.2.1": (0.572998, 0.587769, 0.564087, None, 7 * MIB),
    "8.4.0": (0.401947, 0.420288, 0.388443, 67 * MIB, 20 * MIB),
    "8.5.2": (0.385986, 0.404907, None, 7957761536, None),
    "10.16.2": (7.16092, 12.9675, 7.14139, 2478873600, 34082304),
}


def trt(model, tools, *extra):
    return runner.invoke(app, ["bench", str(model), "--backend", "tensorrt", "--precision", "fp16", "--workspace", "512MiB",
                               "--trtexec", tools["trtexec"], "--tegrastats-path", tools["tegrastats"], *FAST, *extra])


@pytest.mark.parametrize("version", sorted(EXPECTED))
def test_each_tensorrt_generation(version, cnn, replay_tools):
    result = trt(cnn, replay_tools(version))
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)["result"]
    median, p99, gpu, activations, weights = EXPECTED[version]
    assert r["status"] == "ok" and r["backend_info"]["tensorrt_version"] == version
    assert r["latency"]["median_ms"] == median and r["latency"]["p99_ms"] == p99
    assert (r["gpu_compute"] or {}).get("median_ms") == gpu
    assert r["memory"]["activations"]["value_bytes"] == activations
    assert r["memory"]["weights"]["value_bytes"] == weights
    assert r["build"]["cached"] is False and r["build"]["engine_bytes"] > 0
    argv = r["request"]["options"]
    assert argv["workspace_bytes"] == 512 * MIB and argv["precision"] == "fp16"
    assert r["conditions"]["tegrastats_summary"]["samples"] >= 1


@pytest.mark.parametrize("version, build_flags, run_flag", [
    ("7.1.3", ["--fp16", "--workspace=512", "--buildOnly"], "--percentile=99"),
    ("8.2.1", ["--fp16", "--workspace=512", "--buildOnly"], "--percentile=99"),
    ("8.4.0", ["--fp16", "--memPoolSize=workspace:512", "--buildOnly"], "--percentile=99"),
    ("8.5.2", ["--fp16", "--memPoolSize=workspace:512", "--buildOnly"], "--percentile=90,95,99"),
    ("10.16.2", ["--fp16", "--memPoolSize=workspace:512", "--skipInference"], "--percentile=90,95,99"),
])
def test_flags_follow_the_version(version, build_flags, run_flag, cnn, replay_tools):
    info = json.loads(trt(cnn, replay_tools(version)).stdout)["result"]["backend_info"]
    assert all(flag in info["build_argv"] for flag in build_flags), info["build_argv"]
    assert run_flag in info["run_argv"] and "--useSpinWait" in info["run_argv"]
    assert any(a.startswith("--loadEngine=") for a in info["run_argv"])
    assert any(a.startswith("--exportTimes=") for a in info["run_argv"])


def test_truncated_summary_is_reported_not_misread(cnn, replay_tools):
    r = json.loads(trt(cnn, replay_tools("8.5.2")).stdout)["result"]
    warning = [w for w in r["warnings"] if "cut or re-typed" in w]
    assert warning and "3 trtexec summary line(s)" in warning[0]
    assert r["latency"]["p90_ms"] == 0.391113 and r["gpu_compute"] is None
    assert any("skipped tactics for lack of memory" in w for w in r["warnings"])


def test_engine_cache_skips_the_second_build(cnn, replay_tools):
    tools = replay_tools("10.16.2")
    first = json.loads(trt(cnn, tools).stdout)["result"]
    second = json.loads(trt(cnn, tools).stdout)["result"]
    assert first["build"]["cached"] is False and second["build"]["cached"] is True
    assert second["build"]["engine_bytes"] == first["build"]["engine_bytes"]
    uncached = json.loads(trt(cnn, tools, "--no-engine-cache").stdout)["result"]
    assert uncached["build"]["cached"] is False


def test_budget_uses_weights_plus_activations_when_gpu_memory_is_invisible(cnn, replay_tools):
    result = trt(cnn, replay_tools("10.16.2"), "--budget", "2GB", "--predict")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    v, r = report["verdict"], report["result"]
    assert r["memory"]["process_peak"]["partial"] is True
    assert v["budget"]["scope"] == "model" and v["budget"]["required_bytes"] == 2478873600 + 34082304
    assert v["prediction_precision"] == "fp16" and v["predicted_activation_bytes"] > 0


def test_oom_of_the_trtexec_run_child(cnn, replay_tools, monkeypatch):
    monkeypatch.setenv("EDGEMEM_REPLAY_ALLOCATE_MIB", "400")
    result = trt(cnn, replay_tools("8.4.0"), "--memory-limit", "150MiB")
    assert result.exit_code == 1 and "out_of_memory" in result.stderr
    r = json.loads(result.stdout)["result"]
    assert r["error"]["stage"] == "run" and r["build"]["cached"] is False


def test_missing_trtexec_and_python_mode_without_tensorrt(cnn, tmp_path):
    missing = runner.invoke(app, ["bench", str(cnn), "--backend", "tensorrt", "--trtexec", str(tmp_path / "nope"), *FAST])
    assert missing.exit_code == 1 and "trtexec was not found" in missing.stderr
    python = runner.invoke(app, ["bench", str(cnn), "--backend", "tensorrt", "--trt-mode", "python", *FAST])
    assert python.exit_code == 1 and "tensorrt is not importable" in python.stderr
