"""The agent package: standard library only, Python 3.6+, small modules, one deterministic zipapp."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgemem.bench import package, protocol
from edgemem.bench.agent import job, worker
from edgemem.bench.agent.wire import BACKENDS, ERROR_EXIT, PACKAGE

FILES = sorted(package.AGENT_DIR.glob("*.py"))
TREES = {path.name: ast.parse(path.read_text()) for path in FILES}
STDLIB = set(sys.stdlib_module_names)
RUNTIMES = {"numpy", "onnxruntime", "tvm", "tensorrt"}  # imported only inside the workers of their runtime


def test_error_codes_have_distinct_exit_statuses_and_a_meaning():
    statuses = list(ERROR_EXIT.values())
    assert len(set(statuses)) == len(statuses) and min(statuses) >= 2 and max(statuses) < 126
    assert set(protocol.ERROR_MEANING) == set(protocol.ERROR_EXIT)
    assert set(job.RUNNERS) == set(worker.WORKERS) == set(BACKENDS)


def imports(tree: ast.AST, top_level_only: bool) -> list[tuple[str, int]]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(a.name, node.level if hasattr(node, "level") else 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


@pytest.mark.parametrize("name", sorted(TREES))
def test_imports_are_standard_library_or_the_package_itself(name):
    for module, level in imports(TREES[name], top_level_only=True):
        assert level == 1 or module.split(".")[0] in STDLIB, f"{name}: {module}"  # relative: works inside the zipapp
    for module, level in imports(TREES[name], top_level_only=False):
        top = module.split(".")[0]
        assert level == 1 or top in STDLIB or (top in RUNTIMES and name.startswith("worker_")), f"{name}: {module}"


@pytest.mark.parametrize("name", sorted(TREES))
def test_imports_are_at_the_top_except_the_runtimes(name):
    top = {id(node) for node in TREES[name].body}
    for node in ast.walk(TREES[name]):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert all(n.split(".")[0] in RUNTIMES for n in names), f"{name}: local import of {names}"


@pytest.mark.parametrize("name", sorted(TREES))
def test_small_modules_and_functions(name):
    assert len((package.AGENT_DIR / name).read_text().splitlines()) <= 400, name
    for node in ast.walk(TREES[name]):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno - node.lineno + 1 <= 60, f"{name}: {node.name}"


@pytest.mark.parametrize("name", sorted(TREES))
def test_no_syntax_or_api_newer_than_python_36(name):
    source = (package.AGENT_DIR / name).read_text()
    for node in ast.walk(TREES[name]):
        assert not isinstance(node, ast.NamedExpr), "walrus is 3.8+"
        if isinstance(node, ast.ImportFrom):
            assert not (node.module == "__future__" and any(a.name == "annotations" for a in node.names)), "3.7+"
            assert node.module != "dataclasses", "dataclasses is 3.7+"
        if isinstance(node, ast.Import):
            assert all(a.name != "dataclasses" for a in node.names), "dataclasses is 3.7+"
        if isinstance(node, ast.arguments):
            assert not node.posonlyargs, "positional-only parameters are 3.8+"
        if isinstance(node, ast.keyword):
            assert node.arg not in ("capture_output", "text", "process_group"), f"subprocess {node.arg}= is 3.7+"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args.args + node.args.kwonlyargs
            assert node.returns is None and all(a.annotation is None for a in arguments), f"{node.name}: annotations"
    assert "removeprefix" not in source and "removesuffix" not in source and "math.prod" not in source


def test_vermin_says_python_36_is_enough():
    beside_python = Path(sys.executable).parent / "vermin"  # the venv's scripts are not always on PATH
    vermin = str(beside_python) if beside_python.exists() else shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed (pip install 'edgemem[dev]'); the AST checks above still ran")
    proc = subprocess.run([vermin, "-t=3.6-", "--violations", "--no-tips", *map(str, FILES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_archive_is_deterministic_and_named_by_its_hash(tmp_path):
    first = package.build_archive(package.sources())
    assert first == package.agent_archive() == package.build_archive(list(reversed(package.sources())))
    copy = tmp_path / "agent"
    shutil.copytree(package.AGENT_DIR, copy)  # new files, new modification times
    for path in copy.glob("*.py"):
        path.touch()
    moved = [(f"{PACKAGE}/{p.name}", p.read_bytes()) for p in sorted(copy.glob("*.py"))] + [("__main__.py", package.MAIN)]
    assert package.build_archive(moved) == first
    assert package.agent_remote_name() == f"agent-{package.agent_sha256()[:16]}.pyz"
    with zipfile.ZipFile(package.write_archive(tmp_path)) as archive:
        names = archive.namelist()
        assert names == sorted(names) and "__main__.py" in names and f"{PACKAGE}/cli.py" in names
        assert {i.date_time for i in archive.infolist()} == {package.FIXED_DATE}
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_archive_runs_with_an_isolated_interpreter(tmp_path):
    archive = package.write_archive(tmp_path)
    # -I -S: no site-packages, no user site: only the standard library is importable
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", package.LAUNCHER, str(archive), package.agent_sha256(), "have",
                           "--base", str(tmp_path / "base")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and protocol.final_document(proc.stdout)["present"] == [], proc.stdout + proc.stderr


def test_launcher_refuses_a_modified_or_missing_archive(tmp_path):
    archive = package.write_archive(tmp_path)
    archive.write_bytes(archive.read_bytes().replace(b"AGENT_VERSION", b"AGENT_VERSIOX"))
    argv = [sys.executable, "-c", package.LAUNCHER, str(archive), package.agent_sha256(), "hello", "--base", str(tmp_path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    document = protocol.final_document(proc.stdout)
    assert proc.returncode == ERROR_EXIT["integrity"] and document["error"]["code"] == "integrity"
    assert "does not match its hash" in document["error"]["message"] and proc.stderr == ""
    archive.unlink()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == ERROR_EXIT["agent_missing"] and protocol.final_document(proc.stdout)["error"]["code"] == "agent_missing"


def test_parse_line_kinds():
    assert protocol.parse_line('EDGEMEM-RESULT {"status": "ok"}\n') == ("result", {"status": "ok"})
    assert protocol.parse_line('EDGEMEM-BEAT {"offset": 3}') == ("beat", {"offset": 3})
    assert protocol.parse_line("EDGEMEM-PROGRESS {broken") == ("log", "EDGEMEM-PROGRESS {broken")
    assert protocol.parse_line("hello") == ("log", "hello")
