"""The Grid's layout rules: names cut in the middle, words never split, numbers never cut."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
from rich.cells import cell_len

from edgemem.output.grid import NAME, NAME_MIN, NUMBER, PROSE, Col, Grid, Name, middle
from tests.output.rendering import render, words


def test_middle_keeps_the_head_and_the_longer_tail():
    name = "/encoder/layer.3/attention/self/MatMul_output_0"
    cut = middle(name, 24)
    assert cell_len(cut) <= 24 and cut.startswith("/encod") and cut.endswith("MatMul_output_0") and "…" in cut
    assert middle("conv_7", 24) == "conv_7" and middle("abc", 1) == "…" and middle("abc", 0) == ""


def test_a_name_keeps_its_suffix_whole():
    assert Name("/layer/self_attn/Transpose_1", " (Transpose)").fit(22) == "/la…pose_1 (Transpose)"


def test_the_widest_shrinkable_column_gives_way_first():
    grid = Grid([Col("name", NAME), Col("size", NUMBER), Col("what", PROSE)])
    grid.add_row("x" * 60, "1.00 KiB", "a few short words here")
    widths = grid.widths(60)
    assert sum(widths) + 4 <= 60 and widths[1] == 8 and widths[0] >= NAME_MIN


def test_nothing_is_split_when_the_minimums_fit():
    grid = Grid([Col("device", NAME), Col("median ms", NUMBER), Col("note", PROSE)], title="a title", caption="a caption")
    grid.add_row("orin-nano-lab-bench-number-17", "12.345", "cannot reach orin-17: ssh: connect to host 10.0.0.17 port 22: "
                                                          "Connection refused")
    text = render(lambda out: out.console.print(grid), 50)
    assert all(cell_len(line) <= 50 for line in text.splitlines())
    assert "12.345" in text and "Connection" in words(text) and "refused" in words(text)


cells = st.text(alphabet="abcdefghij_/.", min_size=1, max_size=40)
prose_words = st.text(alphabet="abcdefghij_/.", min_size=1, max_size=30)  # up to PROSE_WORD_MAX: never split
numbers = st.integers(min_value=0, max_value=10**9).map(lambda n: f"{n:,}")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cells, numbers, st.lists(prose_words, min_size=1, max_size=6).map(" ".join)), min_size=1, max_size=6),
       st.integers(min_value=60, max_value=160))
def test_any_rows_fit_any_width_with_numbers_whole(rows, width):
    grid = Grid([Col("name", NAME), Col("count", NUMBER), Col("words", PROSE)])
    for name, count, text in rows:
        grid.add_row(name, count, text)
    rendered = render(lambda out: out.console.print(grid), width)
    assert all(cell_len(line) <= width for line in rendered.splitlines())
    shown = words(rendered)
    assert all(count in shown for _, count, _ in rows)
    whole = {w for _, _, text in rows for w in text.split()} | {"name", "count", "words"}
    assert all(w in whole or "…" in w or any(w in name for name, _, _ in rows) for w in shown if not w[0].isdigit())
