"""Calibrating a runtime's baseline on this machine with the built-in models."""

from __future__ import annotations

import pytest

from edgemem.bench.run import Target
from edgemem.memory.runtime import OrtSettings, RuntimeBaseline
from edgemem.verify import calibrate, calibration
from edgemem.verify.device import Measuring, measure_on


def test_calibration_models_are_what_they_claim(tmp_path):
    paths = calibrate.write_models(tmp_path)
    from edgemem.graph import load_graph

    sizes = {name: len(load_graph(path).nodes) for name, path in paths.items()}
    assert sizes == {"one_node": 1, "chain": 65, "convnet": 5}


def test_onnxruntime_baseline_is_measured_and_labelled(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("EDGEMEM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EDGEMEM_DEVICE_LOCK", str(tmp_path / "device.lock"))
    measuring = Measuring(Target("local"), repeats=1, runs=2, artifacts_root=tmp_path / "logs")
    got = calibration.calibrate_onnxruntime(lambda job: measure_on(measuring, job), OrtSettings(), "calibrated here")
    assert got.import_bytes > 10 << 20  # python + numpy + onnxruntime
    assert got.session_bytes > 0 and got.per_node_bytes >= 0 and got.first_run_bytes >= 0
    assert got.inputs_bytes >= 0 and got.source == "calibrated here"


def test_the_cache_keeps_a_baseline_with_its_runtime_version(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEMEM_CACHE", str(tmp_path / "cache"))
    key = {"host": "dev", "backend": "onnxruntime", "threads": 1}
    assert calibration.cached(key) is None
    baseline = RuntimeBaseline(1, 2, 3, 4, 5, "calibrated on dev")
    calibration.store(key, baseline, "1.32.0")
    assert calibration.cached(key) == (baseline, "1.32.0")
    assert calibration.cached(dict(key, threads=2)) is None  # other settings, another calibration
