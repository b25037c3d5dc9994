"""The README's front-door commands, run as tests: the bundled example analyzes as shown, is
reproducible from its generator, and is a real model ONNX Runtime runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from typer.testing import CliRunner

from edgemem.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
EXAMPLE = ROOT / "examples" / "models" / "branchy_cnn.onnx"


def test_readme_states_the_two_commands():
    assert "bash scripts/setup.sh && .venv/bin/edgemem analyze examples/models/branchy_cnn.onnx" in README
    assert ".venv/bin/python -m pytest -n 2" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/python -m pytest -n 2" in ci and "scripts/setup.sh" in ci


def test_readme_analyze_example_matches_the_tool():
    """The README's example is the tool's output at 80 columns, line for line and in order ("..." elides)."""
    result = CliRunner().invoke(app, ["analyze", str(EXAMPLE)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    block = README[README.index("$ edgemem analyze examples/models/branchy_cnn.onnx"):].split("```")[0]
    shown = [line for line in block.splitlines()[1:] if not line.startswith("...")]
    printed = iter(line.rstrip() for line in result.stdout.splitlines())
    missing = [line for line in shown if not any(line == candidate for candidate in printed)]
    assert not missing and len(shown) > 20, missing
    assert re.search(r"best: \w+ order, peak .*", block).group(0) in result.stdout


def test_bundled_example_is_reproducible(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_examples.py")], check=True, capture_output=True, cwd=tmp_path)
    assert onnx.load(str(EXAMPLE)).SerializeToString() == (ROOT / "examples" / "models" / "branchy_cnn.onnx").read_bytes()


def test_bundled_example_runs_under_onnxruntime():
    import onnxruntime as ort

    session = ort.InferenceSession(str(EXAMPLE), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"image": np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)})
    assert logits.shape == (1, 10) and np.isfinite(logits).all()
