"""``edgemem verify --report FILE.html``: one self-contained page (inline SVG, no script, no CDN).

Four pictures from the report: the predicted timeline (arena bytes in use after each kernel), the
arena (regions the runtime reserves against what one run really writes), the measured memory
trace of one process (sampled RSS), and the latency histogram; then the per-part table.
"""

from __future__ import annotations

import html
from pathlib import Path

from edgemem.units import format_bytes
from edgemem.verify.report import VerifyReport

W, H, PAD = 720, 220, 40


def _scale(values: list[float], top: float | None = None) -> tuple[float, float]:
    low = 0.0
    high = top if top is not None else max(values or [1.0])
    return low, (high if high > low else low + 1.0)


def polyline(points: list[tuple[float, float]], title: str, x_label: str, y_label: str) -> str:
    if not points:
        return f"<p>{html.escape(title)}: nothing to draw.</p>"
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    _, y1 = _scale(ys)
    coords = " ".join(f"{PAD + (x - x0) / (x1 - x0) * (W - 2 * PAD):.1f},{H - PAD - y / y1 * (H - 2 * PAD):.1f}"
                      for x, y in points)
    return (f'<figure><figcaption>{html.escape(title)}</figcaption><svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
            f'role="img"><rect x="0" y="0" width="{W}" height="{H}" fill="#fff" stroke="#ccc"/>'
            f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{coords}"/>'
            f'<text x="{PAD}" y="{PAD - 10}" font-size="11">{html.escape(y_label)}: max {html.escape(format_bytes(int(y1)))}</text>'
            f'<text x="{W - PAD}" y="{H - 8}" font-size="11" text-anchor="end">{html.escape(x_label)}</text></svg></figure>')


def bars(values: list[tuple[str, float, str]], title: str) -> str:
    """Horizontal bars: (label, value, colour)."""
    if not values:
        return f"<p>{html.escape(title)}: nothing to draw.</p>"
    top = max(v for _, v, _ in values) or 1.0
    rows, height = [], 24 * len(values) + 20
    for i, (label, value, colour) in enumerate(values):
        width = value / top * (W - 260)
        rows.append(f'<text x="4" y="{20 + 24 * i}" font-size="11">{html.escape(label)}</text>'
                    f'<rect x="200" y="{8 + 24 * i}" width="{width:.1f}" height="16" fill="{colour}"/>'
                    f'<text x="{204 + width:.1f}" y="{20 + 24 * i}" font-size="11">{html.escape(format_bytes(int(value)))}</text>')
    return (f'<figure><figcaption>{html.escape(title)}</figcaption><svg viewBox="0 0 {W} {height}" width="{W}" '
            f'height="{height}" role="img">{"".join(rows)}</svg></figure>')


def histogram(latencies: list[float], title: str, buckets: int = 20) -> str:
    if not latencies:
        return f"<p>{html.escape(title)}: no timed runs.</p>"
    low, high = min(latencies), max(latencies)
    step = (high - low) / buckets or 1.0
    counts = [0] * buckets
    for value in latencies:
        counts[min(buckets - 1, int((value - low) / step))] += 1
    top, width = max(counts), (W - 2 * PAD) / buckets
    rects = "".join(f'<rect x="{PAD + i * width:.1f}" y="{H - PAD - c / top * (H - 2 * PAD):.1f}" width="{width - 2:.1f}" '
                    f'height="{c / top * (H - 2 * PAD):.1f}" fill="#8957e5"/>' for i, c in enumerate(counts))
    return (f'<figure><figcaption>{html.escape(title)}</figcaption><svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
            f'role="img">{rects}<text x="{PAD}" y="{H - 8}" font-size="11">{low:.3f} ms</text>'
            f'<text x="{W - PAD}" y="{H - 8}" font-size="11" text-anchor="end">{high:.3f} ms</text></svg></figure>')


def parts_html(report: VerifyReport) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r.part)}</td><td>{html.escape(format_bytes(r.predicted_bytes) if r.predicted_bytes is not None else 'unknown')}</td>"
        f"<td>{html.escape(format_bytes(r.measured_median_bytes) if r.measured_median_bytes is not None else 'unknown')}</td>"
        f"<td>{'' if r.gap is None else f'{r.gap * 100:+.1f}%'}</td><td>{html.escape(r.reason or r.measured_source)}</td></tr>"
        for r in report.comparisons)
    return ("<table><tr><th>part</th><th>predicted</th><th>measured median</th><th>gap</th><th>source / reason</th></tr>"
            f"{rows}</table>")


def arena_bars(report: VerifyReport) -> list[tuple[str, float, str]]:
    details = report.prediction.details
    values = [("theoretical (edgemem plan)", report.theoretical_bytes, "#7d8590")]
    for label, key, colour in (("arena regions reserved", "arena_reserved_bytes", "#d29922"),
                               ("peak of chunks in use", "arena_peak_in_use_bytes", "#bf8700"),
                               ("pages written (resident)", "arena_resident_bytes", "#1f6feb"),
                               ("storages created (TVM)", "storage_bytes_created", "#d29922"),
                               ("workspace pool peak (TVM)", "workspace_peak_bytes", "#bf8700")):
        if details.get(key):
            values.append((label, details[key], colour))
    if report.measurement is not None:
        measured = (report.measurement.summary.get("activations") or {}).get("median_bytes")
        if measured is not None:
            values.append(("measured activations + scratch", measured, "#2da44e"))
    return values


def write_report(report: VerifyReport, path: str | Path) -> Path:
    steps = report.prediction.details.get("in_use_per_step") or []
    trace = report.measurement.trace if report.measurement is not None else ()
    body = [
        f"<h1>edgemem verify: {html.escape(report.model)} ({html.escape(report.backend)}, {html.escape(report.host)})</h1>",
        f"<p class=verdict>{html.escape(report.verdict.status.upper())}: {html.escape(report.verdict.reason)}</p>",
        polyline([(i, v) for i, v in enumerate(steps)], "predicted timeline: arena bytes in use after each kernel",
                 "kernel", "in use"),
        bars(arena_bars(report), "the arena: reserved, in use, written, measured"),
        polyline([(t, rss + (gpu or 0)) for t, rss, gpu in trace if rss is not None],
                 "measured memory trace of the first process (VmRSS, plus its nvmap GPU memory where readable), "
                 "sampled by the agent", "seconds", "memory"),
        histogram(list(report.measurement.latencies_ms) if report.measurement is not None else [],
                  "latency histogram (all timed runs of all processes)"),
        parts_html(report),
    ]
    page = ("<!doctype html><html><head><meta charset=utf-8><title>edgemem verify</title><style>"
            "body{font-family:sans-serif;max-width:780px;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}.verdict{font-weight:bold}</style></head><body>"
            + "".join(body) + "</body></html>")
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path
