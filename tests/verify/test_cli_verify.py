"""``edgemem verify`` on this machine, through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.memory.runtime.models import save

pytest.importorskip("onnxruntime")


def run(*args):
    return subprocess.run([sys.executable, "-m", "edgemem", "verify", *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save("branchy", tmp_path_factory.mktemp("cli-verify"))


def test_fits_exits_0_with_a_json_document_and_an_html_report(model, tmp_path):
    html = tmp_path / "r.html"
    proc = run(model, "--budget", "1GiB", "--repeats", "1", "--json", "--report", str(html))
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "edgemem.verify_report/1" and document["verdict"]["status"] == "fits"
    assert {c["part"] for c in document["comparison"]} >= {"activations", "weights"}
    assert html.read_text().startswith("<!doctype html>")


def test_a_budget_below_the_runtime_baseline_is_a_verdict_that_says_why(model):
    proc = run(model, "--budget", "10MiB", "--repeats", "1")
    assert proc.returncode == 3
    assert "no model can fit" in proc.stdout


def test_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk")
    proc = run(str(bad), "--budget", "1GiB", "--repeats", "1")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    missing = run(str(tmp_path / "none.onnx"), "--budget", "1GiB")
    assert missing.returncode in (1, 2) and len(missing.stderr.strip().splitlines()) == 1
