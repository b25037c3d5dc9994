"""``edgemem verify --host local`` through the real command line: verdicts, exit codes, one-line errors."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper
from typer.testing import CliRunner

from edgemem.cli import app
from tests.bench.conftest import free_port
from tests.memory.runtime.models import save

pytest.importorskip("onnxruntime")
runner = CliRunner()
MIB = 1 << 20


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save("branchy", tmp_path_factory.mktemp("cli-verify"))


@pytest.fixture(scope="module")
def calibrations(tmp_path_factory):
    """One host-side cache for the module: the runtime is calibrated once, then taken from the cache."""
    return tmp_path_factory.mktemp("calibrations")


@pytest.fixture
def cached(calibrations, monkeypatch):
    monkeypatch.setenv("EDGEMEM_CACHE", str(calibrations))


def verify(*args):
    return runner.invoke(app, ["verify", *map(str, args)])


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_fits_exits_0_with_a_json_document_and_an_offline_html_report(model, tmp_path, cached):
    html = tmp_path / "r.html"
    result = verify(model, "--budget", "1GiB", "--repeats", "2", "--json", "--report", html)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "edgemem.verify_report/1" and document["verdict"]["status"] == "fits"
    rows = {c["part"]: c for c in document["comparison"]}
    assert set(rows) == {"runtime_baseline", "weights", "session_overhead", "activations", "io_buffers"}
    for row in rows.values():  # every part: predicted, measured median and spread, a source
        assert row["predicted_bytes"] is not None and row["measured_median_bytes"] is not None
        assert row["measured_spread_bytes"] >= 0 and row["measured_source"]
        assert row["reason"] is not None or abs(row["gap"]) <= 0.10  # a reason for every gap over 10%
    measurement = document["measurement"]
    assert measurement["repeats"] == 2 and len(measurement["latencies_ms"]) == 2 * 5
    assert measurement["facts"]["run_id"] and measurement["trace"]
    assert document["budget"]["measured"]["scope"] == "process" and document["budget"]["measured"]["fits"] is True
    page = html.read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") == 4 and "https://" not in page


def test_the_human_report_is_verdict_first_and_80_columns(model, cached):
    result = runner.invoke(app, ["verify", str(model), "--budget", "1GiB", "--repeats", "1"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith("FITS") and max(len(line) for line in lines) <= 80
    assert "predicted and measured" in result.stdout and "settings verify applied" in result.stdout


def test_over_budget_exits_3_with_the_shortfall(model, cached):
    result = verify(model, "--budget", "100KiB", "--budget-scope", "activations", "--repeats", "1", "--json")
    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    verdict, measured = document["verdict"], document["budget"]["measured"]
    assert verdict["status"] == "over" and "over the 100.00 KiB budget (activations)" in verdict["reason"]
    assert measured["required_bytes"] == document["measurement"]["parts"]["activations"]["median_bytes"]


def test_a_budget_below_the_runtime_baseline_is_a_verdict_that_says_why(model, cached):
    result = verify(model, "--budget", "10MiB", "--repeats", "1", "--json")
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert "no model can fit" in document["verdict"]["reason"] and document["measurement"] is None


def test_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk")
    assert verify(bad, "--budget", "1GiB").exit_code == 1
    one_line(verify(bad, "--budget", "1GiB"))
    missing = verify(tmp_path / "none.onnx", "--budget", "1GiB")
    assert missing.exit_code == 1 and "no such file" in one_line(missing)
    no_budget = verify(tmp_path / "bad.onnx")
    assert no_budget.exit_code == 2 and "budget" in one_line(no_budget)


def test_a_missing_backend_is_one_line(model):
    result = verify(model, "--budget", "1GiB", "--backend", "tensorrt", "--trtexec", "/nonexistent/trtexec")
    assert result.exit_code == 1
    assert "tensorrt unavailable" in one_line(result)


def test_an_unreachable_host_is_one_line(model, tmp_path):
    result = verify(model, "--budget", "1GiB", "--host", "nobody@127.0.0.1", "--port", free_port(),
                    "--connect-timeout", "3s", "--known-hosts", tmp_path / "known_hosts")
    assert result.exit_code == 1
    assert "127.0.0.1" in one_line(result)


@pytest.mark.slow
def test_a_model_the_backend_rejects_is_one_line(tmp_path):
    pytest.importorskip("tvm")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [])
    det = helper.make_model(helper.make_graph([helper.make_node("Det", ["x"], ["y"])], "det", [x], [y]),
                            opset_imports=[helper.make_opsetid("", 17)])
    det.ir_version = 8
    onnx.save(det, tmp_path / "det.onnx")  # ONNX Runtime runs Det; TVM's frontend does not know it
    result = verify(tmp_path / "det.onnx", "--budget", "1GiB", "--backend", "tvm")
    assert result.exit_code == 1
    assert "not supported" in one_line(result) and "Det" in one_line(result)
