"""Terminal rendering of a DistillResult (rich table), training progress on stderr, and the
memory-accuracy plot (matplotlib; PNG or SVG)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from edgemem.distill.result import DistillResult, ModelSummary
from edgemem.errors import UsageError
from edgemem.output import Output
from edgemem.output.blockwise import render_blockwise_report
from edgemem.output.budget import budget_line
from edgemem.output.grid import NUMBER, PROSE, Col, Grid
from edgemem.output.training import percent
from edgemem.units import format_bytes

PLOT_FORMATS = (".png", ".svg")


def render_distill_result(result: DistillResult, out: Output) -> None:
    """The verdict (budget, reduction) first, then the models, their training, the files written."""
    c = out.console
    c.print(Text.assemble(("edgemem distill ", "bold"), (result.dataset, "bold cyan")))
    for line in verdict_lines(result):
        c.print(line)
    c.print(f"method {result.method}; memory at {result.precision.value}, batch 1: the analyzer's live-set peak and arena",
            markup=False)
    c.print()
    c.print(models_table(result))
    c.print()
    c.print(training_table(result))
    if result.blockwise is not None:
        render_blockwise_report(result.blockwise, out)
    for line in file_lines(result):
        c.print(line)
    for note in result.notes:
        c.print(f"note: {note}", style="yellow", markup=False)


def verdict_lines(result: DistillResult) -> list[Text]:
    lines = [budget_line(check, label=label) for check, label in
             ((result.budget, "budget"), (result.weights_budget, "weights budget")) if check is not None]
    if result.device is not None:
        lines.append(device_line(result.device))
    if result.reduction is not None:
        lines.append(Text(f"peak activation memory: teacher {format_bytes(result.teacher.peak_activation_bytes)} -> student "
                          f"{format_bytes(result.student.peak_activation_bytes)} ({result.reduction:.2f}x smaller)"))
    return lines


def device_line(device: dict) -> Text:
    """--verify-on: what the device said about the student (never a pass unless it measured a fit)."""
    verdict = device.get("verdict") or {}
    status = verdict.get("status", "error")
    style = "green" if status == "fits" else "bold red" if status in ("over", "error") else "bold yellow"
    return Text(f"on the device ({device.get('host')}, {device.get('backend', '?')}): {status.upper()}, "
                f"{verdict.get('reason', '')}", style=style)


def models(result: DistillResult) -> list[ModelSummary]:
    return [m for m in (result.teacher, result.student, result.baseline, *result.sweep) if m is not None]


def label(m: ModelSummary, teacher: ModelSummary) -> tuple[str, str]:
    """(role, model) cells: a sweep member's role is its point (``k=2``), and the teacher's name is not
    repeated in front of each student derived from it."""
    head, _, tail = m.description.partition(": ")
    if m.role == "sweep" and tail:
        return head, tail
    if m is not teacher and head == teacher.description and tail:
        return m.role, tail
    return m.role, m.description


def models_table(result: DistillResult) -> Grid:
    rows = models(result)
    arena = any(m.arena_bytes != m.peak_activation_bytes for m in rows)  # a column only when it says something
    grid = Grid([Col("role"), Col("model", PROSE), Col("accuracy", NUMBER), Col("vs teacher", NUMBER), Col("peak", NUMBER),
                 *([Col("arena", NUMBER)] if arena else []), Col("weights", NUMBER)],
                title="teacher and students",
                caption=f"students derived from {result.teacher.description}; vs teacher: accuracy points"
                        + ("" if arena else "; arena = peak for every model"))
    for m in rows:
        grid.add_row(*label(m, result.teacher), percent(m.accuracy),
                     delta(m.accuracy, result.teacher.accuracy) if m is not result.teacher else "",
                     format_bytes(m.peak_activation_bytes), *([format_bytes(m.arena_bytes)] if arena else []),
                     format_bytes(m.weights_bytes))
    return grid


def training_table(result: DistillResult) -> Grid:
    grid = Grid([Col("role"), Col("parameters", NUMBER), Col("method"), Col("epochs", NUMBER), Col("time", NUMBER)],
                title="training", caption="cached: trained earlier (teacher cache or a finished checkpoint)")
    for m in models(result):
        grid.add_row(label(m, result.teacher)[0], f"{m.parameters:,}", m.training.method if m.training else "given",
                     _epochs(m), f"{m.training.train_time_s:.1f} s" if m.training else "-")
    return grid


def file_lines(result: DistillResult) -> list[Text]:
    lines = []
    if result.parity_max_abs_diff is not None:
        lines.append(Text(f"student.onnx matches PyTorch under ONNX Runtime: max |diff| {result.parity_max_abs_diff:.2e} (<= 1e-4)"))
    if result.student is not None and result.student.onnx_path:
        lines.append(Text(f"wrote {result.student.onnx_path}, {result.student.checkpoint_path}"))
    if result.report_path:
        lines.append(Text(f"report {result.report_path}" + (f", plot {result.plot_path}" if result.plot_path else "")))
    return lines


def delta(value: float | None, reference: float | None) -> str:
    if value is None or reference is None:
        return "-"
    return f"{(value - reference) * 100:+.2f}"


def _epochs(m: ModelSummary) -> str:
    if m.training is None:
        return "-"
    return f"{m.training.epochs} cached" if m.training.cached else str(m.training.epochs)


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
    ax.set_xlabel(f"peak activation memory (KiB, {result.precision.value}, batch 1)")
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
