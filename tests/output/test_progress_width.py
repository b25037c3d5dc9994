"""Training progress on a real (forced) terminal: one line in 80 columns, nothing cut."""

from __future__ import annotations

import io

from rich.console import Console

from edgemem.distill.result import EpochMetrics
from edgemem.output import Output
from edgemem.output.training import DistillProgress
from tests.output.rendering import check_text


def progress_line(width: int, monkeypatch) -> str:
    monkeypatch.delenv("EDGEMEM_NO_PROGRESS", raising=False)
    out = Output(width=width)
    out.err = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
    sink = DistillProgress(out)
    sink.phase("fine-tune", epochs=15, steps_per_epoch=100)
    for _ in range(100):
        sink.step(1, 0.123456)
    sink.epoch_end(EpochMetrics(1, 0.1301, 0.9, 0.9533, 0.01, 1.0))
    sink.step(2, 0.1111)
    bar = sink._bar._progress
    screen = Console(file=io.StringIO(), width=width, color_system=None)
    with screen.capture() as captured:
        screen.print(bar.get_renderable())
    sink.phase_end()
    return captured.get()


def test_training_progress_is_one_whole_line_in_80_columns(monkeypatch):
    narrow = progress_line(80, monkeypatch)
    assert len(narrow.splitlines()) == 1 and "epoch 2/15 loss 0.1111, last acc 95.33%" in narrow
    check_text(narrow.replace("━", " "), progress_line(200, monkeypatch).replace("━", " "))
