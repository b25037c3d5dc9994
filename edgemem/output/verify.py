"""``edgemem verify``: the verdict first, then the per-part table, the reasons for the gaps, how each
part was measured, and the settings verify applied (80-column grids), or the JSON document."""

from __future__ import annotations

from rich.text import Text

from edgemem.output import Output
from edgemem.output.budget import budget_line
from edgemem.output.grid import NUMBER, PROSE, Col, Grid
from edgemem.units import format_bytes
from edgemem.verify.compare import relative_gap
from edgemem.verify.report import VerifyReport

STYLE = {"fits": "bold green", "over": "bold red", "partial": "bold yellow", "unknown": "bold yellow"}
NAMES = {"runtime_baseline": "runtime baseline", "weights": "weights", "session_overhead": "session overhead",
         "activations": "activations + scratch", "io_buffers": "I/O buffers", "gpu": "GPU (nvmap)",
         "process_peak": "process peak"}
COUNTED = {"activations": "activations + scratch", "weights": "weights", "model": "weights + activations",
           "process": "process peak"}


def size(value: int | None) -> str:
    return "unknown" if value is None else format_bytes(value)


def gap_text(gap: float | None) -> str:
    if gap is None:
        return "-"
    return "inf" if gap == float("inf") else f"{gap * 100:+.1f}%"


def share_text(measured: int | None, predicted: int | None, budget_bytes: int) -> str:
    """The part's share of the budget: measured where known, else predicted; '-' when neither is."""
    value = measured if measured is not None else predicted
    return "-" if value is None or budget_bytes <= 0 else f"{value / budget_bytes * 100:.1f}%"


def parts_grid(report: VerifyReport) -> Grid:
    repeats = report.measurement.repeats if report.measurement else 0
    budget_bytes = report.predicted_check.budget_bytes
    grid = Grid([Col("part"), Col("predicted", NUMBER), Col("measured", NUMBER), Col("spread", NUMBER), Col("gap", NUMBER),
                 Col("of budget", NUMBER)],
                title=f"predicted and measured (median and spread of {repeats} fresh processes)")
    for row in report.comparisons:
        grid.add_row(NAMES[row.part], size(row.predicted_bytes), size(row.measured_median_bytes),
                     size(row.measured_spread_bytes), gap_text(row.gap),
                     share_text(row.measured_median_bytes, row.predicted_bytes, budget_bytes))
    summary = report.measurement.summary if report.measurement else {}
    for name in ("gpu", "process_peak"):
        measured = summary.get(name) or {}
        if measured.get("median_bytes") is None and name == "gpu":
            continue
        predicted = report.prediction.peak_bytes if name == "process_peak" else None
        gap = relative_gap(predicted, measured.get("median_bytes"))
        grid.add_row(NAMES[name], size(predicted) if name == "process_peak" else "-", size(measured.get("median_bytes")),
                     size(measured.get("spread_bytes")), gap_text(gap),
                     share_text(measured.get("median_bytes"), predicted, budget_bytes))
    grid.caption = (f"gap = (predicted - measured) / measured; of budget: the part's share of "
                    f"{format_bytes(budget_bytes)} (measured, else predicted); activations include kernel scratch and outputs")
    return grid


def reasons_grid(report: VerifyReport) -> Grid | None:
    rows = [(NAMES[c.part], c.reason) for c in report.comparisons if c.reason]
    if not rows:
        return None
    grid = Grid([Col("part"), Col("why the gap is over 10% (or the part unknown)", PROSE)])
    for row in rows:
        grid.add_row(*row)
    return grid


def sources_grid(report: VerifyReport) -> Grid:
    grid = Grid([Col("part"), Col("how it was measured", PROSE)])
    summary = report.measurement.summary if report.measurement else {}
    for name, label in NAMES.items():
        source = (summary.get(name) or {}).get("source")
        if source and (summary.get(name) or {}).get("median_bytes") is not None:
            grid.add_row(label, source)
    return grid


def settings_grid(report: VerifyReport) -> Grid:
    grid = Grid([Col("setting"), Col("value"), Col("why", PROSE)], title=f"{report.backend} settings verify applied")
    for s in report.prediction.settings:
        grid.add_row(s.name, s.value, s.reason)
    return grid


def header(report: VerifyReport) -> Text:
    verdict = report.verdict
    return Text.assemble(("edgemem verify ", "bold"), (report.model, "bold cyan"), f" on {report.host} ({report.backend}): ",
                         (verdict.status.upper(), STYLE[verdict.status]))


def render_verify(report: VerifyReport, out: Output) -> None:
    if out.json_mode:
        out.emit_json(report.to_json())
        return
    c, prediction = out.console, report.prediction
    c.print(header(report))
    c.print(Text(report.verdict.reason, style=STYLE[report.verdict.status]))
    check = report.measured_check or report.predicted_check
    c.print(budget_line(check, "measured " + COUNTED[check.scope.value] if report.measured_check else
                        "predicted " + COUNTED[check.scope.value]))
    c.print(f"predicted process peak {size(prediction.peak_bytes)}; activations: runtime-aware {size(prediction.run_bytes)}, "
            f"theoretical {size(report.theoretical_bytes)} (edgemem's own plan, stored order)", markup=False)
    c.print(f"order: {prediction.order_source}" + (f" ({len(prediction.order)} steps)" if prediction.order else ""),
            markup=False)
    if report.measurement is not None:
        for grid in (parts_grid(report), reasons_grid(report), sources_grid(report)):
            if grid is not None:
                c.print()
                c.print(grid)
    c.print()
    c.print(settings_grid(report))
    for note in (*prediction.notes, *report.notes):
        c.print(f"note: {note}", style="yellow", markup=False)
