"""`edgemem distill --task denoise` read in an 80-column terminal: a real run's result (a budgeted
student with a baseline) and the progress bars of its phases (training, sampling, the extractor)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from edgemem.distill.denoise.result import DenoiseEpoch, DenoiseResult
from edgemem.output import Output
from edgemem.output.denoise import DenoiseProgress, models_table, render_denoise_result
from edgemem.toml_tables import from_table
from tests.output.rendering import FIXTURES, check_text, fits, in_order, render


def denoise_result(name: str = "denoise_budget.json") -> DenoiseResult:
    """A DenoiseResult from a real run's report.json (tests/fixtures/output/README.md says which)."""
    document = json.loads((FIXTURES / name).read_text())
    derived = ("schema", "budget", "weights_budget", "reduction", "loss_ratio", "fits")
    return from_table(DenoiseResult, {k: v for k, v in document.items() if k not in derived}, name)


def test_the_result_fits_80_columns_verdict_first():
    text = fits(lambda out: render_denoise_result(denoise_result(), out))
    assert in_order(text, "budget 16.00 KiB (16,384 B): fits", "1.67x smaller", "student 1.009x the teacher's",
                    "teacher and students", "training", "max |diff|", "samples.png")


def test_students_are_named_without_the_teacher_and_figures_stay_on_their_line():
    result = denoise_result()
    text = render(lambda out: out.console.print(models_table(result)), 80)
    rows = {line.split()[0]: line for line in text.splitlines() if line.split() and line.split()[0] in ("teacher", "student", "baseline")}
    assert "ddpm-unet-tiny:" in rows["teacher"] and "ddpm-unet-tiny" not in rows["student"]
    student = result.student
    assert f"{student.heldout_loss:.4f}" in rows["student"] and f"{student.quality.frechet_distance:.2f}" in rows["student"]
    assert "9.62 KiB" in rows["student"] and "1.009x" in rows["student"]


def test_the_rebuilt_result_keeps_the_denoise_training_record():
    result = denoise_result()
    assert result.student.training.steps > 0 and result.student.training.history[0].loss_parts["red"] > 0
    assert result.loss_ratio == pytest.approx(result.student.heldout_loss / result.teacher.heldout_loss)


def progress_line(width: int, monkeypatch, phase: str, value: float, epochs_end: bool) -> str:
    monkeypatch.delenv("EDGEMEM_NO_PROGRESS", raising=False)
    out = Output(width=width)
    out.err = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
    sink = DenoiseProgress(out)
    sink.phase(phase, epochs=12, steps_per_epoch=100)
    for _ in range(100):
        sink.step(1, value)
    if epochs_end:  # training phases report each epoch's held-out loss; sampling and the extractor do not
        sink.epoch_end(DenoiseEpoch(1, 0.04431, 0.03662, 2e-4, 1.0))
    sink.step(2, value)
    screen = Console(file=io.StringIO(), width=width, color_system=None)
    with screen.capture() as captured:
        screen.print(sink._bar._progress.get_renderable())
    sink.phase_end()
    return captured.get()


@pytest.mark.parametrize("phase, value, epochs_end, shown", [
    ("baseline", 0.0614, True, "epoch 2/12 loss 0.0614, held-out 0.0366"),
    ("sampling baseline (ddim, 100 steps)", 999.0, False, "t = 999"),
    ("feature extractor (quality figure)", 2.3026, False, "epoch 2/12 loss 2.3026"),
])
def test_every_phase_is_one_whole_line_in_80_columns(monkeypatch, phase, value, epochs_end, shown):
    narrow = progress_line(80, monkeypatch, phase, value, epochs_end)
    assert len(narrow.splitlines()) == 1 and shown in narrow and phase in narrow
    check_text(narrow.replace("━", " "), progress_line(200, monkeypatch, phase, value, epochs_end).replace("━", " "))
