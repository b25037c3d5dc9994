"""Terminal rendering of a DistillResult (rich table), training progress on stderr, and the
memory-accuracy plot (matplotlib; PNG or SVG)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from rich.table import Table
from rich.text import Text

from edgemem.distill.result import DistillResult, EpochMetrics, ModelSummary
from edgemem.errors import UsageError
from edgemem.output import Output
from edgemem.units import format_bytes

PLOT_FORMATS = (".png", ".svg")


def render_distill_result(result: DistillResult, out: Output) -> None:
    c = out.console
    c.print(Text.assemble(("edgemem distill ", "bold"), (result.dataset, "bold cyan")))
    c.print(f"method {result.method}, accounting at {result.precision}, peak = analyzer's live peak at batch 1")
    c.print(models_table(result))
    for line in summary_lines(result):
        c.print(line)
    if result.blockwise is not None:
        from edgemem.output.blockwise import render_blockwise_report

        render_blockwise_report(result.blockwise, out)
    for note in result.notes:
        c.print(f"note: {note}", style="yellow")


def models_table(result: DistillResult) -> Table:
    table = Table(title="teacher and students", title_justify="left")
    for name, justify in [("role", "left"), ("model", "left"), ("accuracy", "right"), ("vs teacher", "right"),
                          ("peak act.", "right"), ("arena", "right"), ("weights", "right"), ("params", "right"),
                          ("method", "left"), ("epochs", "right"), ("train time", "right")]:
        table.add_column(name, justify=justify)
    rows = [result.teacher, result.student, result.baseline, *result.sweep]
    for m in (r for r in rows if r is not None):
        table.add_row(m.role, m.description, percent(m.accuracy), delta(m.accuracy, result.teacher.accuracy) if m is not result.teacher else "",
                      format_bytes(m.peak_activation_bytes), format_bytes(m.arena_bytes), format_bytes(m.weights_bytes),
                      f"{m.parameters:,}", m.training.method if m.training else "given",
                      _epochs(m), f"{m.training.train_time_s:.1f} s" if m.training else "-")
    table.caption = "vs teacher: accuracy points. cached = trained earlier (teacher cache or finished checkpoint)."
    return table


def summary_lines(result: DistillResult) -> list[Text]:
    lines = []
    if result.reduction is not None:
        lines.append(Text(f"peak activation memory: teacher {format_bytes(result.teacher.peak_activation_bytes)} -> student "
                          f"{format_bytes(result.student.peak_activation_bytes)} ({result.reduction:.2f}x smaller)"))
    if result.parity_max_abs_diff is not None:
        lines.append(Text(f"student.onnx matches PyTorch under ONNX Runtime: max |diff| {result.parity_max_abs_diff:.2e} (<= 1e-4)"))
    budget = result.budget
    if budget is not None:
        what = "arena" if budget.scope == "activations" else "arena + weights"
        verdict = "fits" if budget.fits else "does NOT fit"
        text = Text(f"budget {format_bytes(budget.budget_bytes)} ({budget.budget_bytes:,} bytes, {budget.scope}, {budget.precision}): "
                    f"{verdict} ({what} {format_bytes(budget.required_bytes)})", style="green" if budget.fits else "bold red")
        if budget.weights_budget_bytes is not None:
            text.append(f"; weights budget {format_bytes(budget.weights_budget_bytes)}: "
                        f"{'fits' if budget.weights_fit else 'does NOT fit'}")
        lines.append(text)
    if result.student is not None and result.student.onnx_path:
        lines.append(Text(f"wrote {result.student.onnx_path}, {result.student.checkpoint_path}"))
    if result.report_path:
        lines.append(Text(f"report {result.report_path}" + (f", plot {result.plot_path}" if result.plot_path else "")))
    return lines


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def delta(value: float | None, reference: float | None) -> str:
    if value is None or reference is None:
        return "-"
    return f"{(value - reference) * 100:+.2f}"


def _epochs(m: ModelSummary) -> str:
    if m.training is None:
        return "-"
    return f"{m.training.epochs} cached" if m.training.cached else str(m.training.epochs)


class DistillProgress:
    """Progress sink for distill(): one bar per training phase on stderr with loss and accuracy."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self._stack = contextlib.ExitStack()
        self._bar = None
        self._name = ""
        self._epochs = 0
        self._last = ""

    def phase(self, name: str, epochs: int, steps_per_epoch: int, start_epoch: int = 0) -> None:
        self.phase_end()
        self._name, self._epochs = name, epochs
        self._bar = self._stack.enter_context(self.out.progress(f"{name}", total=epochs * steps_per_epoch))
        self._bar.update(completed=start_epoch * steps_per_epoch, info=f"epoch {start_epoch + 1}/{epochs}")
        if start_epoch:
            self.out.info(f"{name}: continuing after epoch {start_epoch}")

    def step(self, epoch: int, loss: float) -> None:
        if self._bar is not None:
            self._bar.update(advance=1, info=f"epoch {epoch}/{self._epochs} loss {loss:.4f} {self._last}")

    def epoch_end(self, metrics: EpochMetrics) -> None:
        self._last = f"| last epoch: loss {metrics.train_loss:.4f} acc {metrics.eval_accuracy * 100:.2f}%"
        if self._bar is not None:
            self._bar.update(info=f"epoch {metrics.epoch}/{self._epochs} {self._last}")
        if not self.out.interactive and metrics.epoch == self._epochs:
            self.out.info(f"{self._name}: {metrics.epoch} epochs, loss {metrics.train_loss:.4f}, "
                          f"accuracy {metrics.eval_accuracy * 100:.2f}%")

    def phase_end(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._bar = None
        self._last = ""

    def note(self, text: str) -> None:
        self.out.info(text)


def write_distill_plot(result: DistillResult, path: str | Path) -> Path:
    """Accuracy against peak activation memory for every model of the run (sweep: the Pareto curve)."""
    path = Path(path)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise UsageError(f"plot {path}: unknown format {path.suffix or '(none)'}", hint="use a .png or .svg file name")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    kib = 1024.0
    if result.sweep:
        points = sorted(((m.peak_activation_bytes / kib, (m.accuracy or 0) * 100, m.description) for m in result.sweep))
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", color="tab:blue", label="sweep")
        front = pareto_front([(p[0], p[1]) for p in points])
        ax.plot([p[0] for p in front], [p[1] for p in front], "-", color="tab:blue", alpha=0.35, linewidth=6,
                label="Pareto front")
        for x, y, label in points:
            ax.annotate(label.split(":")[0], (x, y), textcoords="offset points", xytext=(4, -12), fontsize=8)
    for m, style in ((result.teacher, "s"), (result.student, "*"), (result.baseline, "v")):
        if m is not None:
            ax.plot(m.peak_activation_bytes / kib, (m.accuracy or 0) * 100, style, markersize=11 if style == "*" else 8,
                    label=f"{m.role}: {percent(m.accuracy)} at {format_bytes(m.peak_activation_bytes)}")
    if result.budget is not None and result.budget.scope == "activations":
        ax.axvline(result.budget.budget_bytes / kib, color="red", linestyle="--", linewidth=1,
                   label=f"budget {format_bytes(result.budget.budget_bytes)}")
    ax.set_xscale("log", base=2)
    from edgemem.output.plot import ticks_at_points

    ticks_at_points(ax)  # at the points (6, 24 KiB), not at powers of two that miss them
    ax.set_xlabel(f"peak activation memory (KiB, {result.precision}, batch 1)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"memory vs accuracy: {result.dataset.split(':')[0]}, method {result.method}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by one with less memory and at least the same accuracy, by memory."""
    front: list[tuple[float, float]] = []
    for memory, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or acc > front[-1][1]:
            front.append((memory, acc))
    return front
