"""Arena placement: byte offsets for every buffer of one order, one algorithm per file.

Every algorithm has the signature ``plan(lifetimes, alignment_bytes) -> ArenaPlan`` and sees
only ``Lifetimes`` records (never the graph), as TVM's USMP algorithms see only BufferInfo.
"""

from __future__ import annotations

from edgemem.memory.placement import greedy_by_size
from edgemem.memory.placement.plan import ArenaPlan, aligned_sizes

ALGORITHMS = {
    "greedy_by_size": greedy_by_size.plan,
}

DEFAULT_ALGORITHM = "greedy_by_size"

__all__ = ["ALGORITHMS", "DEFAULT_ALGORITHM", "ArenaPlan", "aligned_sizes"]
