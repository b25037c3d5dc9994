"""The import layers of ARCHITECTURE.md, enforced by import-linter, and the frozen public API."""

from __future__ import annotations

import ast
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

    assert edgemem.__all__ == ["__version__", "load_graph", "analyze", "AnalyzeOptions", "parse_size", "format_bytes",
                               "Budget", "BudgetCheck", "check_budget", "Precision", "Scope"]
    for name in edgemem.__all__:
        assert getattr(edgemem, name) is not None


def import_cycles(package: str = "edgemem") -> list[list[str]]:
    """Strongly connected components (more than one module) of the package's import graph,
    imports inside functions included (grimp reads them all)."""
    import grimp

    graph = grimp.build_graph(package, cache_dir=None)
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(module: str) -> None:  # Tarjan
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if not imported.startswith(package + ".") and imported != package:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_loops():
    assert import_cycles() == []


def test_help_and_analyze_load_no_heavy_runtime():
    model = ROOT / "examples" / "models" / "branchy_cnn.onnx"
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom edgemem.cli import app\n"
            "for args in (['--help'], ['analyze', '--help'], ['distill', '--help'], ['bench', '--help'],\n"
            f"             ['analyze', {str(model)!r}, '--json', '--budget', '1MB']):\n"
            "    r = CliRunner().invoke(app, args)\n"
            "    assert r.exit_code == 0, r.output\n"
            "print(sorted(m for m in ('torch', 'tvm', 'tensorrt', 'onnxruntime', 'pycuda', 'sklearn') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_importing_edgemem_is_light():
    code = "import sys, edgemem, edgemem.distill, edgemem.memory.report; print(sorted(m for m in ('torch', 'onnx', 'rich', 'typer') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_registries_are_tables_of_imported_objects():
    """Backends and trainers are chosen by name from tables of the objects themselves, and every
    method names a trainer that exists (the METHODS table stays torch-free by naming its key)."""
    from edgemem.bench.backends import BACKENDS, get_backend
    from edgemem.distill.trainers import METHODS
    from edgemem.distill.trainers.registry import TRAINERS, get_trainer

    for name, backend in BACKENDS.items():
        assert backend.name == name and get_backend(name) is backend
        assert all(callable(getattr(backend, m)) for m in ("probe_modules", "unavailable", "prepare", "interpret"))
    assert {method.trainer for method in METHODS.values()} <= set(TRAINERS)
    for name, trainer in TRAINERS.items():
        assert isinstance(trainer, type) and get_trainer(name) is trainer


def test_module_and_function_sizes():
    """Small files with one job, functions that fit a screen (docs/architecture.md, habit 10)."""
    over = []
    for path in sorted((ROOT / "edgemem").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        lines = text.count("\n")
        if lines > 400:
            over.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    over.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert over == []


def test_module_map_in_the_docs_is_current():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import module_map
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert module_map.DOC.read_text(encoding="utf-8") == module_map.current_doc(), \
        "docs/architecture.md's module map is stale: run python scripts/module_map.py --write"
