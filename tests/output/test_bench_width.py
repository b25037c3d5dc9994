"""`edgemem bench` read in an 80-column terminal: a real `--host local` run, a real fleet with an
unreachable device, the recorded TensorRT replay result, and the history of stored runs."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from edgemem.cli import app
from edgemem.output.bench import render_fleet, render_report
from tests.bench.models import small_cnn
from tests.output.rendering import FIXTURES, NARROW, WIDE, check_text, device_report, fits, fleet_report, in_order

runner = CliRunner()
FAST = ["--warmup", "0.05s", "--warmup-runs", "3", "--duration", "0.2s", "--runs", "10", "--baseline", "0.1s"]


def bench(*args) -> tuple[int, str]:
    result = runner.invoke(app, ["bench", *map(str, args)])
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Real runs on this machine: one device over its budget, then a fleet of it and a dead host."""
    folder = tmp_path_factory.mktemp("bench")
    env = {"EDGEMEM_CACHE": str(folder / "cache"), "EDGEMEM_NO_PROGRESS": "1"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        model = small_cnn(folder / "cnn.onnx")
        results = folder / "results"
        code, single = bench(model, *FAST, "--results-dir", results, "--budget", "5MB", "--json")
        assert code == 3, single
        code, fleet = bench(model, *FAST, "--hosts", "local,nobody@127.0.0.1", "--port", "1", "--connect-timeout", "5s",
                            "--results-dir", results, "--budget", "1GiB", "--json")
        assert code == 1, fleet
    shutil.copy(FIXTURES / "bench_tensorrt_replay.json", results / "20261203T105509Z-local-cnn-tensorrt.json")
    return {"single": json.loads(single), "fleet": json.loads(fleet), "results": results}


def test_local_run_fits_with_the_verdict_first(runs):
    device = device_report(runs["single"])
    text = fits(lambda out: render_report(device, out))
    assert in_order(text, "edgemem bench cnn.onnx on local (onnxruntime, fp32): OK", "does NOT fit",
                    "prediction vs measurement", "latency (ms)", "peak memory of the fresh load-and-run process",
                    "saved to")
    row = next(line for line in text.splitlines() if line.startswith("latency ") and "(ms)" not in line)
    assert len(row.split()) == 9  # label, runs, six statistics and CV on one line


def test_tensorrt_replay_result_fits():
    device = device_report(json.loads((FIXTURES / "bench_tensorrt_replay.json").read_text()))
    text = fits(lambda out: render_report(device, out))
    assert in_order(text, "(tensorrt, fp16): OK", "does NOT fit, weights + activations 2.34 GiB", "GPU compute",
                    "TensorRT's own figures", "build allocator peak gpu")


def test_fleet_fits_with_one_line_per_failure(runs):
    fleet = fleet_report(runs["fleet"])
    text = fits(lambda out: render_fleet(fleet, out))
    assert in_order(text, "edgemem bench: fleet", "2 device(s): 1 measured, 1 failed; budget 1.00 GiB", "local",
                    "nobody@127.0.0.1", "FAILED")
    reason = [line for line in text.splitlines() if line.startswith("nobody@127.0.0.1: ")]
    assert len(reason) == 1 and "Connection refused" in text  # the reason, not one word per line


def test_history_fits(runs):
    def compare(width: int) -> str:
        result = runner.invoke(app, ["bench", "--compare", "--results-dir", str(runs["results"])], env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        return result.stdout

    text = compare(NARROW)
    check_text(text, compare(WIDE))
    assert in_order(text, "edgemem bench: history", "cnn.onnx on local (tensorrt, fp16)", "over",
                    "cnn.onnx on local (onnxruntime, fp32)", "over", "fits", "change: against the previous")



def test_partial_latency_is_marked():
    document = json.loads((FIXTURES / "bench_tensorrt_replay.json").read_text())
    document["result"]["latency"]["partial"] = True
    text = fits(lambda out: render_report(device_report(document), out))
    assert "latency (partial)" in text and "these are the runs measured before it stopped" in " ".join(text.split())
    assert "GPU compute (partial)" not in text  # only the stats the stop cut short
