"""Start-up: `edgemem analyze` imports only what analysis needs (commands and flag choices load
on first use), and every command still resolves with its help."""

from __future__ import annotations

import subprocess
import sys

import onnx
from typer.testing import CliRunner

from edgemem.cli import app
from edgemem.cli.app import COMMANDS
from tests.graph.test_load_errors import small_model

OTHER_PACKAGES = ("edgemem.distill", "edgemem.bench", "edgemem.verify", "edgemem.cli.distill", "edgemem.cli.bench",
                  "edgemem.cli.verify", "torch", "onnxruntime", "tvm", "matplotlib")


def test_analyze_imports_no_other_command_and_no_heavy_package(tmp_path):
    path = tmp_path / "small.onnx"
    onnx.save(small_model(), str(path))
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom edgemem.cli import app\n"
            f"result = CliRunner().invoke(app, ['analyze', {str(path)!r}, '--json'])\n"
            "assert result.exit_code == 0, result.output\n"
            f"print(sorted(m for m in sys.modules if m.startswith({OTHER_PACKAGES!r})))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_command_resolves_with_its_help():
    for name in COMMANDS:
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert f"edgemem {name}" in result.output
    listing = CliRunner().invoke(app, ["--help"]).output
    assert all(name in listing for name in COMMANDS)
    unknown = CliRunner().invoke(app, ["nonsense"])
    assert unknown.exit_code == 2 and "No such command 'nonsense'" in unknown.output
