"""`edgemem distill` read in an 80-column terminal: real runs' results (a budgeted student with a
baseline, a sweep, a blockwise run over its budget), and the live blockwise display."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgemem.output import blockwise
from edgemem.output.blockwise import BlockwiseDisplay
from edgemem.output.distill import models_table, render_distill_result
from tests.output.rendering import distill_result, fits, in_order, render


@pytest.mark.parametrize("name", ["distill_budget.json", "distill_sweep.json", "distill_blockwise.json"])
def test_every_result_fits_80_columns(name):
    result = distill_result(name)
    text = fits(lambda out: render_distill_result(result, out))
    assert "teacher and students" in text and "training" in text


def test_the_verdict_comes_before_the_tables():
    text = fits(lambda out: render_distill_result(distill_result("distill_budget.json"), out))
    assert in_order(text, "budget 6.00 KiB (6,144 B): fits", "4.00x smaller", "teacher and students", "training",
                    "max |diff|")


def test_models_are_named_whole_and_units_stay_on_their_line():
    text = render(lambda out: out.console.print(models_table(distill_result("distill_budget.json"))), 80)
    student = next(line for line in text.splitlines() if line.startswith("student"))
    assert "pool x2, 3 RED blocks" in student and "6.00 KiB" in student and "1.41 MiB" in student
    sweep = render(lambda out: out.console.print(models_table(distill_result("distill_sweep.json"))), 80)
    assert any(line.startswith("k=4") and "pool x4, RED" in line for line in sweep.splitlines())


def test_blockwise_tables_fit_and_say_kept_or_dropped():
    text = fits(lambda out: render_distill_result(distill_result("distill_blockwise.json"), out))
    assert in_order(text, "does NOT fit", "blockwise: conv blocks -> separable", "blockwise schedule", "speedup")
    assert text.count("dropped") == 7 and "006-layers.2.conv2" in text


def test_live_blockwise_display_fits(monkeypatch):
    monkeypatch.setattr(blockwise, "time", SimpleNamespace(time=lambda: 100.0))  # the same elapsed times in both renderings

    def draw(out):
        display = BlockwiseDisplay(out)
        display.blocks_planned(["000-features.0.conv", "001-features.1.block.0.conv", "002-classifier.head"], [],
                               (("000-features.0.conv", "002-classifier.head"), ("001-features.1.block.0.conv",)),
                               {"000-features.0.conv": 4.0, "001-features.1.block.0.conv": 2.0, "002-classifier.head": 6.0})
        display.statuses = [{"rank": 0, "host": "gpu-node-017.cluster.example.org", "queue": ["000-features.0.conv", "002-classifier.head"],
                             "done": {"000-features.0.conv": [0.1, 4.2]}, "block": "002-classifier.head", "epoch": 1,
                             "epochs": 3, "loss": 0.2, "since": 90.0}]
        display._began = 40.0
        out.console.print(display.render())

    text = fits(draw)
    assert "blockwise workers (60 s)" in text and "running 1/3" in text and "0 (gpu-node" in text
