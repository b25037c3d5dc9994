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


def test_onnxruntime_baseline_is_measured_and_labelled(tmp_path):
    pytest.importorskip("onnxruntime")
    measuring = Measuring(Target("local"), repeats=1, runs=2, artifacts_root=tmp_path / "logs")
    got = calibration.calibrate_onnxruntime(lambda job: measure_on(measuring, job), OrtSettings(), "calibrated here")
    assert got.import_bytes > 10 << 20  # python + numpy + onnxruntime
    assert got.session_bytes > 0 and got.per_node_bytes >= 0 and got.first_run_bytes >= 0
    assert got.inputs_bytes >= 0 and got.source == "calibrated here"


def test_the_cache_keeps_a_baseline_with_its_runtime_version():
    key = {"host": "dev", "backend": "onnxruntime", "threads": 1}
    assert calibration.cached(key) is None
    baseline = RuntimeBaseline(1, 2, 3, 4, 5, "calibrated on dev")
    calibration.store(key, baseline, "1.32.0")
    assert calibration.cached(key) == (baseline, "1.32.0")
    assert calibration.cached(dict(key, threads=2)) is None  # other settings, another calibration


def test_the_cached_table_pastes_into_a_profile():
    import tomllib

    from edgemem.verify.baseline import baseline_from_table

    baseline = RuntimeBaseline(54 << 20, 8 << 20, 4224, 2834368, 61440, "calibrated on dev")
    table = tomllib.loads(calibration.profile_table("onnxruntime", baseline, "1.32.0", "2026-01-10"))
    read = baseline_from_table(table["baseline"]["onnxruntime"], "onnxruntime", "profile dev")
    assert (read.import_bytes, read.session_bytes, read.per_node_bytes, read.inputs_bytes, read.first_run_bytes) == \
        (54 << 20, 8 << 20, 4224, 2834368, 61440)
    assert "onnxruntime 1.32.0" in read.source
