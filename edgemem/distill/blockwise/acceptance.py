"""Which trained replacements the student keeps: an explicit rule, decided and reported per block.

A replacement is kept only if all three hold (``[blockwise]`` settings, fractions):

1. **block output error** ``relative_error <= max_error``: the replacement's MSE against the
   teacher block's output on the evaluation split, divided by the mean square of that output
   (0 = exact, 1 = as far off as predicting zeros);
2. **alone** ``teacher accuracy - accuracy with only this block replaced <= max_block_drop``;
3. **end to end** ``teacher accuracy - student accuracy <= threshold`` with this replacement and
   every replacement kept before it spliced in (the paper's reassembly: blocks in reverse
   execution order, cumulative).

Rules 1 and 2 use the block's own record (no evaluation needed); rule 3 evaluates the whole
student (``reassemble.py``). Every block's decision carries its reason, e.g. ``error 0.41 > 0.25`` or
``student -6.2 points > 5.0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class AcceptanceRule:
    max_error: float  # relative output error of the block alone
    max_block_drop: float  # accuracy drop with only this block replaced
    threshold: float  # accuracy drop of the reassembled student (cumulative)


@dataclass(frozen=True)
class Decision:
    kept: bool
    accuracy: float | None  # the student's accuracy when the rule decided (None: decided on the record alone)
    reason: str


def screen(relative_error: float, spliced_accuracy: float, teacher_accuracy: float, rule: AcceptanceRule) -> str | None:
    """Why the block fails rule 1 or 2, or None when it passes both."""
    if not math.isfinite(relative_error) or relative_error > rule.max_error:
        return f"error {relative_error:.3g}>{rule.max_error:g}"
    drop = teacher_accuracy - spliced_accuracy
    if drop > rule.max_block_drop:
        return f"alone -{drop * 100:.1f}>{rule.max_block_drop * 100:.1f} pts"
    return None


def nothing_kept_message(decisions: dict[str, Decision], teacher_name: str) -> str:
    """The one-line error of a run whose reassembly kept no replacement."""
    reasons = "; ".join(f"{key}: {d.reason}" for key, d in list(decisions.items())[:3])
    more = f" (and {len(decisions) - 3} more)" if len(decisions) > 3 else ""
    return (f"blockwise kept none of the {len(decisions)} replacements, so the student would be {teacher_name} "
            f"itself: {reasons}{more}")
