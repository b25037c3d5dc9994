"""The budget verdict as one line, the same for analyze, distill and bench."""

from __future__ import annotations

from rich.text import Text

from edgemem.budget import BudgetCheck, Scope
from edgemem.units import format_bytes

# what counted, in the words of each command's table
COUNTED = {Scope.ACTIVATIONS: "arena", Scope.WEIGHTS: "weights", Scope.MODEL: "arena + weights",
           Scope.PROCESS: "process peak"}


def budget_amount(budget_bytes: int) -> str:
    """``6.00 KiB (6,144 B)``, or ``256.00 MB (256,000,000 B)`` for a budget given in decimal units."""
    decimal = budget_bytes % 1000 == 0 and budget_bytes % 1024 != 0
    return f"{format_bytes(budget_bytes, binary=not decimal)} ({budget_bytes:,} B)"


def budget_line(check: BudgetCheck, counted: str | None = None, label: str = "budget") -> Text:
    """``budget 6.00 KiB (6,144 B): fits, arena 6.00 KiB (0 B to spare)``, coloured by the verdict."""
    what = counted or COUNTED[check.scope]
    head = f"{label} {budget_amount(check.budget_bytes)}: "
    if check.fits is None:
        return Text(head + f"unknown, {what} not measured", style="bold yellow")
    if check.fits:
        return Text(head + f"fits, {what} {format_bytes(check.required_bytes)} "
                           f"({format_bytes(check.headroom_bytes)} to spare)", style="green")
    shortfall = format_bytes(check.shortfall_bytes)
    exact = f" = {check.shortfall_bytes:,} B" if check.shortfall_bytes >= 1024 else ""
    return Text(head + f"does NOT fit, {what} {format_bytes(check.required_bytes)} (short by {shortfall}{exact})",
                style="bold red")
