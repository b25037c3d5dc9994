"""Plots of a MemoryReport: the live-memory timeline of every order and the best arena's rectangles.

PNG and SVG come from matplotlib; HTML is a standalone page that embeds the SVG (output/plot_page.py).
Every buffer rectangle is labelled with its tensor's name where the name fits, and carries a
tooltip (an SVG <title>; in the HTML page a hover box) with its size, offsets and live steps.
Colours are assigned so that rectangles that touch in the arena never share one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from edgemem.errors import UsageError
from edgemem.memory.report import MemoryReport, OrderReport
from edgemem.output.plot_page import html_page, svg_with_tooltips
from edgemem.units import format_bytes

FORMATS = (".png", ".svg", ".html")
MIB = 2**20
LABEL_POINTS = 6.5
MAX_LABELS = 400  # beyond this many buffers only the largest get a name drawn (all keep their tooltip)


@dataclass(frozen=True)
class BufferBox:
    """One buffer of the arena plan: a rectangle of offsets by live steps."""

    name: str
    offset_bytes: int
    size_bytes: int
    first_step: int
    last_step: int
    colour: int
    tooltip: str


def write_plot(report: MemoryReport, path: str | Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"--plot {path}: unknown format {suffix or '(none)'}", hint="use a .png, .svg or .html file name")
    if not path.parent.is_dir():
        raise UsageError(f"--plot {path}: folder {str(path.parent)!r} does not exist")
    boxes = buffer_boxes(report.best)
    figure = draw(report, boxes)
    import matplotlib.pyplot as plt

    try:
        if suffix == ".png":
            figure.savefig(path, dpi=130, bbox_inches="tight")
        else:
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", bbox_inches="tight")
            svg = buffer.getvalue()
            page = html_page(report, svg, boxes) if suffix == ".html" else svg_with_tooltips(svg, boxes)
            path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--plot {path}: cannot write it ({exc.strerror or exc})") from None
    finally:
        plt.close(figure)
    return path


def buffer_boxes(order: OrderReport) -> list[BufferBox]:
    """The best plan's buffers (zero-sized ones left out), coloured so that touching ones differ."""
    items = sorted((first, offset, name, size, last) for name, (offset, size, first, last) in order.offsets.items() if size)
    colours = assign_colours([(first, last, offset, offset + size) for first, offset, _, size, last in items])
    boxes = []
    for (first, offset, name, size, last), colour in zip(items, colours):
        steps = f"step {first}" if first == last else f"steps {first}-{last}"
        nodes = node_span(order, first, last)
        tooltip = (f"{name}: {format_bytes(size)} ({size:,} B) at offsets {offset:,}-{offset + size:,}, "
                   f"live {steps}{nodes}")
        boxes.append(BufferBox(name, offset, size, first, last, colour, tooltip))
    return boxes


def node_span(order: OrderReport, first: int, last: int) -> str:
    names = order.order
    if not (0 <= first < len(names) and 0 <= last < len(names)):
        return ""
    return f" ({names[first]})" if first == last else f" ({names[first]} to {names[last]})"


PALETTE_SIZE = 20
HUES = 10  # colour c and c + HUES are one hue, strong and light


def assign_colours(spans: list[tuple[int, int, int, int]]) -> list[int]:
    """A palette index per (first step, last step, start offset, end offset), sorted by first step.

    A sweep over steps keeps the rectangles still live; a new one takes, among the colours none of
    its touching neighbours (overlapping or adjacent steps and offsets) has in either shade, the
    least used so far: touching rectangles never share a hue while the palette lasts, and the
    plot uses the whole palette rather than three colours over and over.
    """
    colours: list[int] = []
    used = [0] * PALETTE_SIZE
    active: list[int] = []
    for index, (first, last, start, end) in enumerate(spans):
        active = [j for j in active if spans[j][1] >= first - 1]
        hues = {colours[j] % HUES for j in active if spans[j][2] <= end and start <= spans[j][3]}
        free = [c for c in range(PALETTE_SIZE) if c % HUES not in hues] or list(range(PALETTE_SIZE))
        colour = min(free, key=lambda c: (used[c], c))
        used[colour] += 1
        colours.append(colour)
        active.append(index)
    return colours


def palette():
    """Twenty colours: tab20's ten hues strong (0-9), then the same hues light (10-19)."""
    import matplotlib

    tab20 = matplotlib.colormaps["tab20"]
    return [tab20(i) for i in range(0, 20, 2)] + [tab20(i) for i in range(1, 20, 2)]


def draw(report: MemoryReport, boxes: list[BufferBox]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(13, 8.5), gridspec_kw={"height_ratios": [1, 1.2]})
    draw_timeline(report, top)
    draw_arena(report.best, boxes, bottom)
    fig.tight_layout()
    label_boxes(bottom, fig, boxes)
    return fig


def draw_timeline(report: MemoryReport, ax) -> None:
    styles = [("-", 2.2), ("--", 1.8), (":", 2.2)]
    for index, order in enumerate(report.orders):
        steps = range(len(order.profile_bytes))
        style, width = styles[index % len(styles)]
        ax.step(steps, [b / MIB for b in order.profile_bytes], where="mid", linewidth=width, linestyle=style,
                label=f"{order.name}: peak {format_bytes(order.peak_bytes)}")
    ax.axhline(report.order_lower_bound_bytes / MIB, color="grey", linestyle=":", linewidth=1,
               label=f"order lower bound {format_bytes(report.order_lower_bound_bytes)}")
    if report.budget:
        ax.axhline(report.budget.budget_bytes / MIB, color="red", linestyle="--", linewidth=1,
                   label=f"budget {format_bytes(report.budget.budget_bytes)}")
    ax.set_title(f"{report.model}: live activation memory per step")
    ax.set_xlabel("step (one node per step)")
    ax.set_ylabel("live MiB")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(alpha=0.3)


def draw_arena(best: OrderReport, boxes: list[BufferBox], ax) -> None:
    from matplotlib.patches import Rectangle

    colours = palette()
    top_mib = max(best.arena_bytes, 1) / MIB * 1.05
    ax.set_xlim(-1, max(1, len(best.profile_bytes)))
    ax.set_ylim(0, top_mib)
    for index, box in enumerate(boxes):
        rect = Rectangle((box.first_step - 0.45, box.offset_bytes / MIB), box.last_step - box.first_step + 0.9,
                         box.size_bytes / MIB, facecolor=colours[box.colour], edgecolor="black", linewidth=0.3, alpha=0.9)
        rect.set_gid(f"buffer-{index}")
        ax.add_patch(rect)
    ax.axhline(best.arena_bytes / MIB, color="black", linewidth=1, label=f"arena {format_bytes(best.arena_bytes)}")
    ax.axhline(best.arena_lower_bound_bytes / MIB, color="grey", linestyle=":", linewidth=1,
               label=f"padded live peak {format_bytes(best.arena_lower_bound_bytes)}")
    ax.set_title(f"arena of the best order ({best.name}, {best.placement}): one rectangle per buffer, "
                 "named where the name fits")
    ax.set_xlabel("step")
    ax.set_ylabel("offset (MiB)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def label_boxes(ax, fig, boxes: list[BufferBox]) -> None:
    """Write each buffer's name inside its rectangle when at least three characters of it fit."""
    position = ax.get_position()  # after tight_layout, in figure fractions: no rendering needed
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    points_per_step = position.width * fig.get_figwidth() * 72 / (x1 - x0)
    points_per_mib = position.height * fig.get_figheight() * 72 / (y1 - y0)
    char_points = LABEL_POINTS * 0.62
    largest = sorted(range(len(boxes)), key=lambda i: -boxes[i].size_bytes * (boxes[i].last_step - boxes[i].first_step + 1))
    for index in largest[:MAX_LABELS]:
        box = boxes[index]
        width = (box.last_step - box.first_step + 0.9) * points_per_step
        height = box.size_bytes / MIB * points_per_mib
        fits = int(width // char_points) - 1
        if height < LABEL_POINTS * 1.3 or fits < 3:
            continue
        text = box.name if len(box.name) <= fits else box.name[: fits - 1] + "\u2026"
        ax.text((box.first_step + box.last_step) / 2, (box.offset_bytes + box.size_bytes / 2) / MIB, text,
                fontsize=LABEL_POINTS, ha="center", va="center", clip_on=True)


def ticks_at_points(ax, formatter=lambda value: f"{value:g}", most: int = 8) -> None:
    """Major x ticks at the x values of the plotted points (at most ``most``, spread out), no minor ticks.

    A log axis otherwise ticks at powers of two (8, 16) that miss points at 6 and 24.
    """
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    values = sorted({float(x) for line in ax.get_lines() for x in line.get_xdata() if float(x) > 0})
    if not values:
        return
    if len(values) > most:
        step = (len(values) - 1) / (most - 1)
        values = [values[round(i * step)] for i in range(most)]
    ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_major_formatter(FixedFormatter([formatter(v) for v in values]))
    ax.xaxis.set_minor_locator(NullLocator())
