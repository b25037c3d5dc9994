"""TensorRT's engine cache key (pure), and verify on real hardware: a CUDA GPU with TensorRT on
this machine (markers gpu + tensorrt) and a Jetson over SSH (marker jetson, EDGEMEM_JETSON_HOST).
The hardware tests are skipped where the hardware is absent; they were not run where edgemem is
developed (no GPU, no Jetson): docs/verify.md says so."""

from __future__ import annotations

import ctypes.util
import json
import os
import shutil
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from edgemem.bench.agent.run_tensorrt import engine_cache_path, engine_facts
from edgemem.cli import app
from tests.bench.models import small_cnn

runner = CliRunner()


def job(tmp_path, **changes):
    spec = {"model": {"sha256": "ab" * 32}, "inputs": {"shapes": {"x": [1, 3, 32, 32]}, "dims": {}},
            "options": {"precision": "fp16", "workspace_bytes": 1 << 30, "extra_args": [], "mode": "trtexec"}}
    for key, value in changes.items():
        section, field = key.split("__")
        spec[section] = dict(spec[section], **{field: value})
    return SimpleNamespace(spec=spec, base=str(tmp_path))


@pytest.mark.parametrize("change", [
    {"model__sha256": "cd" * 32}, {"inputs__shapes": {"x": [4, 3, 32, 32]}}, {"inputs__dims": {"batch": 4}},
    {"options__precision": "int8"}, {"options__workspace_bytes": 1 << 29}, {"options__extra_args": ["--sparsity=enable"]},
    {"options__mode": "python"},
])
def test_everything_that_changes_the_engine_changes_its_cache_key(tmp_path, change):
    same = engine_cache_path(job(tmp_path), "10.3.0")
    assert engine_cache_path(job(tmp_path), "10.3.0") == same  # stable for one spec
    assert engine_cache_path(job(tmp_path, **change), "10.3.0") != same


def test_the_tensorrt_version_is_in_the_key(tmp_path):
    assert engine_cache_path(job(tmp_path), "8.5.2") != engine_cache_path(job(tmp_path), "10.3.0")
    facts = engine_facts(job(tmp_path), "8.5.2")
    assert facts["tensorrt"] == "8.5.2" and "device" in facts and facts["builder"]


def cuda_gpu_present() -> bool:
    return bool(shutil.which("nvidia-smi") and ctypes.util.find_library("cudart"))


def check_gpu_counted(result, backend="tensorrt") -> dict:
    assert result.exit_code in (0, 3), result.output
    document = json.loads(result.stdout)
    assert document["backend"] == backend and document["verdict"]["status"] != "partial"
    parts = document["measurement"]["parts"]
    assert parts["gpu"]["median_bytes"] is not None and parts["gpu"]["median_bytes"] >= 0
    assert parts["activations"]["median_bytes"] > 0 and "partial" not in parts["process_peak"]
    return document


@pytest.mark.gpu
@pytest.mark.tensorrt
@pytest.mark.skipif(not cuda_gpu_present(), reason="needs an NVIDIA GPU with libcudart")
def test_tensorrt_on_this_gpu_counts_the_gpu_side(tmp_path):
    """The python API path with a dynamic batch (set_input_shape from 8.5, binding shapes before)."""
    pytest.importorskip("tensorrt")
    model = small_cnn(tmp_path / "dyn.onnx", batch="batch")
    result = runner.invoke(app, ["verify", str(model), "--backend", "tensorrt", "--trt-mode", "python",
                                 "--input-shape", "x=2x3x32x32", "--budget", "64GiB", "--repeats", "2", "--json"])
    document = check_gpu_counted(result)
    assert "cudaMemGetInfo" in document["measurement"]["parts"]["gpu"]["source"] or "nvmap" in \
        document["measurement"]["parts"]["gpu"]["source"]


@pytest.mark.jetson
@pytest.mark.skipif(not os.environ.get("EDGEMEM_JETSON_HOST"), reason="set EDGEMEM_JETSON_HOST to a Jetson's ssh alias")
def test_tensorrt_on_a_jetson_counts_nvmap(tmp_path):
    model = small_cnn(tmp_path / "cnn.onnx")
    result = runner.invoke(app, ["verify", str(model), "--host", os.environ["EDGEMEM_JETSON_HOST"], "--backend",
                                 "tensorrt", "--budget", "4GiB", "--repeats", "3", "--json"])
    check_gpu_counted(result)
