"""`edgemem analyze` read in an 80-column terminal: the real analyzer on the bundled model and on
real PyTorch exports (long ONNX names), every section rendered at 80 and at 200 columns."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from edgemem.cli import app
from tests.fixtures.exported import export
from tests.fixtures.nas_graphs import randwire
from edgemem.output.analyze import render_memory_report
from tests.output.rendering import NARROW, WIDE, check_text, fits, in_order

runner = CliRunner()
EXAMPLE = "examples/models/branchy_cnn.onnx"


def analyze(width: int, *args) -> str:
    result = runner.invoke(app, ["analyze", *map(str, args)], env={"COLUMNS": str(width)})
    assert result.exit_code in (0, 3), result.output
    return result.stdout


def both(*args) -> str:
    narrow = analyze(NARROW, *args)
    check_text(narrow, analyze(WIDE, *args))
    return narrow


@pytest.fixture(scope="module")
def transformer(tmp_path_factory):
    return export("transformer", tmp_path_factory.mktemp("t") / "transformer.onnx")


def test_bundled_model_fits_with_the_verdict_first():
    text = both(EXAMPLE, "--budget", "512KiB")
    lines = text.splitlines()
    assert lines[1].startswith("best: greedy order") and lines[2].startswith("budget 512.00 KiB (524,288 B): does NOT fit")
    assert in_order(text, "best:", "does NOT fit", "peak activation memory per execution order", "largest buffers live")
    assert "greedy *  640.00 KiB  640.00 KiB" in text and "+110.0%" in text  # one row, one line


def test_long_onnx_names_are_cut_in_the_middle_not_split(transformer):
    text = both(transformer, "--inplace-rules", "all")
    assert "…" in text  # /layer/self_attn/... names do not fit whole next to the sizes
    rows = [line for line in text.splitlines() if "_output_0" in line]
    assert rows and all(line.rstrip().endswith(")") or line.rstrip().endswith("%") for line in rows)
    assert "opt-in in-place rules" in text and "+ concat + depthwise" in text


def test_wide_terminal_shows_names_whole(transformer):
    text = analyze(WIDE, transformer)
    assert "/layer/self_attn/Transpose_1_output_0 (+1)" in text and "…" not in text


def test_unproved_orders_fit(tmp_path):
    """One report (the search may stop elsewhere in another run) rendered at both widths."""
    report = analyze_library(randwire(32, seed=1, channels=8, size=8), tmp_path, time_limit_s=0.2)
    text = fits(lambda out: render_memory_report(report, out))
    if not report.best.proved_optimal:
        assert "<= +" in text and "lower bound" in text


def test_the_written_order_and_onnx_runtime_peaks_fit(tmp_path):
    text = both(EXAMPLE, "--write-order", tmp_path / "best.onnx")
    assert "ONNX Runtime, measured in file order" in text and "written to" in text


def analyze_library(model, tmp_path, time_limit_s: float):
    import onnx

    from edgemem.graph import load_graph
    from edgemem.memory.analyze import AnalyzeOptions, analyze as run

    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return run(load_graph(path), AnalyzeOptions(orders=("stored", "optimal"), time_limit_s=time_limit_s))
