"""Rendering at a given width and the checks every command's output must pass there.

``fits(draw)`` renders ``draw(out)`` at 80 columns and at a wide width and checks that no line
is wider than the terminal, that no word is split (every word of the narrow rendering is a word
of the wide one, or a name cut in the middle with an ellipsis (never at its end), or a piece of a word, such as a
long path, wider than the terminal itself), and that every number of the
wide rendering is whole in the narrow one (no size or percentage was cut to fit).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from rich.cells import cell_len

from edgemem.bench.report import DeviceReport, FleetReport
from edgemem.bench.result import BenchResult
from edgemem.bench.verdict import Verdict
from edgemem.distill.result import DistillResult
from edgemem.output import Output
from edgemem.toml_tables import from_table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "output"
NARROW, WIDE = 80, 200
RULES = re.compile(r"[\s─━│┃]+")
NUMBER = re.compile(r"[(+\-]*[\d,]*\.?\d+(%|x|s)?[),;:]*")


def render(draw: Callable[[Output], None], width: int) -> str:
    out = Output(width=width)
    with out.console.capture() as captured:
        draw(out)
    return captured.get()


def words(text: str) -> list[str]:
    return [w for w in RULES.split(text) if w]


def check_text(narrow: str, wide: str, width: int = NARROW) -> None:
    """The checks of ``fits`` on two renderings of the same thing."""
    long_lines = [line for line in narrow.splitlines() if cell_len(line) > width]
    assert not long_lines, f"{len(long_lines)} line(s) over {width} columns: {long_lines[:3]}"
    whole = set(words(wide))
    too_long = [w for w in whole if cell_len(w) > width]  # a path wider than the terminal: folded, nothing else can show it
    split = sorted({w for w in words(narrow) if w not in whole and "…" not in w and not any(w in long for long in too_long)})
    assert not split, f"split or changed words at {width} columns: {split[:10]}"
    ends_cut = sorted({w for w in words(narrow) if w.endswith("…")})
    assert not ends_cut, f"words cut at the end at {width} columns (only names are cut, in the middle): {ends_cut[:10]}"
    shown = set(words(narrow))
    cut = sorted({w for w in whole if NUMBER.fullmatch(w) and w not in shown})
    assert not cut, f"numbers missing at {width} columns: {cut[:10]}"


def fits(draw: Callable[[Output], None], width: int = NARROW) -> str:
    """``draw``'s output at ``width`` after checking it against a wide rendering; returns it."""
    narrow, wide = render(draw, width), render(draw, WIDE)
    check_text(narrow, wide, width)
    return narrow


def in_order(text: str, *parts: str) -> bool:
    """Each part occurs in ``text``, after the one before it."""
    at = 0
    for part in parts:
        at = text.find(part, at)
        if at < 0:
            return False
    return True


# ---- real results, as the commands' --json documents hold them -----------------------------

def distill_result(name: str) -> DistillResult:
    """A DistillResult from a real run's report.json (tests/fixtures/output/README.md says which)."""
    document = json.loads((FIXTURES / name).read_text())
    derived = ("schema", "budget", "weights_budget", "reduction", "fits")
    return from_table(DistillResult, {k: v for k, v in document.items() if k not in derived}, name)


def device_report(document: dict, name: str = "device", saved_to: str | None = None, error: str | None = None) -> DeviceReport:
    """A DeviceReport from an ``edgemem.bench_report/1`` document (None: a device with no result)."""
    if document is None:
        return DeviceReport(name, None, None, error)
    result = from_table(BenchResult, document["result"], "result")
    verdict = None if document["verdict"] is None else from_table(Verdict, document["verdict"], "verdict")
    return DeviceReport(name, result, verdict, error, document.get("profile"), saved_to or document.get("saved_to"))


def fleet_report(document: dict) -> FleetReport:
    """A FleetReport from an ``edgemem.bench_fleet/1`` document."""
    return FleetReport(tuple(device_report(d["report"], d["name"], d["saved_to"], d["error"]) for d in document["devices"]),
                       fleet=True)
