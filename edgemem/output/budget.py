"""The budget verdict as one line, the same for analyze, distill and bench."""

from __future__ import annotations

from rich.text import Text

from edgemem.budget import BudgetCheck, Scope
from edgemem.units import format_bytes

# what counted, in the words of each command's table
COUNTED = {Scope.ACTIVATIONS: "arena", Scope.WEIGHTS: "weights", Scope.MODEL: "arena + weights",
           Scope.PROCESS: "process peak"}


def budget_amount(budget_bytes: int) -> str:
    return f"{budget_bytes:,} bytes ({format_bytes(budget_bytes, binary=False)} = {format_bytes(budget_bytes)})"


def budget_line(check: BudgetCheck, counted: str | None = None, label: str = "budget") -> Text:
    """``budget 1,000 bytes (...) on model: fits (arena + weights 900 B, 100 B to spare)``, coloured by the verdict."""
    what = counted or COUNTED[check.scope]
    head = f"{label} {budget_amount(check.budget_bytes)} on {check.scope.value}: "
    if check.fits is None:
        return Text(head + f"unknown ({what} not measured)", style="bold yellow")
    if check.fits:
        return Text(head + f"fits ({what} {format_bytes(check.required_bytes)}, "
                           f"{format_bytes(check.headroom_bytes)} to spare)", style="green")
    return Text(head + f"does NOT fit ({what} {format_bytes(check.required_bytes)}, short by "
                       f"{format_bytes(check.shortfall_bytes)} = {check.shortfall_bytes:,} bytes)", style="bold red")
