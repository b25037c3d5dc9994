"""The import layers of ARCHITECTURE.md, enforced by import-linter, and the frozen public API."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.fail("import-linter is not installed; it is part of the [dev] extra")
    result = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" not in result.stdout.lower() or "0 broken" in result.stdout.lower()


def test_public_api_is_frozen():
    import edgemem

    assert edgemem.__all__ == ["__version__", "load_graph", "analyze", "AnalyzeOptions", "parse_size", "format_bytes"]
    for name in edgemem.__all__:
        assert getattr(edgemem, name) is not None


def test_importing_edgemem_is_light():
    code = "import sys, edgemem, edgemem.distill, edgemem.memory.report; print(sorted(m for m in ('torch', 'onnx', 'rich', 'typer') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
