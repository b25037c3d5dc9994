"""Terminal rendering of a MemoryReport: the verdict first, then what it rests on, in 80 columns."""

from __future__ import annotations

from rich.text import Text

from edgemem.memory.report import MemoryReport, OrderReport
from edgemem.output import Output
from edgemem.output.budget import budget_line
from edgemem.output.grid import NAME, NUMBER, Col, Grid, Name
from edgemem.units import format_bytes


def render_memory_report(report: MemoryReport, out: Output) -> None:
    c = out.console
    c.print(Text.assemble(("edgemem analyze ", "bold"), (report.model, "bold cyan"),
                          f": opset {report.opset}, {report.nodes} nodes, {report.buffers} buffers"))
    c.print(verdict_text(report))
    for note in report.notes:
        c.print(f"note: {note}", style="yellow", markup=False)
    c.print(f"weights {format_bytes(report.weights_bytes)} (not in the arena); activations without reuse "
            f"{format_bytes(report.activations_total_bytes)}")
    c.print(f"lower bounds: largest single-node working set {format_bytes(report.lower_bound_bytes)}, "
            f"any order {format_bytes(report.order_lower_bound_bytes)}")
    sources = ", ".join(f"{n} {s}" for s, n in sorted(report.size_sources.items(), key=lambda kv: -kv[1]))
    c.print(f"tensor sizes from: {sources}")
    c.print(f"convention: {report.convention.description}", markup=False)
    c.print()
    c.print(orders_table(report))
    shown: dict[tuple, str] = {}
    for order in report.orders:
        key = (order.peak_step, order.peak_node, order.peak_tensors)
        if key in shown:
            c.print(f"{order.name}: same peak step and buffers as {shown[key]}", markup=False)
            continue
        shown[key] = order.name
        c.print()
        c.print(peak_table(order))
    render_capabilities(report, out)


def verdict_text(report: MemoryReport) -> Text:
    """``best: greedy order, peak ..., arena ...`` and, with a budget, whether it fits."""
    best = report.best
    text = Text.assemble(("best: ", "bold"), f"{best.name} order, peak {format_bytes(best.peak_bytes)}, "
                                             f"arena {format_bytes(best.arena_bytes)} ({best.arena_bytes:,} bytes)")
    if report.budget is not None:
        text.append("\n")
        text.append_text(budget_line(report.budget))
    return text


def orders_table(report: MemoryReport) -> Grid:
    grid = Grid([Col("order"), Col("peak", NUMBER), Col("arena", NUMBER), Col("frag.", NUMBER),
                 Col("vs stored", NUMBER), Col("vs optimum")], title="peak activation memory per execution order")
    stored = next((o.peak_bytes for o in report.orders if o.name == "stored"), None)
    for o in report.orders:
        grid.add_row(o.name + (" *" if o is report.best else ""), format_bytes(o.peak_bytes), format_bytes(o.arena_bytes),
                     f"{o.fragmentation * 100:.1f}%", f"{(o.peak_bytes / stored - 1) * 100:+.1f}%" if stored else "-",
                     vs_optimum(o, report))
    unproved = any(distance_to_optimum(o, report)[0] == "at most" for o in report.orders)
    grid.caption = "; ".join((
        "* best plan (smallest arena)", "frag.: arena over the padded live-set peak",
        "vs optimum: peak above the proved optimum" + (
            " (<=: none proved, at most this far above it by the lower bound; gap in --json)" if unproved else ""),
        "search times: --json"))
    return grid


def distance_to_optimum(o: OrderReport, report: MemoryReport) -> tuple[str, float | None]:
    """("proved", None), ("above", % above a proved optimum), ("at most", % above the lower bound), ("unknown", None)."""
    if o.proved_optimal:
        return "proved", None
    optimum = min((p.peak_bytes for p in report.orders if p.proved_optimal), default=None)
    if optimum:
        return "above", (o.peak_bytes / optimum - 1) * 100
    if o.lower_bound_bytes:
        return "at most", (o.peak_bytes / o.lower_bound_bytes - 1) * 100
    return "unknown", None


def optimality_text(o: OrderReport, report: MemoryReport) -> str:
    """In words: ``proved optimal``, ``110.0% above the optimum``, ``at most 72.7% above the optimum (...)``."""
    kind, percent = distance_to_optimum(o, report)
    if kind == "proved":
        return "proved optimal"
    if kind == "above":
        return f"{percent:.1f}% above the optimum"
    if kind == "at most":
        return f"at most {percent:.1f}% above the optimum (lower bound {format_bytes(o.lower_bound_bytes)})"
    return "optimum unknown"


def vs_optimum(o: OrderReport, report: MemoryReport) -> str:
    """The same in a table cell: ``proved optimal``, ``+110.0%``, ``<= +72.7%``."""
    kind, percent = distance_to_optimum(o, report)
    if percent is None:
        return "proved optimal" if kind == "proved" else "unknown"
    return f"{percent:+.1f}%" if kind == "above" else f"<= {percent:+.1f}%"


def peak_table(o: OrderReport) -> Grid:
    grid = Grid([Col("buffer", NAME), Col("size", NUMBER), Col("share", NUMBER), Col("allocated by", NAME)],
                title=f"{o.name}: largest buffers live at step {o.peak_step} ({o.peak_node}, {o.peak_op})")
    shared = False
    for t in o.peak_tensors:
        by = Name(t.producer, f" ({t.op_type})") if t.producer else "graph input"
        shared = shared or t.tensors > 1
        grid.add_row(Name(t.name, f" (+{t.tensors - 1})" if t.tensors > 1 else ""), format_bytes(t.size_bytes),
                     f"{t.size_bytes / o.peak_bytes * 100:.0f}%" if o.peak_bytes else "-", by)
    if shared:
        grid.caption = "(+n): n more tensors share the buffer (views, in-place results)"
    return grid


def capabilities_table(report: MemoryReport) -> Grid:
    grid = Grid([Col("rules"), Col("nodes", NUMBER), Col("peak", NUMBER), Col("arena", NUMBER), Col("vs safe rules", NUMBER)],
                title="opt-in in-place rules (kernels must support them): the best plan with each")
    for row in report.capabilities:
        label = "+ " + " + ".join(row.rules) if row.rules else "safe rules only"
        change = "-" if not row.rules else (
            f"saves {format_bytes(row.saving_bytes)}" if row.saving_bytes >= 0 else f"costs {format_bytes(-row.saving_bytes)}")
        grid.add_row(label, str(row.nodes), format_bytes(row.peak_bytes), format_bytes(row.arena_bytes), change)
    return grid


def render_capabilities(report: MemoryReport, out: Output) -> None:
    """Opt-in in-place rules compared, the written order and ONNX Runtime's measured peaks."""
    c = out.console
    if report.capabilities:
        c.print()
        c.print(capabilities_table(report))
    if report.written_order:
        c.print(f"model with its nodes in the {report.best.name} order written to {report.written_order}", markup=False)
    if report.ort_peaks:
        by = {(p.model, p.execution_order): p for p in report.ort_peaks}
        for order, label in (("file", "in file order"), ("default", "in its own default order")):
            if ("original", order) in by and ("reordered", order) in by:
                a, b = by[("original", order)], by[("reordered", order)]
                c.print(f"ONNX Runtime, measured {label}: original {format_bytes(a.requested_peak_bytes)}, "
                        f"reordered {format_bytes(b.requested_peak_bytes)} (CPU arena bytes in use at the peak)", markup=False)
