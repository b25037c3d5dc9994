"""Tables laid out for the width of the terminal they are printed on (80 columns and up).

Every table of the output layer is a ``Grid``: a title line, a borderless table with a rule under
its header and two spaces between columns, and a caption line. Each column has a kind that says
how it may give way when the terminal is narrow:

* ``NUMBER`` and ``TEXT``: never shrink, never wrap (sizes, percentages, short words);
* ``NAME``: shrinks down to ``NAME_MIN`` cells, cut in the middle with an ellipsis
  (``/features…/conv.0/Conv_output_0``), a ``Name``'s suffix kept whole;
* ``PROSE``: wraps at spaces, never narrower than its longest word (so no word is split).

The widths are chosen here (the widest shrinkable column gives way first), not by rich, whose
own collapsing ignores minimum widths and splits words. Titles and captions are plain lines that
wrap at the console width.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

NUMBER, TEXT, NAME, PROSE = "number", "text", "name", "prose"
NAME_MIN = 14  # narrowest a name column gets before anything else is cut
NAME_LAST_RESORT = 6  # when even the minimums do not fit
PROSE_WORD_MAX = 30  # a longer "word" (a path in an error) may be folded
GAP = 2  # spaces between columns
ELLIPSIS = "…"


@dataclass(frozen=True)
class Col:
    header: str
    kind: str = TEXT
    justify: str | None = None  # default: right for NUMBER, left otherwise


@dataclass(frozen=True)
class Name:
    """A name cut in the middle when its column is narrow; ``suffix`` (`` (Conv)``) is kept whole."""

    text: str
    suffix: str = ""

    def fit(self, width: int) -> str:
        return middle(self.text, max(width - cell_len(self.suffix), 1)) + self.suffix


def middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells: the head and the tail with an ellipsis between them."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head_cells = (width - 1) // 3  # the tail tells names apart: /encoder/layer.3/…/attn/MatMul_output_0
    tail_cells = width - 1 - head_cells
    head = set_cell_size(text, head_cells)
    tail = ""
    for char in reversed(text):
        if cell_len(char + tail) > tail_cells:
            break
        tail = char + tail
    return head.rstrip() + ELLIPSIS + tail


Cell = str | Text | Name


def plain(cell: Cell) -> str:
    if isinstance(cell, Name):
        return cell.text + cell.suffix
    return cell.plain if isinstance(cell, Text) else cell


class Grid:
    """A table that fits the console: build it with columns and rows, print it with rich."""

    def __init__(self, columns: list[Col], title: str | None = None, caption: str | None = None) -> None:
        self.columns = columns
        self.title = title
        self.caption = caption
        self.rows: list[tuple[Cell, ...]] = []

    def add_row(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    # ---- widths ---------------------------------------------------------------------------
    def natural_widths(self) -> list[int]:
        return [max([cell_len(col.header)] + [cell_len(plain(row[i])) for row in self.rows])
                for i, col in enumerate(self.columns)]

    def minimum_widths(self, natural: list[int], last_resort: bool = False) -> list[int]:
        minimum = []
        for i, col in enumerate(self.columns):
            header_word = max(cell_len(word) for word in col.header.split() or [""])
            if col.kind == NAME:
                floor = NAME_LAST_RESORT if last_resort else NAME_MIN
                suffix = max((cell_len(row[i].suffix) for row in self.rows if isinstance(row[i], Name)), default=0)
                minimum.append(min(natural[i], max(floor + suffix, header_word)))
            elif col.kind == PROSE:
                words = [cell_len(w) for row in self.rows for w in plain(row[i]).split()]
                minimum.append(min(natural[i], max([header_word] + [min(w, PROSE_WORD_MAX) for w in words])))
            else:
                minimum.append(natural[i])
        return minimum

    def widths(self, available: int) -> list[int]:
        """Natural widths, the widest shrinkable column giving way one cell at a time."""
        natural = self.natural_widths()
        widths = list(natural)
        space = available - GAP * (len(self.columns) - 1)
        for last_resort in (False, True):
            minimum = self.minimum_widths(natural, last_resort)
            while sum(widths) > space:
                shrinkable = [i for i, w in enumerate(widths) if w > minimum[i]]
                if not shrinkable:
                    break
                widths[max(shrinkable, key=lambda i: widths[i])] -= 1
        return widths

    # ---- rich protocol --------------------------------------------------------------------
    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        gaps = GAP * (len(self.columns) - 1)
        natural = self.natural_widths()
        return Measurement(sum(self.minimum_widths(natural)) + gaps, sum(natural) + gaps).with_maximum(options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.title:
            yield Text(self.title, style="bold")
        yield self.table(self.widths(options.max_width))
        if self.caption:
            yield Text(self.caption, style="dim")

    def table(self, widths: list[int]) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                      header_style="bold")
        for col, width in zip(self.columns, widths):
            justify = col.justify or ("right" if col.kind == NUMBER else "left")
            table.add_column(col.header, justify=justify, width=width, no_wrap=col.kind != PROSE,
                             overflow="fold" if col.kind == PROSE else "ellipsis")
        for row in self.rows:
            table.add_row(*(self.cell(cell, col, width) for cell, col, width in zip(row, self.columns, widths)))
        return table

    @staticmethod
    def cell(cell: Cell, col: Col, width: int) -> str | Text:
        if isinstance(cell, Name):
            return cell.fit(width)
        if col.kind == NAME and isinstance(cell, str):
            return middle(cell, width)
        return cell
