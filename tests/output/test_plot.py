"""The arena plot: every buffer rectangle has a tooltip (SVG <title>; in the HTML page a hover box,
checked in a real headless Chromium), names where they fit, colours that touching rectangles never
share, the terminal's wording in the HTML, and x ticks of the distill plot at the points."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from edgemem.errors import UsageError
from edgemem.graph import load_graph
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.output.analyze import optimality_text
from edgemem.output.plot import HUES, assign_colours, buffer_boxes, draw, ticks_at_points, write_plot

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "models" / "branchy_cnn.onnx"
SVG = "{http://www.w3.org/2000/svg}"
CHROMIUM = next((c for c in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")) if c and Path(c).exists()), None)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1800,2400", "--virtual-time-budget=5000"]


@pytest.fixture(scope="module")
def report():
    return analyze(load_graph(EXAMPLE), AnalyzeOptions(time_limit_s=5.0))


def nonzero_buffers(report) -> dict:
    return {name: value for name, value in report.best.offsets.items() if value[1]}


def test_every_buffer_rectangle_of_the_svg_has_a_title_tooltip(report, tmp_path):
    path = write_plot(report, tmp_path / "arena.svg")
    groups = [g for g in ET.parse(path).getroot().iter(f"{SVG}g") if g.get("class") == "buffer"]
    buffers = nonzero_buffers(report)
    assert len(groups) == len(buffers) > 20
    for group in groups:
        title = group.find(f"{SVG}title")
        assert title is not None and title.text == group.get("data-tooltip")
        name = title.text.split(":")[0]
        offset, size, first, last = buffers[name]
        assert f"at offsets {offset:,}-{offset + size:,}" in title.text and f"{first}" in title.text
        assert group.find(f"{SVG}path") is not None  # the rectangle itself is inside the group


def test_large_rectangles_are_named_inside_them(report):
    boxes = buffer_boxes(report.best)
    figure = draw(report, boxes)
    labels = {t.get_text() for t in figure.axes[1].texts}
    largest = max(boxes, key=lambda b: b.size_bytes * (b.last_step - b.first_step + 1))
    assert largest.name in labels and len(labels) >= len(boxes) // 2


def touching(a, b) -> bool:
    return a[0] <= b[1] + 1 and b[0] <= a[1] + 1 and a[2] <= b[3] and b[2] <= a[3]


def test_touching_rectangles_never_share_a_hue():
    rng = np.random.default_rng(3)
    for _ in range(50):
        spans = []
        for _ in range(int(rng.integers(2, 60))):
            first = int(rng.integers(0, 30))
            start = int(rng.integers(0, 50))
            spans.append((first, first + int(rng.integers(0, 6)), start, start + int(rng.integers(1, 20))))
        spans.sort()
        colours = assign_colours(spans)
        for i, a in enumerate(spans):
            neighbours = [j for j, b in enumerate(spans) if j != i and touching(a, b)]
            if len(neighbours) < HUES:  # the palette has room: no neighbour shares the hue
                assert all(colours[j] % HUES != colours[i] % HUES for j in neighbours), (a, spans)


def test_the_real_plan_uses_more_than_three_colours(report):
    assert len({b.colour for b in buffer_boxes(report.best)}) >= 10


def test_the_html_page_uses_the_terminal_wording(report, tmp_path):
    page = write_plot(report, tmp_path / "arena.html").read_text()
    for order in report.orders:
        assert optimality_text(order, report) in page
    assert "above the optimum" in page and not re.search(r"gap \d", page)


def test_plot_into_a_missing_folder_is_a_usage_error(report, tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        write_plot(report, tmp_path / "missing" / "arena.png")


def test_distill_plot_ticks_hit_the_points():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([6, 24], [80, 90], "o-")
    ax.set_xscale("log", base=2)
    ticks_at_points(ax)
    fig.canvas.draw()
    assert list(ax.get_xticks()) == [6, 24] and [t.get_text() for t in ax.get_xticklabels()] == ["6", "24"]
    assert not list(ax.xaxis.get_minorticklocs())
    plt.close(fig)


HARNESS = """<script>
(function () {
  var results = [];
  var tip = document.getElementById("tooltip");
  document.querySelectorAll("g.buffer").forEach(function (g) {
    g.scrollIntoView({block: "center", inline: "center"});
    var box = g.getBoundingClientRect();
    var x = box.left + box.width / 2, y = box.top + box.height / 2;
    var hit = document.elementFromPoint(x, y);
    var owner = hit && hit.closest ? hit.closest("g.buffer") : null;
    if (hit) hit.dispatchEvent(new MouseEvent("mousemove", {bubbles: true, clientX: x, clientY: y}));
    var shown = getComputedStyle(tip).display !== "none" && tip.getBoundingClientRect().width > 0;
    var text = tip.textContent;
    g.dispatchEvent(new MouseEvent("mouseleave", {bubbles: false}));
    results.push({id: g.id, hit: owner === g, shown: shown, text: text, expected: g.getAttribute("data-tooltip"),
                  hidden_after: getComputedStyle(tip).display === "none"});
  });
  var out = document.createElement("pre");
  out.id = "harness-result";
  out.textContent = JSON.stringify(results);
  document.body.appendChild(out);
})();
</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_html_tooltip_on_every_buffer_in_headless_chromium(report, tmp_path):
    page = write_plot(report, tmp_path / "arena.html").read_text()
    harness = tmp_path / "harness.html"
    harness.write_text(page.replace("</body>", HARNESS), encoding="utf-8")
    run = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          harness.as_uri()], capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="harness-result">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stderr[-2000:]
    results = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert len(results) == len(nonzero_buffers(report)) > 20
    for result in results:
        assert result["hit"], f"{result['id']}: its centre is covered by another element"
        assert result["shown"] and result["text"] == result["expected"] and result["hidden_after"], result
