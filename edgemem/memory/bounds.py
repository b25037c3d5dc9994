"""Lower bounds reported next to every plan.

working_set: the largest single-node working set (inputs + outputs of one node), which every
order must hold at that node's step. io: all graph inputs are live at step 0 and all graph
outputs at the last step. The order bound is the max of these.
"""

from __future__ import annotations

from edgemem.memory.problem import Problem


def working_set_bytes(problem: Problem) -> list[int]:
    sizes = problem.sizes
    return [sum(sizes[b] for b in used) for used in problem.touches]


def working_set_bound(problem: Problem) -> int:
    return max(working_set_bytes(problem), default=0)


def order_lower_bound(problem: Problem) -> int:
    """A bound no execution order can beat, under the problem's convention."""
    sizes = problem.sizes
    inputs = sum(sizes[b] for b, buf in enumerate(problem.buffers) if buf.is_input)
    outputs = sum(sizes[b] for b, buf in enumerate(problem.buffers) if buf.is_output)
    return max(working_set_bound(problem), inputs, outputs)
