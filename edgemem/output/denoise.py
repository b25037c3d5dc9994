"""Terminal rendering of a DenoiseResult (rich table) and the progress bars of a denoise run
(training epochs, sampling steps, the feature extractor)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from edgemem.distill.denoise.result import DenoiseResult, DenoiserSummary
from edgemem.output import Output
from edgemem.output.budget import budget_line
from edgemem.output.distill import _epochs
from edgemem.output.training import DistillProgress
from edgemem.units import format_bytes


def render_denoise_result(result: DenoiseResult, out: Output) -> None:
    c = out.console
    c.print(Text.assemble(("edgemem distill --task denoise ", "bold"), (result.dataset, "bold cyan")))
    c.print(f"method {result.method}, accounting at {result.precision}, peak = analyzer's live peak at batch 1; "
            "loss = held-out MSE of the predicted noise (lower is better)")
    c.print(models_table(result))
    for line in summary_lines(result):
        c.print(line)
    for note in result.notes:
        c.print(f"note: {note}", style="yellow")


def models_table(result: DenoiseResult) -> Table:
    table = Table(title="teacher and students", title_justify="left")
    for name in ("role", "model", "held-out loss", "vs teacher", "Fréchet dist.", "peak act.", "arena", "weights",
                 "params", "method", "epochs", "train time"):
        table.add_column(name, justify="left" if name in ("role", "model", "method") else "right")
    for m in (r for r in (result.teacher, result.student, result.baseline) if r is not None):
        table.add_row(m.role, m.description, _number(m.heldout_loss, 4), _ratio(m, result.teacher),
                      _number(m.quality.frechet_distance if m.quality else None, 2), format_bytes(m.peak_activation_bytes),
                      format_bytes(m.arena_bytes), format_bytes(m.weights_bytes), f"{m.parameters:,}",
                      m.training.method if m.training else "given", _epochs(m),
                      f"{m.training.train_time_s:.1f} s" if m.training else "-")
    table.caption = ("Fréchet dist.: in the features of a classifier this run trained (no Inception weights can be "
                     "downloaded); comparable between these rows only")
    return table


def summary_lines(result: DenoiseResult) -> list[Text]:
    lines = []
    student, teacher = result.student, result.teacher
    if result.reduction is not None and result.loss_ratio is not None:
        lines.append(Text(f"student vs teacher: peak activation memory {result.reduction:.2f}x smaller "
                          f"({format_bytes(teacher.peak_activation_bytes)} -> {format_bytes(student.peak_activation_bytes)}), "
                          f"held-out denoising loss {result.loss_ratio:.3f}x the teacher's"))
    ref = result.quality_reference
    if ref is not None:
        lines.append(Text(f"quality floor: {ref.samples} real training images score {ref.real_frechet_distance:.2f} "
                          f"(feature extractor accuracy {ref.extractor_accuracy:.2%})"))
    diffs = [m.parity_max_abs_diff for m in (result.teacher, result.student, result.baseline) if m and m.parity_max_abs_diff is not None]
    if diffs:
        lines.append(Text(f"every .onnx matches PyTorch under ONNX Runtime: max |diff| {max(diffs):.2e} (<= 1e-4)"))
    for check, label in ((result.budget, "budget"), (result.weights_budget, "weights budget")):
        if check is not None:
            lines.append(budget_line(check, label=label))
    for m in (r for r in (result.teacher, result.student, result.baseline) if r is not None):
        grid = f", samples {m.quality.grid_path}" if m.quality and m.quality.grid_path else ""
        lines.append(Text(f"{m.role}: {m.onnx_path}{grid}"))
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
    """Progress sink of distill_denoise: one bar per phase on stderr (training: loss; sampling: timestep)."""

    def step(self, epoch: int, value: float) -> None:
        if self._bar is None:
            return
        sampling = self._name.startswith("sampling")
        info = f"t = {value:.0f}" if sampling else f"epoch {epoch}/{self._epochs} loss {value:.4f} {self._last}"
        self._bar.update(advance=1, info=info)

    def epoch_end(self, metrics) -> None:
        self._last = f"| last epoch: loss {metrics.train_loss:.4f}, held-out {metrics.monitor_loss:.4f}"
        if not self.out.interactive and metrics.epoch == self._epochs:
            self.out.info(f"{self._name}: {metrics.epoch} epochs, loss {metrics.train_loss:.4f}, held-out {metrics.monitor_loss:.4f}")
