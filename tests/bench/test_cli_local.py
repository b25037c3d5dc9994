"""`edgemem bench --host local` through typer's CliRunner: real runs, budget verdicts, history, profiles, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgemem.bench.protocol import AGENT_VERSION
from edgemem.cli import app

runner = CliRunner()
FAST = ["--warmup", "0.05s", "--warmup-runs", "3", "--duration", "0.2s", "--runs", "10", "--baseline", "0.1s"]


def bench(*args):
    return runner.invoke(app, ["bench", *map(str, args)])


def test_local_run_json_with_prediction_next_to_measurement(tmp_path, cnn):
    result = bench(cnn, "--host", "local", *FAST, "--results-dir", tmp_path / "results", "--json", "--budget", "1GiB")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["schema"] == "edgemem.bench_report/1" and report["result"]["schema"] == "edgemem.bench_result/1"
    r, v = report["result"], report["verdict"]
    assert r["host"] == "local" and r["status"] == "ok" and r["backend_info"]["providers"] == ["CPUExecutionProvider"]
    assert r["versions"]["agent"] == AGENT_VERSION and r["request"]["measure"]["runs"] == 10
    # the analyzer's arena for this model: conv outputs 8x32x32 fp32 = 32 KiB each, two live at once
    assert v["predicted_activation_bytes"] == 65536 and v["prediction_precision"] == "as stored"
    assert v["measured_activation_bytes"] == r["memory"]["activations"]["value_bytes"] > 0
    assert v["ratio"] == pytest.approx(v["measured_activation_bytes"] / 65536)
    assert v["budget"]["fits"] is True and v["budget"]["budget_bytes"] == 1 << 30 and v["budget"]["scope"] == "process"
    assert Path(report["saved_to"]).parent == tmp_path / "results"
    logs = Path(r["artifacts_dir"])
    assert logs.parent == tmp_path / "results" / "logs" and (logs / "proc_samples.jsonl").is_file()


def test_human_output_and_over_budget_exit_code(tmp_path, cnn):
    result = bench(cnn, *FAST, "--results-dir", tmp_path / "r", "--budget", "5MB")
    assert result.exit_code == 3, result.output
    text = result.stdout
    for words in ("edgemem bench cnn.onnx on local", "peak memory of the fresh load-and-run process", "runtime baseline",
                  "activations", "prediction vs measurement", "does NOT fit", "saved to"):
        assert words in text, words


def test_compare_tabulates_history_with_changes(tmp_path, cnn):
    results = tmp_path / "results"
    for _ in range(2):
        assert bench(cnn, *FAST, "--no-predict", "--results-dir", results).exit_code == 0
    (results / "junk.json").write_text("{not json")
    history = runner.invoke(app, ["bench", "--compare", "--results-dir", str(results), "--json"])
    assert history.exit_code == 0, history.output
    doc = json.loads(history.stdout)
    assert doc["schema"] == "edgemem.bench_history/1" and len(doc["rows"]) == 2 and len(doc["skipped"]) == 1
    first, second = doc["rows"]
    assert first["median_change_pct"] is None and second["median_change_pct"] is not None
    assert second["started_utc"] >= first["started_utc"]
    human = runner.invoke(app, ["bench", str(cnn), "--compare", "--results-dir", str(results)])
    assert human.exit_code == 0 and "edgemem bench: history" in human.stdout and "cnn.onnx" in human.stdout


def test_profile_sets_the_budget_and_flags(tmp_path, cnn):
    result = bench(cnn, *FAST, "--no-save", "--profile", "jetson-nano-4gb", "--backend", "onnxruntime",
                   "--precision", "fp32", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["profile"] == "jetson-nano-4gb" and report["verdict"]["budget"]["budget_bytes"] == 3188 << 20
    assert report["saved_to"] is None and not (tmp_path / "results").exists()


@pytest.mark.parametrize("args, code, words", [
    (["missing.onnx"], 1, "no such file"),
    (["{model}", "--backend", "caffe"], 2, "'caffe' is not one of"),
    (["{model}", "--precision", "fp64"], 2, "--precision"),
    (["{model}", "--budget", "12M"], 2, "ambiguous size unit"),
    (["{model}", "--profile", "jetson-nano-9gb"], 1, "no device profile"),
    (["{model}", "--host", "-oProxyCommand=x"], 2, "not a valid SSH destination"),
    (["{model}", "--budget-metric", "vibes", "--budget", "1GB"], 2, "--budget-metric"),
])
def test_bad_input_is_one_line(tmp_path, cnn, args, code, words):
    result = bench(*[a.format(model=cnn) for a in args], *FAST, "--results-dir", tmp_path / "r")
    assert result.exit_code == code, result.output
    assert words in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_failed_run_is_saved_and_reported_in_one_line(tmp_path, huge):
    result = bench(huge, *FAST, "--no-predict", "--memory-limit", "100MiB", "--results-dir", tmp_path / "r")
    assert result.exit_code == 1
    assert "out_of_memory" in result.stderr and "memory limit" in result.stderr
    assert "ERROR" in result.stdout  # the partial report is still printed
    saved = list((tmp_path / "r").glob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["result"]["error"]["code"] == "out_of_memory"
