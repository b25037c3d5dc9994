"""``edgemem verify``: the per-part table, the settings and the one verdict (rich), or the JSON."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from edgemem.output import Output
from edgemem.units import format_bytes
from edgemem.verify.report import VerifyReport

STYLE = {"fits": "bold green", "over": "bold red", "partial": "bold yellow", "unknown": "bold yellow"}
NAMES = {"runtime_baseline": "runtime baseline", "weights": "weights", "session_overhead": "session overhead",
         "activations": "activations + scratch", "io_buffers": "I/O buffers"}


def size(value) -> str:
    return "unknown" if value is None else format_bytes(value)


def parts_table(report: VerifyReport) -> Table:
    table = Table(title=f"predicted and measured ({report.measurement.repeats if report.measurement else 0} fresh processes)")
    for column in ("part", "predicted", "measured median", "spread", "gap", "measured by / why the gap"):
        table.add_column(column, justify="right" if column in ("predicted", "measured median", "spread", "gap") else "left")
    for row in report.comparisons:
        gap = "" if row.gap is None else f"{row.gap * 100:+.1f}%"
        why = row.reason or row.measured_source
        table.add_row(NAMES[row.part], size(row.predicted_bytes), size(row.measured_median_bytes),
                      size(row.measured_spread_bytes), gap, why)
    return table


def settings_table(report: VerifyReport) -> Table:
    table = Table(title=f"{report.backend} settings verify applied")
    table.add_column("setting")
    table.add_column("value")
    table.add_column("why")
    for s in report.prediction.settings:
        table.add_row(s.name, s.value, s.reason)
    return table


def render_verify(report: VerifyReport, out: Output) -> None:
    if out.json_mode:
        out.emit_json(report.to_json())
        return
    c = out.console
    prediction = report.prediction
    c.print(f"edgemem verify {report.model} on {report.host} ({report.backend}): order {prediction.order_source}, "
            f"{len(prediction.order)} steps", markup=False)
    c.print(f"theoretical activations (edgemem's plan, stored order) {size(report.theoretical_bytes)}; runtime-aware "
            f"{size(prediction.run_bytes)}; predicted process peak {size(prediction.peak_bytes)}", markup=False)
    c.print(settings_table(report))
    if report.measurement is not None:
        c.print(parts_table(report))
        peak = report.measurement.summary.get("process_peak") or {}
        c.print(f"process peak: measured {size(peak.get('median_bytes'))} ({peak.get('source', 'unknown')}), "
                f"predicted {size(prediction.peak_bytes)}", markup=False)
    for note in (*prediction.notes, *report.notes):
        c.print(f"note: {note}", markup=False)
    check = report.measured_check or report.predicted_check
    c.print(Text(f"{report.verdict.status.upper()}: {report.verdict.reason}", style=STYLE[report.verdict.status]))
    c.print(f"budget {size(check.budget_bytes)} ({check.scope.value})", markup=False)
