"""Terminal rendering for ``edgemem bench``: one run, a fleet, the history, and live progress."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

from rich.table import Table
from rich.text import Text

from edgemem.bench.report import DeviceReport, FleetReport
from edgemem.bench.verdict import Verdict
from edgemem.output import Output
from edgemem.output.budget import budget_line
from edgemem.units import format_bytes

# what counted against a bench budget, per scope
COUNTED = {"activations": "measured activations", "weights": "measured weights", "model": "weights + activations",
           "process": "process peak"}

PARTS = (("runtime_baseline", "runtime baseline"), ("weights", "weights"), ("activations", "activations"),
         ("process_peak", "process peak"), ("load_peak", "load peak (transient)"),
         ("system_peak_delta", "system-wide delta"))


def ms(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def render_report(device: DeviceReport, out: Output) -> None:
    """One run: device, latency, memory split, prediction next to measurement, budget verdict."""
    r, v, saved_to = device.result.to_json(), device.verdict, device.saved_to
    c = out.console
    status = Text(r["status"].upper(), style="bold green" if r["status"] == "ok" else "bold red")
    c.print(Text.assemble(("edgemem bench ", "bold"), (r["model"]["name"], "bold cyan"), f" on {r['host']} ",
                          f"({r['backend']}, {r['precision']})  run {r['run_id']}  ", status))
    c.print(device_line(r))
    if r.get("error"):
        e = r["error"]
        c.print(f"error: {e.get('code')} in {e.get('stage') or '-'}: {e.get('message')}", style="red", markup=False)
    if r.get("build"):
        b = r["build"]
        c.print(f"build: {'cached engine' if b['cached'] else 'built'}"
                + (f" in {b['seconds']:.1f} s" if b.get("seconds") is not None else "")
                + (f", engine {format_bytes(b['engine_bytes'])}" if b.get("engine_bytes") else "")
                + (f", build process peak {format_bytes(b['process_peak_bytes'])}" if b.get("process_peak_bytes") else ""))
    c.print(latency_table(r))
    c.print(memory_table(r))
    if v is not None:
        c.print(prediction_text(v))
        if v.budget is not None:
            c.print(budget_line(v.budget, COUNTED[v.budget.scope]))
    for warning in r.get("warnings") or []:
        c.print(f"warning: {warning}", style="yellow", markup=False)
    for note in (r.get("memory") or {}).get("notes") or []:
        c.print(f"note: {note}", style="yellow", markup=False)
    if saved_to:
        c.print(f"saved to {saved_to}" + (f" (raw logs in {r['artifacts_dir']})" if r.get("artifacts_dir") else ""), markup=False)


def device_line(r: dict) -> str:
    d = r.get("device") or {}
    parts = [d.get("board") or d.get("machine") or "unknown board"]
    if d.get("l4t"):
        parts.append(f"L4T {d['l4t']}" + (f" (JetPack {d['jetpack']})" if d.get("jetpack") else ""))
    for key, label in (("cuda", "CUDA"), ("tensorrt", "TensorRT"), ("onnxruntime", "ONNX Runtime"), ("tvm", "TVM"), ("python", "Python")):
        if d.get(key):
            parts.append(f"{label} {d[key]}")
    if d.get("power_mode"):
        parts.append(f"power mode {d['power_mode']}" + (f" ({d['power_mode_id']})" if d.get("power_mode_id") is not None else ""))
    if d.get("ram_total_bytes"):
        parts.append(f"RAM {format_bytes(d['ram_total_bytes'])}")
    parts.append("root" if d.get("root") else "not root")
    return "device: " + " | ".join(parts)


def latency_table(r: dict) -> Table:
    table = Table(title="latency (ms)", title_justify="left")
    for name in ("what", "runs", "median", "p90", "p95", "p99", "min", "max", "CV", "qps", "how timed"):
        table.add_column(name, justify="left" if name in ("what", "how timed") else "right")
    for label, stats in (("latency", r.get("latency")), ("GPU compute", r.get("gpu_compute"))):
        if not stats:
            continue
        table.add_row(label, str(stats.get("runs") or "-"), ms(stats["median_ms"]), ms(stats.get("p90_ms")), ms(stats.get("p95_ms")),
                      ms(stats.get("p99_ms")), ms(stats["min_ms"]), ms(stats["max_ms"]),
                      "-" if stats.get("cv_pct") is None else f"{stats['cv_pct']:.1f}%",
                      "-" if stats.get("throughput_qps") is None else f"{stats['throughput_qps']:.1f}", stats["source"])
    if not table.rows:
        table.add_row("latency", "-", "-", "-", "-", "-", "-", "-", "-", "-", "not measured")
    return table


def memory_table(r: dict) -> Table:
    memory = r.get("memory") or {}
    table = Table(title="peak memory of the fresh load-and-run process", title_justify="left")
    table.add_column("part")
    table.add_column("size", justify="right")
    table.add_column("how it was measured")
    for key, label in PARTS:
        part = memory.get(key)
        if part:
            table.add_row(label, format_bytes(part["value_bytes"]), part["method"])
    for key, value in sorted((memory.get("backend_reported") or {}).items()):
        if isinstance(value, int) and not isinstance(value, bool) and key.endswith("_bytes"):
            table.add_row(f"TensorRT {key.removesuffix('_bytes').replace('_', ' ')}", format_bytes(value), "from the TensorRT log")
    if memory.get("samples"):
        table.caption = f"{memory['samples']} /proc samples every {memory.get('sample_interval_ms')} ms"
    return table


def prediction_text(v: Verdict) -> Text:
    if v.predicted_activation_bytes is None:
        return Text(f"prediction: none ({v.prediction_note or 'not requested'})", style="yellow")
    ratio = "-" if v.ratio is None else f"{v.ratio:.2f}x"
    return Text.assemble(
        ("prediction vs measurement: ", "bold"),
        f"analyzer activation arena {format_bytes(v.predicted_activation_bytes)} "
        f"(live-set peak {format_bytes(v.predicted_peak_bytes)}, {v.prediction_precision or 'as stored'}), "
        f"measured activations {format_bytes(v.measured_activation_bytes)}, measured/predicted {ratio}")


def render_fleet(fleet: FleetReport, out: Output) -> None:
    """One line per device: a result or the one-line reason it has none."""
    table = Table(title="edgemem bench: fleet", title_justify="left")
    for name in ("device", "board", "status", "median ms", "p99 ms", "process peak", "activations", "predicted", "ratio",
                 "budget", "note"):
        table.add_column(name, justify="right" if name in ("median ms", "p99 ms", "process peak", "activations",
                                                           "predicted", "ratio") else "left", no_wrap=name == "device")
    for device in fleet.devices:
        if device.result is None:
            table.add_row(device.name, "-", Text("FAILED", style="red"), "-", "-", "-", "-", "-", "-", "-", device.error)
            continue
        r, v = device.result.to_json(), device.verdict
        latency, memory = r.get("latency") or {}, r.get("memory") or {}
        status = Text(r["status"], style="green" if r["status"] == "ok" else "red")
        table.add_row(device.name, (r.get("device") or {}).get("board") or "-", status, ms(latency.get("median_ms")),
                      ms(latency.get("p99_ms")), format_bytes((memory.get("process_peak") or {}).get("value_bytes")),
                      format_bytes((memory.get("activations") or {}).get("value_bytes")),
                      format_bytes(v.predicted_activation_bytes if v else None),
                      "-" if v is None or v.ratio is None else f"{v.ratio:.2f}x",
                      v.budget.verdict if v is not None and v.budget is not None else "-",
                      (r.get("error") or {}).get("message", "") if r.get("error") else (device.saved_to or ""))
    out.console.print(table)


def render_history(rows: list, out: Output, skipped: list[str]) -> None:
    table = Table(title="edgemem bench: history", title_justify="left")
    for name in ("started (UTC)", "host", "model", "backend", "status", "median ms", "p99 ms", "process peak",
                 "activations", "ratio", "budget"):
        table.add_column(name, justify="right" if name in ("median ms", "p99 ms", "process peak", "activations", "ratio") else "left",
                         overflow="fold", no_wrap=name in ("host", "model"))
    for row in rows:
        change = lambda value: "" if value is None else f" ({value:+.1f}%)"
        table.add_row(row.started_utc or "-", row.host, row.model, f"{row.backend} {row.precision}", row.status,
                      ms(row.median_ms) + change(row.median_change_pct), ms(row.p99_ms),
                      format_bytes(row.process_peak_bytes) + change(row.peak_change_pct), format_bytes(row.activation_bytes),
                      "-" if row.ratio is None else f"{row.ratio:.2f}x", row.verdict or "-")
    table.caption = ("(+x%): change against the previous successful run of the same host, model, backend and precision; "
                     "ratio: measured / predicted activations")
    out.console.print(table)
    for line in skipped:
        out.info(f"skipped {line}")


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
