"""Tooltips for the arena plot's SVG and the standalone HTML page around it.

matplotlib writes each buffer rectangle as ``<g id="buffer-N">``; here each gets its tooltip:
an SVG ``<title>`` in the .svg file (the browser's own tooltip), a ``data-tooltip`` attribute
shown by a small script in the .html page. The page's order table uses the terminal's words.
"""

from __future__ import annotations

import html
import re

from edgemem.memory.report import MemoryReport
from edgemem.output.analyze import optimality_text
from edgemem.units import format_bytes

BUFFER_GROUP = re.compile(r'<g id="buffer-(\d+)">')
XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)

STYLE = """body{font-family:sans-serif;margin:2em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}
#tooltip{position:absolute;display:none;max-width:40em;padding:4px 8px;background:#ffffe8;border:1px solid #888;
font-size:13px;pointer-events:none;white-space:normal;box-shadow:1px 1px 3px rgba(0,0,0,.3)}
g.buffer{cursor:default}
svg *{pointer-events:none}svg g.buffer,svg g.buffer *{pointer-events:auto}"""

SCRIPT = """(function () {
  var tip = document.getElementById("tooltip");
  function show(event) {
    tip.textContent = event.currentTarget.getAttribute("data-tooltip");
    tip.style.display = "block";
    tip.style.left = (event.pageX + 12) + "px";
    tip.style.top = (event.pageY + 12) + "px";
  }
  function hide() { tip.style.display = "none"; }
  document.querySelectorAll("g.buffer").forEach(function (g) {
    g.addEventListener("mouseenter", show);
    g.addEventListener("mousemove", show);
    g.addEventListener("mouseleave", hide);
  });
})();"""


def svg_with_tooltips(svg: str, boxes, titles: bool = True) -> str:
    """Each ``<g id="buffer-N">`` tagged with its box's tooltip (and an SVG <title> when ``titles``)."""

    def tag(match: re.Match) -> str:
        text = html.escape(boxes[int(match.group(1))].tooltip, quote=True)
        title = f"<title>{text}</title>" if titles else ""
        return f'<g id="buffer-{match.group(1)}" class="buffer" data-tooltip="{text}">{title}'

    return BUFFER_GROUP.sub(tag, svg)


def html_page(report: MemoryReport, svg: str, boxes) -> str:
    """A standalone page: the order table, then matplotlib's ``svg`` whose buffers show their tooltip on hover."""
    plain = svg_with_tooltips(XML_PROLOGUE.sub("", svg), boxes, titles=False)  # the script shows them, not the browser
    rows = "".join(
        f"<tr><td>{html.escape(o.name)}</td><td>{format_bytes(o.peak_bytes)}</td><td>{format_bytes(o.arena_bytes)}</td>"
        f"<td>{o.peak_step} {html.escape(o.peak_node)}</td><td>{html.escape(optimality_text(o, report))}</td></tr>"
        for o in report.orders
    )
    best = report.best
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>edgemem: "
        f"{html.escape(report.model)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(report.model)}</h1><p>{html.escape(report.convention.description)}</p>"
        "<table><tr><th>order</th><th>peak</th><th>arena</th><th>peak at step / node</th><th>optimality</th></tr>"
        f"{rows}</table><p>best: {html.escape(best.name)} order, arena {format_bytes(best.arena_bytes)}; "
        f"{len(boxes)} buffers: hover over a rectangle for its name, size, offsets and live steps.</p>"
        f"{plain}<div id='tooltip' role='tooltip'></div><script>{SCRIPT}</script></body></html>"
    )
