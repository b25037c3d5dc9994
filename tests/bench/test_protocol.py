"""The agent is one stdlib-only file for Python 3.6..3.12; its constants agree with the host's."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgemem.bench import agent, protocol

SOURCE = protocol.AGENT_FILE.read_text()
TREE = ast.parse(SOURCE)
STDLIB = set(sys.stdlib_module_names)
RUNTIMES = {"numpy", "onnxruntime", "tvm", "tensorrt"}  # imported only inside the worker functions


def test_error_codes_have_distinct_exit_statuses_and_a_meaning():
    statuses = list(agent.ERROR_EXIT.values())
    assert len(set(statuses)) == len(statuses) and min(statuses) >= 2  # 0 ok, 1 python's own failure
    assert set(protocol.ERROR_MEANING) == set(protocol.ERROR_EXIT)
    assert set(agent.RUNNERS) == set(agent.WORKERS) == set(agent.BACKENDS)


def test_module_level_imports_are_standard_library_only():
    for node in TREE.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert all(n.split(".")[0] in STDLIB for n in names), names


def test_third_party_imports_only_inside_worker_functions():
    for node in ast.walk(TREE):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in STDLIB or top in RUNTIMES, name
                assert top not in ("torch", "onnx", "typer", "rich", "edgemem"), name


def test_no_syntax_or_api_newer_than_python_36():
    for node in ast.walk(TREE):
        assert not isinstance(node, ast.NamedExpr), "walrus is 3.8+"
        if isinstance(node, ast.ImportFrom):
            assert not (node.module == "__future__" and any(a.name == "annotations" for a in node.names)), "3.7+"
            assert node.module != "dataclasses", "dataclasses is 3.7+"
        if isinstance(node, ast.Import):
            assert all(a.name != "dataclasses" for a in node.names), "dataclasses is 3.7+"
        if isinstance(node, ast.arguments):
            assert not node.posonlyargs, "positional-only parameters are 3.8+"
        if isinstance(node, ast.JoinedStr):  # f"{x=}" parses as the text "x=" followed by the value
            for text, value in zip(node.values, node.values[1:]):
                assert not (isinstance(text, ast.Constant) and str(text.value).endswith("=")
                            and isinstance(value, ast.FormattedValue)), "f-string '=' is 3.8+"
        if isinstance(node, ast.keyword):
            assert node.arg not in ("capture_output", "text"), f"subprocess {node.arg}= is 3.7+"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args.args + node.args.kwonlyargs
            assert node.returns is None and all(a.annotation is None for a in arguments), f"{node.name}: annotations"
    assert "removeprefix" not in SOURCE and "removesuffix" not in SOURCE and "math.prod" not in SOURCE


def test_vermin_says_python_36_is_enough():
    beside_python = Path(sys.executable).parent / "vermin"  # the venv's scripts are not always on PATH
    vermin = str(beside_python) if beside_python.exists() else shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed (pip install 'edgemem[dev]'); the AST checks above still ran")
    proc = subprocess.run([vermin, "-t=3.6-", "--violations", "--no-tips", str(protocol.AGENT_FILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_agent_runs_with_an_isolated_interpreter(tmp_path):
    # -I -S: no site-packages, no user site: only the standard library is importable
    proc = subprocess.run([sys.executable, "-I", "-S", str(protocol.AGENT_FILE), "have", "--base", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and protocol.final_document(proc.stdout)["present"] == []


def test_parse_line_kinds():
    assert protocol.parse_line('EDGEMEM-RESULT {"status": "ok"}\n') == ("result", {"status": "ok"})
    assert protocol.parse_line("EDGEMEM-PROGRESS {broken") == ("log", "EDGEMEM-PROGRESS {broken")
    assert protocol.parse_line("hello") == ("log", "hello")
    assert protocol.agent_remote_name() == f"agent-{protocol.agent_sha256()[:16]}.py"
