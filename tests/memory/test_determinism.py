"""The same command gives the same JSON, timings aside, on a quiet machine and with CPU-bound load
beside it: the order search and the placement stop on work units, never on the clock."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
from typer.testing import CliRunner

from edgemem.cli import app
from tests.fixtures.nas_graphs import nas_cells, randwire

TIMINGS = ("analysis_s", "search_s")
BUSY = "while True:\n    pass\n"


def without_timings(doc: dict) -> dict:
    doc = {k: v for k, v in doc.items() if k not in TIMINGS}
    doc["orders"] = [{k: v for k, v in o.items() if k not in TIMINGS} for o in doc["orders"]]
    return doc


def analyze_json(path, *args) -> dict:
    result = CliRunner().invoke(app, ["analyze", str(path), "--json", "--detail", "--time-limit", "600s", *args])
    assert result.exit_code == 0, result.output
    return without_timings(json.loads(result.stdout))


def test_json_is_the_same_on_a_quiet_and_on_a_loaded_machine(tmp_path):
    # a search that stops on its budget (a 128-block RandWire is not proved with 40,000 units) and a plan
    # the portfolio has to improve beyond its greedy members (DARTS cells)
    paths = []
    for name, model in (("randwire", randwire(128, seed=1, channels=8, size=8)), ("darts", nas_cells(6, "darts", seed=1))):
        paths.append(tmp_path / f"{name}.onnx")
        onnx.save(model, paths[-1])
    quiet = [analyze_json(p, "--work-limit", "40000") for p in paths]
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        loaded = [analyze_json(p, "--work-limit", "40000") for p in paths]
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert not quiet[0]["orders"][-1]["proved_optimal"]  # the budget, not the proof, ended the search
    for a, b in zip(quiet, loaded):
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
