"""Terminal rendering of a MemoryReport (rich tables)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from edgemem.memory.report import MemoryReport, OrderReport
from edgemem.output import Output
from edgemem.output.budget import budget_line
from edgemem.units import format_bytes


def render_memory_report(report: MemoryReport, out: Output) -> None:
    c = out.console
    c.print(Text.assemble(("edgemem analyze ", "bold"), (report.model, "bold cyan"),
                          f"  opset {report.opset}, {report.nodes} nodes, {report.buffers} buffers"))
    c.print(f"convention: {report.convention.description}")
    sources = ", ".join(f"{n} {s}" for s, n in sorted(report.size_sources.items(), key=lambda kv: -kv[1]))
    c.print(f"tensor sizes from: {sources}")
    for note in report.notes:
        c.print(f"note: {note}", style="yellow")
    c.print(
        f"weights {format_bytes(report.weights_bytes)} (separate) | activations without reuse "
        f"{format_bytes(report.activations_total_bytes)} | largest single-node working set "
        f"{format_bytes(report.lower_bound_bytes)} | order lower bound {format_bytes(report.order_lower_bound_bytes)}"
    )
    c.print(orders_table(report))
    shown: dict[tuple, str] = {}
    for order in report.orders:
        key = (order.peak_step, order.peak_node, order.peak_tensors)
        if key in shown:
            c.print(f"{order.name}: same peak step and buffers as {shown[key]}")
            continue
        shown[key] = order.name
        c.print(peak_table(order))
    render_capabilities(report, out)
    c.print(verdict_text(report))


def orders_table(report: MemoryReport) -> Table:
    table = Table(title="peak activation memory per execution order", title_justify="left")
    for name, justify in [("order", "left"), ("peak", "right"), ("arena", "right"), ("frag.", "right"),
                          ("vs stored", "right"), ("peak at step / node", "left"), ("optimality", "left"), ("search", "right")]:
        table.add_column(name, justify=justify)
    stored = next((o.peak_bytes for o in report.orders if o.name == "stored"), None)
    for o in report.orders:
        vs = f"{(o.peak_bytes / stored - 1) * 100:+.1f}%" if stored else "-"
        best = " *" if o is report.best else ""
        table.add_row(
            o.name + best,
            format_bytes(o.peak_bytes),
            format_bytes(o.arena_bytes),
            f"{o.fragmentation * 100:.1f}%",
            vs,
            f"{o.peak_step} {o.peak_node} ({o.peak_op})",
            optimality_text(o, report),
            f"{o.search_s:.2f} s",
        )
    table.caption = "* best plan (smallest arena). frag. = arena over the padded live-set peak of that order."
    return table


def optimality_text(o: OrderReport, report: MemoryReport) -> str:
    if o.proved_optimal:
        return "proved optimal"
    optimum = min((p.peak_bytes for p in report.orders if p.proved_optimal), default=None)
    if optimum:
        return f"{(o.peak_bytes / optimum - 1) * 100:.1f}% above the optimum"
    prefix = "best found, " if o.name == "optimal" else ""
    return f"{prefix}lower bound {format_bytes(o.lower_bound_bytes)}, gap {o.gap * 100:.1f}%"


def peak_table(o: OrderReport) -> Table:
    table = Table(title=f"{o.name}: largest buffers live at step {o.peak_step} ({o.peak_node})", title_justify="left")
    table.add_column("buffer")
    table.add_column("size", justify="right")
    table.add_column("share", justify="right")
    table.add_column("allocated by")
    for t in o.peak_tensors:
        by = f"{t.producer} ({t.op_type})" if t.producer else "graph input"
        extra = f" (+{t.tensors - 1} sharing)" if t.tensors > 1 else ""
        table.add_row(t.name + extra, format_bytes(t.size_bytes), f"{t.size_bytes / o.peak_bytes * 100:.0f}%" if o.peak_bytes else "-", by)
    return table


def verdict_text(report: MemoryReport) -> Text:
    best = report.best
    text = Text.assemble(("best: ", "bold"), f"{best.name} order, peak {format_bytes(best.peak_bytes)}, arena {format_bytes(best.arena_bytes)} ({best.arena_bytes:,} bytes)")
    if report.budget is not None:
        text.append("\n")
        text.append_text(budget_line(report.budget))
    return text


def render_capabilities(report: MemoryReport, out: Output) -> None:
    """Opt-in in-place rules compared, the written order and ONNX Runtime's measured peaks."""
    c = out.console
    if report.capabilities:
        table = Table(title="in-place capabilities (opt-in rules a kernel library must support): best plan with each", title_justify="left")
        for name, justify in [("rules", "left"), ("nodes", "right"), ("peak", "right"), ("arena", "right"), ("vs safe rules only", "right")]:
            table.add_column(name, justify=justify)
        for row in report.capabilities:
            label = "+ " + " + ".join(row.rules) if row.rules else "safe rules only"
            change = "-" if not row.rules else (
                f"saves {format_bytes(row.saving_bytes)}" if row.saving_bytes >= 0 else f"costs {format_bytes(-row.saving_bytes)}")
            table.add_row(label, str(row.nodes), format_bytes(row.peak_bytes), format_bytes(row.arena_bytes), change)
        c.print(table)
    if report.written_order:
        c.print(f"model with its nodes in the {report.best.name} order written to {report.written_order}", markup=False)
    if report.ort_peaks:
        by = {(p.model, p.execution_order): p for p in report.ort_peaks}
        for order, label in (("file", "in file order"), ("default", "in its own default order")):
            if ("original", order) in by and ("reordered", order) in by:
                a, b = by[("original", order)], by[("reordered", order)]
                c.print(f"ONNX Runtime, measured {label}: original {format_bytes(a.requested_peak_bytes)}, "
                        f"reordered {format_bytes(b.requested_peak_bytes)} (CPU arena bytes in use at the peak)", markup=False)
