"""Shapes a runtime knows before it runs: ONNX inference without data propagation."""

from __future__ import annotations

import onnx

from edgemem.graph.static_shapes import runtime_static_names
from tests.memory.runtime.models import dynamic_expand


def test_a_shape_computed_from_data_is_not_static_to_the_runtime(tmp_path):
    path = tmp_path / "dyn.onnx"
    onnx.save(dynamic_expand(), str(path))
    static = runtime_static_names(path)
    assert {"x", "out", "token", "w", "shp"} <= static
    assert "tok" not in static and "y" not in static  # Expand's output and what follows from it
