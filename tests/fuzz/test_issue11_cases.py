"""The broken inputs of issue 11 (part A) through the real CLI: one clear line and a documented exit
code each. The model-side cases are unit-tested in tests/graph/test_validate.py; here they run
end to end, with the bench-side ones."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from edgemem.cli import app

runner = CliRunner()
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEMEM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EDGEMEM_NO_PROGRESS", "1")


def model_file(tmp_path, name="m.onnx", x_dims=(1, 3, 8, 8), w_dims=(4, 3, 3, 3), opset=13, ir_version=None):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "h", "w"])
    w = numpy_helper.from_array(np.ones(w_dims, np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    model = helper.make_model(helper.make_graph(nodes, "m", [x], [y], [w]), opset_imports=[helper.make_opsetid("", opset)])
    if ir_version is not None:
        model.ir_version = ir_version
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def one_error_line(result) -> str:
    # a bench run announces its id (and the --attach command) before it starts: that line is not an error
    lines = [line for line in result.stderr.splitlines() if line.strip() and "(reattach: edgemem bench --attach" not in line]
    assert len(lines) == 1 and lines[0].startswith("edgemem: error: "), result.stderr
    return lines[0]


def test_analyze_dims_of_2_to_the_62_exit_1_with_one_line(tmp_path):
    result = invoke("analyze", model_file(tmp_path, x_dims=(1, 3, 2**62, 2**62)))
    assert result.exit_code == 1 and "more than any device addresses" in one_error_line(result)


@pytest.mark.parametrize("flags", [["--dim", "n=0"], ["--input-shape", "x=1x3x0x64"]])
def test_analyze_zero_sized_bindings_exit_2(tmp_path, flags):
    path = model_file(tmp_path, x_dims=("n", 3, "h", 64))
    result = invoke("analyze", path, "--dim", "h=8", *flags) if flags[0] == "--dim" else invoke("analyze", path, *flags)
    line = one_error_line(result)  # the CLI's parser or the graph layer: either way exit 2, naming the bound
    assert result.exit_code == 2 and ("at least 1" in line or "must be 1 .." in line), line


@pytest.mark.parametrize("kwargs, words", [({"opset": 99}, "opset 99 of domain ai.onnx"),
                                            ({"ir_version": 99}, "IR version 99"),
                                            ({"w_dims": (4, 5, 3, 3)}, "has 3 channels, but weight 'w'"),
                                            ({"x_dims": (1, 3, -3, 8)}, "dimension 2 is -3")])
def test_analyze_models_onnx_runtime_refuses_exit_1(tmp_path, kwargs, words):
    result = invoke("analyze", model_file(tmp_path, **kwargs))
    assert result.exit_code == 1 and words in one_error_line(result)


def test_bench_refuses_an_empty_file_before_running_anything(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    result = invoke("bench", empty, "--host", "local", "--results-dir", tmp_path / "results")
    assert result.exit_code == 1
    assert f"{empty}: file is empty" in one_error_line(result) and "blobs" not in result.output
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()  # no job ran, nothing stored


def test_bench_on_a_directory_says_it_is_not_a_file(tmp_path):
    folder = tmp_path / "model.onnx"
    folder.mkdir()
    result = invoke("bench", folder, "--host", "local")
    assert result.exit_code == 1 and one_error_line(result).endswith(f"{folder}: not a file")


def test_bench_compare_on_a_missing_results_dir_is_an_error(tmp_path):
    result = invoke("bench", "--compare", "--results-dir", tmp_path / "nonexistent")
    assert result.exit_code == 1 and "no such folder" in one_error_line(result)


def test_bench_errors_name_the_users_file_not_the_device_blob():
    from edgemem.bench.run import name_user_files

    raw = {"status": "error", "error": {"code": "model_invalid", "message": f"Load model from /root/.cache/edgemem/blobs/{SHA} failed"}}
    named = name_user_files(raw, {SHA: "models/mine.onnx"})
    assert named["error"]["message"] == "Load model from models/mine.onnx failed"
    assert raw["error"]["message"].endswith(f"blobs/{SHA} failed")  # input kept
    assert name_user_files({"status": "ok"}, {SHA: "models/mine.onnx"}) == {"status": "ok"}


def test_bench_on_a_model_the_runtime_refuses_names_the_users_file(tmp_path):
    path = model_file(tmp_path, name="future.onnx", opset=99)
    result = invoke("bench", path, "--host", "local", "--no-save", "--warmup-runs", "0", "--runs", "1",
                    "--duration", "0s", "--warmup", "0s", "--baseline", "0s")
    assert result.exit_code == 1 and "blobs/" not in result.output
    assert str(path) in one_error_line(result)


def test_inventory_with_the_placeholder_fingerprint_names_the_file_and_device(tmp_path):
    inventory = tmp_path / "fleet.toml"
    inventory.write_text('[[device]]\nname = "orin"\nhost = "orin"\nfingerprint = "SHA256:REPLACE_ME"\n')
    result = invoke("bench", model_file(tmp_path), "--inventory", inventory)
    line = one_error_line(result)
    assert result.exit_code == 1 and line.startswith(f"edgemem: error: {inventory}: device ")
    assert "orin" in line and "fingerprint 'SHA256:REPLACE_ME'" in line and "--fingerprint" not in line
