"""Terminal rendering of a DenoiseResult (Grids that fit 80 columns, the verdict first) and the
progress bars of a denoise run (training epochs, sampling steps, the feature extractor)."""

from __future__ import annotations

from rich.text import Text

from edgemem.distill.denoise.result import DenoiseResult, DenoiserSummary
from edgemem.output import Output
from edgemem.output.distill import _epochs
from edgemem.output.distill import verdict_lines as distill_verdict_lines
from edgemem.output.grid import NUMBER, PROSE, Col, Grid
from edgemem.output.training import DistillProgress
from edgemem.units import format_bytes


def render_denoise_result(result: DenoiseResult, out: Output) -> None:
    """The verdict (budget, reduction, loss ratio) first, then the models, their training, the files."""
    method = f"method {result.method}; memory at {result.precision.value}, batch 1: the analyzer's live-set peak and arena"
    parts = [Text.assemble(("edgemem distill --task denoise ", "bold"), (result.dataset, "bold cyan")), *verdict_lines(result),
             Text(method), Text(), models_table(result), Text(), training_table(result), *file_lines(result),
             *(Text(f"note: {note}", style="yellow") for note in result.notes)]
    for part in parts:
        out.console.print(part)


def models(result: DenoiseResult) -> list[DenoiserSummary]:
    return [m for m in (result.teacher, result.student, result.baseline) if m is not None]


def verdict_lines(result: DenoiseResult) -> list[Text]:
    """The classifier run's verdict lines (budgets, peak reduction; the same fields), then the loss ratio."""
    lines = distill_verdict_lines(result)
    if result.loss_ratio is not None:
        lines.append(Text(f"held-out denoising loss: student {result.loss_ratio:.3f}x the teacher's"))
    return lines


def models_table(result: DenoiseResult) -> Grid:
    rows = models(result)
    arena = any(m.arena_bytes != m.peak_activation_bytes for m in rows)  # a column only when it says something
    ref = result.quality_reference
    floor = (f"; real images score {ref.real_frechet_distance:.2f} (extractor accuracy {ref.extractor_accuracy * 100:.2f}%)"
             if ref is not None else "")
    grid = Grid([Col("role"), Col("model", PROSE), Col("loss", NUMBER), Col("vs teacher", NUMBER), Col("Fréchet", NUMBER),
                 Col("peak", NUMBER), *([Col("arena", NUMBER)] if arena else [])],
                title="teacher and students",
                caption="loss: held-out MSE of the predicted noise (lower is better); Fréchet: distance of the samples "
                        "in the features of a classifier this run trained (no Inception weights can be downloaded), "
                        f"comparable between these rows only{floor}" + ("" if arena else "; arena = peak for every model"))
    for m in rows:
        grid.add_row(m.role, model_cell(m, result.teacher), _number(m.heldout_loss, 4), _ratio(m, result.teacher),
                     _number(m.quality.frechet_distance if m.quality else None, 2), format_bytes(m.peak_activation_bytes),
                     *([format_bytes(m.arena_bytes)] if arena else []))
    return grid


def model_cell(m: DenoiserSummary, teacher: DenoiserSummary) -> str:
    """A student's description without the teacher's name in front of it (the teacher's row shows it)."""
    head, _, tail = m.description.partition(": ")
    if m is not teacher and tail and head == teacher.description.partition(": ")[0]:
        return tail
    return m.description


def training_table(result: DenoiseResult) -> Grid:
    grid = Grid([Col("role"), Col("pool strides"), Col("parameters", NUMBER), Col("weights", NUMBER), Col("method"),
                 Col("epochs", NUMBER), Col("time", NUMBER)],
                title="training", caption="cached: trained earlier (teacher cache or a finished checkpoint)")
    for m in models(result):
        grid.add_row(m.role, "[" + ", ".join(map(str, m.pool_strides)) + "]", f"{m.parameters:,}", format_bytes(m.weights_bytes),
                     m.training.method if m.training else "given", _epochs(m),
                     f"{m.training.train_time_s:.1f} s" if m.training else "-")
    return grid


def file_lines(result: DenoiseResult) -> list[Text]:
    lines = []
    diffs = [m.parity_max_abs_diff for m in models(result) if m.parity_max_abs_diff is not None]
    if diffs:
        lines.append(Text(f"every .onnx matches PyTorch under ONNX Runtime: max |diff| {max(diffs):.2e} (<= 1e-4)"))
    for m in models(result):
        grid = f", samples {m.quality.grid_path}" if m.quality and m.quality.grid_path else ""
        lines.append(Text(f"wrote {m.onnx_path}{grid}"))
    if result.report_path:
        lines.append(Text(f"report {result.report_path}"))
    return lines


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(m: DenoiserSummary, teacher: DenoiserSummary) -> str:
    if m is teacher or m.heldout_loss is None or not teacher.heldout_loss:
        return ""
    return f"{m.heldout_loss / teacher.heldout_loss:.3f}x"


class DenoiseProgress(DistillProgress):
    """Progress sink of distill_denoise: one bar per phase on stderr, one line in 80 columns
    (training: epoch, loss, the last held-out loss; sampling: the timestep)."""

    def step(self, epoch: int, value: float) -> None:
        if self._bar is None:
            return
        sampling = self._name.startswith("sampling")
        info = f"t = {value:.0f}" if sampling else f"epoch {epoch}/{self._epochs} loss {value:.4f}" + (
            f", {self._last}" if self._last else "")
        self._bar.update(advance=1, info=info)

    def epoch_end(self, metrics) -> None:
        self._last = f"held-out {metrics.monitor_loss:.4f}"
        if self._bar is not None:
            self._bar.update(info=f"epoch {metrics.epoch}/{self._epochs} loss {metrics.train_loss:.4f}, {self._last}")
        if not self.out.interactive and metrics.epoch == self._epochs:
            self.out.info(f"{self._name}: {metrics.epoch} epochs, loss {metrics.train_loss:.4f}, held-out {metrics.monitor_loss:.4f}")
