"""Terminal rendering for ``edgemem bench``: one run, a fleet, the history, and live progress."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Iterator

from rich.text import Text

from edgemem.bench.compare import HistoryRow
from edgemem.bench.report import DeviceReport, FleetReport
from edgemem.bench.result import BenchResult, BuildInfo, DeviceInfo, MemoryBreakdown
from edgemem.bench.verdict import Verdict
from edgemem.output import Output
from edgemem.output.budget import budget_amount, budget_line
from edgemem.output.grid import NAME, NUMBER, PROSE, Col, Grid
from edgemem.units import format_bytes

# what counted against a bench budget, per scope
COUNTED = {"activations": "measured activations", "weights": "measured weights", "model": "weights + activations",
           "process": "process peak"}

PARTS = (("runtime_baseline", "runtime baseline"), ("weights", "weights"), ("activations", "activations"),
         ("process_peak", "process peak"), ("load_peak", "load peak (transient)"),
         ("system_peak_delta", "system-wide delta"))


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render_report(device: DeviceReport, out: Output) -> None:
    """One run: the verdict first (status, budget, prediction next to measurement), then what it rests on."""
    r, v, c = device.result, device.verdict, out.console
    status = Text(r.status.upper(), style="bold green" if r.ok else "bold red")
    c.print(Text.assemble(("edgemem bench ", "bold"), (r.model.get("name", "?"), "bold cyan"),
                          f" on {r.host} ({r.backend}, {r.precision}): ", status))
    if r.error:
        c.print(f"error: {r.error.get('code')} in {r.error.get('stage') or '-'}: {r.error.get('message')}",
                style="red", markup=False)
    if v is not None and v.budget is not None:
        c.print(budget_line(v.budget, COUNTED[v.budget.scope]))
    if v is not None:
        c.print(prediction_text(v))
    c.print(device_line(r.device), markup=False)
    if r.build is not None:
        c.print(build_line(r.build), markup=False)
    c.print()
    c.print(latency_table(r))
    c.print()
    c.print(memory_table(r.memory))
    reported = reported_table(r.memory)
    if reported is not None:
        c.print()
        c.print(reported)
    for warning in r.warnings:
        c.print(f"warning: {warning}", style="yellow", markup=False)
    for note in r.memory.notes:
        c.print(f"note: {note}", style="yellow", markup=False)
    if device.saved_to:
        c.print(f"run {r.run_id} saved to {device.saved_to}" + (f" (raw logs in {r.artifacts_dir})" if r.artifacts_dir else ""),
                markup=False)


def device_line(d: DeviceInfo) -> str:
    parts = [d.board or d.machine or "unknown board"]
    if d.l4t:
        parts.append(f"L4T {d.l4t}" + (f" (JetPack {d.jetpack})" if d.jetpack else ""))
    for value, label in ((d.cuda, "CUDA"), (d.tensorrt, "TensorRT"), (d.onnxruntime, "ONNX Runtime"), (d.tvm, "TVM"),
                         (d.python, "Python")):
        if value:
            parts.append(f"{label} {value}")
    if d.power_mode:
        parts.append(f"power mode {d.power_mode}" + (f" ({d.power_mode_id})" if d.power_mode_id is not None else ""))
    if d.ram_total_bytes:
        parts.append(f"RAM {format_bytes(d.ram_total_bytes)}")
    parts.append("root" if d.root else "not root")
    return "device: " + " | ".join(parts)


def build_line(b: BuildInfo) -> str:
    return (f"build: {'cached engine' if b.cached else 'built'}"
            + (f" in {b.seconds:.1f} s" if b.seconds is not None else "")
            + (f", engine {format_bytes(b.engine_bytes)}" if b.engine_bytes else "")
            + (f", build process peak {format_bytes(b.process_peak_bytes)}" if b.process_peak_bytes else ""))


def latency_table(r: BenchResult) -> Grid:
    grid = Grid([Col("what"), Col("runs", NUMBER), *(Col(name, NUMBER) for name in ("median", "p90", "p95", "p99", "min", "max")),
                 Col("CV", NUMBER)], title="latency (ms)")
    timed = [(label, stats) for label, stats in (("latency", r.latency), ("GPU compute", r.gpu_compute)) if stats]
    for label, s in timed:
        grid.add_row(label + (" (partial)" if s.partial else ""), str(s.runs or "-"), *(ms(x) for x in (s.median_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.min_ms, s.max_ms)),
                     "-" if s.cv_pct is None else f"{s.cv_pct:.1f}%")
    if not timed:
        grid.add_row("latency", *["-"] * 8)
    grid.caption = "; ".join(f"{label}: {s.source}" + ("" if s.throughput_qps is None else f", {s.throughput_qps:.1f} qps")
                             for label, s in timed) or "not measured"
    if any(s.partial for _, s in timed):
        grid.caption += "; partial: the run stopped early, these are the runs measured before it stopped"
    return grid


def memory_table(memory: MemoryBreakdown) -> Grid:
    grid = Grid([Col("part"), Col("size", NUMBER), Col("how it was measured", PROSE)],
                title="peak memory of the fresh load-and-run process")
    for key, label in PARTS:
        part = getattr(memory, key)
        if part:
            grid.add_row(label, format_bytes(part.value_bytes), part.method)
    if memory.samples:
        grid.caption = f"{memory.samples} /proc samples every {memory.sample_interval_ms} ms"
    return grid


def reported_table(memory: MemoryBreakdown) -> Grid | None:
    """The sizes the runtime printed itself (TensorRT's build log), or None."""
    sizes = [(key.removesuffix("_bytes").replace("_", " "), value) for key, value in sorted(memory.backend_reported.items())
             if isinstance(value, int) and not isinstance(value, bool) and key.endswith("_bytes")]
    if not sizes:
        return None
    grid = Grid([Col("figure"), Col("size", NUMBER)], title="TensorRT's own figures (from its log)")
    for label, value in sizes:
        grid.add_row(label, format_bytes(value))
    return grid


def prediction_text(v: Verdict) -> Text:
    if v.predicted_activation_bytes is None:
        return Text(f"prediction: none ({v.prediction_note or 'not requested'})", style="yellow")
    ratio = "-" if v.ratio is None else f"{v.ratio:.2f}x"
    return Text.assemble(
        ("prediction vs measurement: ", "bold"),
        f"measured activations {format_bytes(v.measured_activation_bytes)} = {ratio} the analyzer's arena "
        f"{format_bytes(v.predicted_activation_bytes)} (live-set peak {format_bytes(v.predicted_peak_bytes)}, "
        f"{v.prediction_precision or 'as stored'})")


def fleet_verdict(fleet: FleetReport) -> str:
    """``3 devices: 2 measured, 1 failed; budget: 1 fits, 1 over``."""
    devices = fleet.devices
    line = f"{len(devices)} device(s): {len(devices) - len(fleet.failed)} measured, {len(fleet.failed)} failed"
    checks = [d.verdict.budget for d in devices if d.verdict is not None and d.verdict.budget is not None]
    if checks:
        counts = {word: sum(c.verdict == word for c in checks) for word in ("fits", "over", "unknown")}
        line += f"; budget {budget_amount(checks[0].budget_bytes)}: " + ", ".join(f"{n} {w}" for w, n in counts.items() if n)
    return line


def render_fleet(fleet: FleetReport, out: Output) -> None:
    """The fleet's verdict, one row per device, then each failure's one-line reason."""
    c = out.console
    c.print(Text("edgemem bench: fleet", style="bold"))
    c.print(fleet_verdict(fleet), markup=False)
    grid = Grid([Col("device", NAME), Col("board", NAME), Col("status"), Col("median ms", NUMBER),
                 Col("process peak", NUMBER), Col("budget")],
                caption="measured activations, the prediction and p99: each device's result file or --json")
    for device in fleet.devices:
        r, v = device.result, device.verdict
        if r is None:
            grid.add_row(device.name, "-", Text("FAILED", style="red"), "-", "-", "-")
            continue
        grid.add_row(device.name, r.device.board or r.device.machine or "-", Text(r.status, style="green" if r.ok else "red"),
                     ms(r.latency.median_ms if r.latency else None), format_bytes(r.memory.process_peak.value_bytes),
                     v.budget.verdict if v is not None and v.budget is not None else "-")
    c.print(grid)
    for device in fleet.devices:
        reason = device.error or (device.result.error or {}).get("message") if device.failed else None
        if reason:
            c.print(f"{device.name}: {reason}", style="red", markup=False)
    folders = sorted({str(Path(d.saved_to).parent) for d in fleet.devices if d.saved_to})
    if folders:
        c.print(f"results saved to {', '.join(folders)}", markup=False)


def render_history(rows: list[HistoryRow], out: Output, skipped: list[str]) -> None:
    """Runs grouped by setup (host, model, backend, precision), oldest first, each against the one before."""
    c = out.console
    c.print(Text("edgemem bench: history", style="bold"))
    groups: dict[tuple, list[HistoryRow]] = {}
    for row in rows:
        groups.setdefault((row.host, row.model, row.model_sha256, row.backend, row.precision), []).append(row)
    for (host, model, _, backend, precision), runs in groups.items():
        grid = Grid([Col("started (UTC)"), Col("status"), Col("median ms", NUMBER), Col("change", NUMBER),
                     Col("process peak", NUMBER), Col("change", NUMBER), Col("budget")],
                    title=f"{model} on {host} ({backend}, {precision})")
        for run in runs:
            grid.add_row(started(run.started_utc), run.status, ms(run.median_ms), change(run.median_change_pct),
                         format_bytes(run.process_peak_bytes), change(run.peak_change_pct), run.verdict or "-")
        c.print()
        c.print(grid)
    if rows:
        c.print(Text("change: against the previous successful run of the same setup; p99, activations and "
                     "measured/predicted: --json", style="dim"))
    else:
        c.print("no stored results", markup=False)
    for line in skipped:
        out.info(f"skipped {line}")


def started(utc: str | None) -> str:
    """``2026-12-03T10:54:58Z`` as ``2026-12-03 10:54``."""
    return "-" if not utc else utc.replace("T", " ")[:16]


def change(percent: float | None) -> str:
    return "" if percent is None else f"{percent:+.1f}%"


@contextlib.contextmanager
def bench_progress(out: Output) -> Iterator:
    """A spinner line on stderr with each device's latest stage and phase (silent when not a terminal)."""
    if not out.interactive:
        yield lambda host, document: None
        return
    latest: dict[str, str] = {}
    lock = threading.Lock()
    start = time.monotonic()
    with out.err.status("connecting") as status:
        def update(host: str, document: dict) -> None:
            with lock:
                latest[host] = f"{document.get('stage')} {document.get('phase') or ''}".strip()
                status.update(f"{time.monotonic() - start:5.1f} s  " + " | ".join(f"{h}: {s}" for h, s in latest.items()))

        yield update
