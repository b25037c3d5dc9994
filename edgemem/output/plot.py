"""Plots of a MemoryReport: the live-memory timeline of every order and the best arena's rectangles.

PNG and SVG come from matplotlib; HTML is a standalone page that embeds the SVG.
"""

from __future__ import annotations

import html
import io
import zlib
from pathlib import Path

from edgemem.errors import UsageError
from edgemem.memory.report import MemoryReport
from edgemem.units import format_bytes

FORMATS = (".png", ".svg", ".html")
MIB = 2**20


def write_plot(report: MemoryReport, path: str | Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"--plot {path}: unknown format {suffix or '(none)'}", hint="use a .png, .svg or .html file name")
    figure = draw(report)
    if suffix == ".html":
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight")
        path.write_text(html_page(report, buffer.getvalue()), encoding="utf-8")
    else:
        figure.savefig(path, dpi=130, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


def draw(report: MemoryReport):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(13, 8.5), gridspec_kw={"height_ratios": [1, 1.2]})
    styles = [("-", 2.2), ("--", 1.8), (":", 2.2)]
    for index, order in enumerate(report.orders):
        steps = range(len(order.profile_bytes))
        style, width = styles[index % len(styles)]
        top.step(steps, [b / MIB for b in order.profile_bytes], where="mid", linewidth=width, linestyle=style,
                 label=f"{order.name}: peak {format_bytes(order.peak_bytes)}")
    top.axhline(report.order_lower_bound_bytes / MIB, color="grey", linestyle=":", linewidth=1,
                label=f"order lower bound {format_bytes(report.order_lower_bound_bytes)}")
    if report.budget:
        top.axhline(report.budget.budget_bytes / MIB, color="red", linestyle="--", linewidth=1,
                    label=f"budget {format_bytes(report.budget.budget_bytes)}")
    top.set_title(f"{report.model}: live activation memory per step")
    top.set_xlabel("step (one node per step)")
    top.set_ylabel("live MiB")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    top.grid(alpha=0.3)

    best = report.best
    patches, colors = [], []
    for name, (offset, size, first, last) in best.offsets.items():
        if size == 0:
            continue
        patches.append(Rectangle((first - 0.45, offset / MIB), last - first + 0.9, size / MIB))
        colors.append(zlib.crc32(name.encode()) % 20)
    collection = PatchCollection(patches, cmap="tab20", edgecolor="black", linewidth=0.3, alpha=0.85)
    collection.set_array(colors)
    bottom.add_collection(collection)
    bottom.set_xlim(-1, max(1, len(best.profile_bytes)))
    bottom.set_ylim(0, max(best.arena_bytes, 1) / MIB * 1.05)
    bottom.axhline(best.arena_bytes / MIB, color="black", linewidth=1, label=f"arena {format_bytes(best.arena_bytes)}")
    bottom.axhline(best.arena_lower_bound_bytes / MIB, color="grey", linestyle=":", linewidth=1,
                   label=f"padded live peak {format_bytes(best.arena_lower_bound_bytes)}")
    bottom.set_title(f"arena of the best order ({best.name}, {best.placement}): one rectangle per buffer")
    bottom.set_xlabel("step")
    bottom.set_ylabel("offset (MiB)")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def html_page(report: MemoryReport, svg: str) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(o.name)}</td><td>{format_bytes(o.peak_bytes)}</td><td>{format_bytes(o.arena_bytes)}</td>"
        f"<td>{o.peak_step} {html.escape(o.peak_node)}</td><td>{'proved optimal' if o.proved_optimal else f'gap {o.gap * 100:.1f}%'}</td></tr>"
        for o in report.orders
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>edgemem: "
        f"{html.escape(report.model)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style></head><body>"
        f"<h1>{html.escape(report.model)}</h1><p>{html.escape(report.convention.description)}</p>"
        "<table><tr><th>order</th><th>peak</th><th>arena</th><th>peak at</th><th>optimality</th></tr>"
        f"{rows}</table>{svg}</body></html>"
    )
