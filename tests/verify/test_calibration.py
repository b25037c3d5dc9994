"""Calibrating a runtime's baseline on this machine with the built-in models."""

from __future__ import annotations

import pytest

from edgemem.memory.runtime import OrtSettings
from edgemem.verify import calibrate
from edgemem.verify.local_calibration import calibrate_onnxruntime


def test_calibration_models_are_what_they_claim(tmp_path):
    paths = calibrate.write_models(tmp_path)
    from edgemem.graph import load_graph

    sizes = {name: len(load_graph(path).nodes) for name, path in paths.items()}
    assert sizes == {"one_node": 1, "chain": 65, "convnet": 5}


def test_onnxruntime_baseline_is_measured_and_labelled():
    pytest.importorskip("onnxruntime")
    got = calibrate_onnxruntime(OrtSettings(), repeats=1)
    assert got.import_bytes > 10 << 20  # python + numpy + onnxruntime
    assert got.session_bytes > 0 and got.per_node_bytes >= 0 and got.first_run_bytes >= 0
    assert got.inputs_bytes >= 0 and got.source.startswith("calibrated on")
