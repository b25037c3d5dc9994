"""On real exported architectures, the stored-order peak under the reference convention equals,
to the byte, an independent computation from sizes measured by one ONNX Runtime run."""

from __future__ import annotations

import numpy as np
import pytest

from edgemem.graph import LoadOptions, load_graph
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.convention import Convention
from tests.fixtures.exported import ARCHITECTURES, export
from tests.fixtures.ort_reference import reference_stored_peak

pytest.importorskip("torch")

REFERENCE = Convention(inplace=False, alias_views=False, alignment_bytes=1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported")
    return {name: export(name, folder / f"{name}.onnx") for name in ARCHITECTURES}


def example_feed(graph, shape):
    return {"input": np.random.default_rng(0).random(shape, dtype=np.float32)}


DYNAMIC = {"symbolic_batch", "same_padding"}


def load(path, name):
    return load_graph(path, LoadOptions(dims={"batch": 1}) if name in DYNAMIC else None)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_stored_peak_matches_independent_computation(exported, name):
    graph = load(exported[name], name)
    shape = graph.tensors["input"].shape
    expected, sizes = reference_stored_peak(exported[name], example_feed(graph, shape))
    for tensor, size in sizes.items():
        assert graph.tensors[tensor].size_bytes == size, tensor
    report = analyze(graph, AnalyzeOptions(orders=("stored",), convention=REFERENCE))
    assert report.orders[0].peak_bytes == expected
    assert report.activations_total_bytes == sum(sizes.values())


@pytest.mark.parametrize("batch", [1, 3])
def test_symbolic_batch_bound_by_dim_and_input_shape(exported, batch):
    path = exported["symbolic_batch"]
    expected, _ = reference_stored_peak(path, {"input": np.zeros((batch, 3, 32, 32), np.float32)})
    for options in (LoadOptions(dims={"batch": batch}), LoadOptions(input_shapes={"input": (batch, 3, 32, 32)})):
        graph = load_graph(path, options)
        assert graph.tensors["input"].source == "bound"
        report = analyze(graph, AnalyzeOptions(orders=("stored",), convention=REFERENCE))
        assert report.orders[0].peak_bytes == expected


def test_symbolic_batch_unbound_names_the_flag(exported):
    from edgemem.errors import ShapeError

    with pytest.raises(ShapeError) as info:
        load_graph(exported["symbolic_batch"])
    assert "--dim batch=N" in info.value.one_line() and "--input-shape" in info.value.one_line()


def test_default_convention_is_below_reference_on_real_models(exported):
    for name in ARCHITECTURES:
        graph = load(exported[name], name)
        reference = analyze(graph, AnalyzeOptions(orders=("stored",), convention=REFERENCE)).best.peak_bytes
        default = analyze(graph, AnalyzeOptions(orders=("stored",), convention=Convention(alignment_bytes=1))).best.peak_bytes
        assert default <= reference, name
        if name in ("residual", "transformer"):  # in-place ReLU/Add and view aliasing lower their peak
            assert default < reference, name
