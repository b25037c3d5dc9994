"""`edgemem analyze` through typer's CliRunner: exit codes, one-line errors, --json, --plot."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest
from typer.testing import CliRunner

from edgemem.cli import app
from tests.fixtures.builders import HandNode, hand_model
from tests.graph.test_load_errors import small_model

runner = CliRunner()
REQUIRED_KEYS = {"schema", "model", "weights_bytes", "activations_total_bytes", "lower_bound_bytes", "orders", "best", "budget", "convention"}


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "small.onnx"
    onnx.save(small_model(), str(path))
    return path


@pytest.fixture
def branchy_path(tmp_path):
    nodes = [HandNode("A", ("in",), ("a1",)), HandNode("C", ("in",), ("c1",)), HandNode("B", ("a1",), ("b1",)),
             HandNode("D", ("c1",), ("d1",)), HandNode("E", ("b1", "d1"), ("out",))]
    sizes = {"in": 1000, "a1": 100_000, "b1": 1000, "c1": 100_000, "d1": 1000, "out": 1000}
    path = tmp_path / "branchy.onnx"
    onnx.save(hand_model(nodes, sizes, ["in"], ["out"]), str(path))
    return path


def invoke(*args):
    return runner.invoke(app, ["analyze", *map(str, args)])


def test_table_output(model_path):
    result = invoke(model_path)
    assert result.exit_code == 0, result.output
    for text in ("stored", "greedy", "optimal", "proved optimal", "best:", "largest buffers live at step", "convention:"):
        assert text in result.stdout


def test_json_document(branchy_path):
    result = invoke(branchy_path, "--json", "--no-inplace", "--no-alias", "--alignment", "1")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert REQUIRED_KEYS <= set(doc)
    assert doc["schema"] == "edgemem.memory_report/1"
    assert doc["convention"] == {**doc["convention"], "inplace": False, "alias_views": False, "alignment_bytes": 1}
    orders = {o["name"]: o for o in doc["orders"]}
    assert orders["stored"]["peak_bytes"] == 201_000
    assert orders["optimal"]["peak_bytes"] == 102_000 and orders["optimal"]["proved_optimal"] is True
    for o in doc["orders"]:
        assert {"name", "peak_bytes", "arena_bytes", "peak_step", "peak_node", "proved_optimal"} <= set(o)
    assert doc["best"] == {"order": "greedy", "peak_bytes": 102_000, "arena_bytes": 102_000}
    assert doc["budget"] is None
    assert {t["name"]: t["source"] for t in doc["tensors"]}["a1"] == "declared"


def test_budget_fits_and_exceeds(branchy_path):
    ok = invoke(branchy_path, "--json", "--alignment", "1", "--budget", "102KB")
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["budget"] == {"budget_bytes": 102_000, "scope": "activations", "required_bytes": 102_000, "fits": True, "shortfall_bytes": 0}
    over = invoke(branchy_path, "--json", "--alignment", "1", "--budget", "100KB")
    assert over.exit_code == 3
    assert json.loads(over.stdout)["budget"]["shortfall_bytes"] == 2_000
    human = invoke(branchy_path, "--alignment", "1", "--budget", "0.1MiB")
    assert human.exit_code == 0  # 104,857 bytes >= 102,000
    short = invoke(branchy_path, "--budget", "99KiB", "--alignment", "1")
    assert short.exit_code == 3 and "does NOT fit" in short.stdout and "short by" in short.stdout


def test_budget_scope_model_includes_weights(model_path):
    doc = json.loads(invoke(model_path, "--json", "--budget", "1MB", "--budget-scope", "MODEL").stdout)
    assert doc["budget"]["required_bytes"] == doc["best"]["arena_bytes"] + doc["weights_bytes"]
    assert doc["budget"]["scope"] == "model"
    weights = json.loads(invoke(model_path, "--json", "--budget", "1MB", "--budget-scope", "weights").stdout)
    assert weights["budget"]["required_bytes"] == weights["weights_bytes"]
    process = invoke(model_path, "--budget", "1MB", "--budget-scope", "process")
    assert process.exit_code == 2 and "no runtime baseline" in process.stderr


@pytest.mark.parametrize("args, code", [
    (["--budget", "12M"], 2), (["--budget", "lots"], 2), (["--order", "fastest"], 2), (["--precision", "fp4"], 2),
    (["--input-shape", "x=1x3"], 2), (["--dim", "batch"], 2), (["--plot", "out.gif"], 2), (["--budget-scope", "all"], 2),
    (["--budget-scope", "total"], 2), (["--placement", "best"], 2), (["--inplace-rules", "concat,fusion"], 2),
    (["--dim", "batch=99999999999999999999"], 2), (["--dim", "batch=0"], 2), (["--input-shape", "x=1x3x0x64"], 2),
    (["--detail"], 2), (["--budget-scope", "model"], 2), (["--input-shape", "x=1x3x8x8", "--dim", "batch=1"], 2),
    (["--plot", "{tmp}/missing/p.png"], 2), (["--plot", "{tmp}"], 2), (["--write-order", "{tmp}"], 2),
    (["--write-order", "{tmp}/missing/w.onnx"], 2), (["--time-limit", "soon"], 2), (["--top", "0"], 2),
])
def test_usage_errors(model_path, tmp_path, args, code):
    args = [a.replace("{tmp}", str(tmp_path)) if a != "out.gif" else str(tmp_path / "out.gif") for a in args]
    result = invoke(model_path, *args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgemem: error: "), result.stderr


def test_choices_are_listed_in_help_and_case_insensitive(branchy_path):
    text = " ".join(runner.invoke(app, ["analyze", "--help"]).stdout.split())
    for choices in ("<fp32|fp16|int8>", "<activations|weights|model|process>", "stored|greedy|optimal,...", "cpsat"):
        assert choices in text, choices
    assert "<str>" not in text and "<list[str]>" not in text
    result = invoke(branchy_path, "--json", "--precision", "FP16", "--order", "Stored,GREEDY", "--placement", "Exact")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["convention"]["precision"] == "fp16" and [o["name"] for o in doc["orders"]] == ["stored", "greedy"]


def bad_inputs(tmp_path):
    data = small_model().SerializeToString()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.onnx").write_bytes(bytes(range(256)) * 8)
    cyc = hand_model([HandNode("A", ("in", "c"), ("a",)), HandNode("C", ("a",), ("c",))], {"in": 1, "a": 1, "c": 1}, ["in"], ["c"])
    onnx.save(cyc, str(tmp_path / "cycle.onnx"))
    dangling = hand_model([HandNode("A", ("in", "ghost"), ("out",))], {"in": 1, "out": 1}, ["in"], ["out"])
    onnx.save(dangling, str(tmp_path / "dangling.onnx"))
    empty = onnx.helper.make_model(onnx.helper.make_graph([], "e", [], []), opset_imports=[onnx.helper.make_opsetid("", 17)])
    onnx.save(empty, str(tmp_path / "empty.onnx"))
    onnx.save(small_model(), str(tmp_path / "ext.onnx"), save_as_external_data=True, location="ext.bin", size_threshold=0)
    (tmp_path / "ext.bin").unlink()
    return {
        "missing": tmp_path / "nope.onnx",
        "directory": tmp_path,
        "truncated": tmp_path / "cut.onnx",
        "corrupted": tmp_path / "noise.onnx",
        "cycle": tmp_path / "cycle.onnx",
        "dangling": tmp_path / "dangling.onnx",
        "empty": tmp_path / "empty.onnx",
        "external": tmp_path / "ext.onnx",
    }


@pytest.mark.parametrize("case", ["missing", "directory", "truncated", "corrupted", "cycle", "dangling", "empty", "external"])
def test_bad_input_is_one_line_exit_1(tmp_path, case):
    path = bad_inputs(tmp_path)[case]
    result = invoke(path)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgemem: error: "), result.stderr
    assert "Traceback" not in result.stderr


def test_unresolved_shapes_name_tensors_and_flag(tmp_path):
    from tests.fixtures.exported import export

    path = export("symbolic_batch", tmp_path / "sym.onnx")
    result = invoke(path)
    assert result.exit_code == 1
    assert "--dim batch=N" in result.stderr and "no static size" in result.stderr
    assert invoke(path, "--dim", "batch=4").exit_code == 0
    assert invoke(path, "--input-shape", "input=2x3x32x32").exit_code == 0


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_plot_files(branchy_path, tmp_path, suffix):
    out = tmp_path / f"plot{suffix}"
    result = invoke(branchy_path, "--plot", out)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert len(data) > 2000
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    else:
        assert b"<svg" in data


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_help_and_analyze_do_not_import_torch(model_path):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from edgemem.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        f"r = CliRunner().invoke(app, ['analyze', {str(model_path)!r}, '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = sorted(m for m in ('torch', 'tvm', 'tensorrt', 'sklearn') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_console_script_help():
    result = subprocess.run([sys.executable, "-m", "edgemem", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "Exit codes" in result.stdout and "analyze" in result.stdout


def test_profile_sets_budget_and_precision(branchy_path):
    from edgemem.profiles import load_profile

    device = load_profile("jetson-orin-nano-8gb")
    doc = json.loads(invoke(branchy_path, "--json", "--profile", "jetson-orin-nano-8gb").stdout)
    assert doc["budget"]["budget_bytes"] == device.budget_bytes
    assert doc["convention"]["precision"] == device.precision
    explicit = json.loads(invoke(branchy_path, "--json", "--profile", "jetson-orin-nano-8gb", "--budget", "1MB", "--precision", "fp32").stdout)
    assert explicit["budget"]["budget_bytes"] == 1_000_000 and explicit["convention"]["precision"] == "fp32"
    unknown = invoke(branchy_path, "--profile", "no-such-board")
    assert unknown.exit_code == 1 and "known profiles" in unknown.stderr


def test_place_every_order_runs_the_portfolio_on_the_stored_order_too(tmp_path, monkeypatch):
    from edgemem.memory import analyze as analyze_module
    from tests.fixtures.scale_graphs import random_dag

    monkeypatch.setattr(analyze_module, "EVERY_ORDER_MAX_BUFFERS", 0)  # the rule on a small graph
    path = tmp_path / "dag.onnx"
    onnx.save(random_dag(60, seed=1), str(path))
    quick, every = (json.loads(invoke(path, "--json", "--order", "stored,greedy", *flag).stdout)
                    for flag in ((), ("--place-every-order",)))
    stored = [o for o in quick["orders"] if o["name"] == "stored"][0]
    stored_every = [o for o in every["orders"] if o["name"] == "stored"][0]
    assert stored["placement"] == "greedy_by_size" and stored_every["placement"].startswith("portfolio:")
    assert stored["arena_bytes"] >= stored_every["arena_bytes"] >= stored["arena_lower_bound_bytes"]
    assert quick["best"] == every["best"]
