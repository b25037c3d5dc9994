"""The README's front-door commands, run as tests: the bundled example analyzes as shown, the
examples on bundled models run, every bundled model is reproducible from its generator (built in
a temporary folder and compared with the committed file), and is a real model ONNX Runtime runs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from edgemem.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MODELS = ROOT / "examples" / "models"
EXAMPLE = MODELS / "branchy_cnn.onnx"


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


def test_bundled_examples_are_reproducible(tmp_path):
    """The generator, writing into a temporary folder, rebuilds every committed example byte for byte."""
    committed = {path.name: path.read_bytes() for path in MODELS.glob("*.onnx")}
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_examples.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, cwd=tmp_path)
    generated = {path.name: path.read_bytes() for path in tmp_path.glob("*.onnx")}
    assert set(generated) == set(committed) >= {"branchy_cnn.onnx", "branchy_cnn_dynamic.onnx"}
    for name, data in generated.items():
        assert data == committed[name], f"examples/models/{name} differs from what examples/make_examples.py builds"
    assert {path.name: path.read_bytes() for path in MODELS.glob("*.onnx")} == committed  # the checkout was not written


def readme_commands(prefix: str) -> list[str]:
    """Command lines of the README's code blocks that start with ``prefix`` (comments stripped)."""
    blocks = re.findall(r"```(?:bash|text)\n(.*?)```", README, re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(prefix)]


def test_readme_analyze_examples_on_bundled_models_run():
    commands = readme_commands("edgemem analyze examples/")
    assert any("--dim" in c for c in commands) and any("--input-shape" in c for c in commands)
    for command in commands:
        result = CliRunner().invoke(app, shlex.split(command)[1:])
        assert result.exit_code == 0, (command, result.output)
        assert re.search(r"best: \w+ order, peak", result.stdout), command


def test_readme_says_how_to_run_edgemem_after_set_up():
    assert "source .venv/bin/activate" in README
    after_quick_start = README[README.index("source .venv/bin/activate"):]
    assert ".venv/bin/edgemem distill" not in README and ".venv/bin/python benchmarks" not in README
    assert after_quick_start.count(".venv/bin/edgemem") == 1  # only in the sentence that explains the prefix


def test_bundled_example_runs_under_onnxruntime():
    import onnxruntime as ort

    session = ort.InferenceSession(str(EXAMPLE), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"image": np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)})
    assert logits.shape == (1, 10) and np.isfinite(logits).all()
