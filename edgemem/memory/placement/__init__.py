"""Arena placement: byte offsets for every buffer of one order, one algorithm per file.

Every algorithm has the signature ``plan(lifetimes, alignment_bytes) -> ArenaPlan`` and sees
only ``Lifetimes`` records (never the graph), as TVM's USMP algorithms see only BufferInfo.
The default is the portfolio: the smallest verified arena of all the others.
"""

from __future__ import annotations

from edgemem.memory.placement import (
    cpsat, exact, first_fit_by_start, greedy_by_conflicts, greedy_by_size, hill_climb, portfolio, upstream,
)
from edgemem.memory.placement.plan import aligned_sizes

ALGORITHMS = {
    "portfolio": portfolio.plan,
    "greedy_by_size": greedy_by_size.plan,
    "greedy_by_conflicts": greedy_by_conflicts.plan,
    "first_fit_by_start": first_fit_by_start.plan,
    "hill_climb": hill_climb.plan,
    "exact": exact.plan,
    "cpsat": cpsat.plan,
    "tflite": upstream.tflite,
    "onnxsim": upstream.onnxsim,
    "tvm_by_size": upstream.tvm_by_size,
    "tvm_by_conflicts": upstream.tvm_by_conflicts,
}

DEFAULT_ALGORITHM = "portfolio"

__all__ = ["ALGORITHMS", "DEFAULT_ALGORITHM", "aligned_sizes"]
