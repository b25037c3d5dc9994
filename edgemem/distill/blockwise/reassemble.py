"""Reassembly: splice the trained replacements into the teacher, keeping each only if accuracy holds.

The paper's rule, cumulative: start from a copy of the teacher; go through the blocks in reverse
execution order; swap in block i's replacement and evaluate the whole student; keep it while
``teacher accuracy - student accuracy <= threshold``, otherwise put the teacher's block back.
The kept set is what the end-to-end fine-tune starts from.
"""

from __future__ import annotations

import copy
from typing import Callable

from torch import nn

from edgemem.distill.blockwise.blocks import Block
from edgemem.distill.students.convs import replace_module


def reassemble(teacher: nn.Module, blocks: list[Block], replacements: dict[str, nn.Module],
               evaluate: Callable[[nn.Module], float], teacher_accuracy: float, threshold: float
               ) -> tuple[nn.Module, dict[str, tuple[bool, float]], float]:
    """(student, {block key: (kept, student accuracy at that decision)}, final accuracy)."""
    student = copy.deepcopy(teacher)
    decisions: dict[str, tuple[bool, float]] = {}
    current = teacher_accuracy
    for block in sorted(blocks, key=lambda b: b.index, reverse=True):
        original = student.get_submodule(block.path)
        replace_module(student, block.path, replacements[block.key])
        accuracy = evaluate(student)
        kept = teacher_accuracy - accuracy <= threshold
        decisions[block.key] = (kept, accuracy)
        if kept:
            current = accuracy
        else:
            replace_module(student, block.path, original)
    return student, decisions, current


def assemble(teacher: nn.Module, blocks: list[Block], kept: list[str], replacements: dict[str, nn.Module]) -> nn.Module:
    """A copy of the teacher with the replacements of the ``kept`` block keys swapped in."""
    student = copy.deepcopy(teacher)
    for block in blocks:
        if block.key in kept:
            replace_module(student, block.path, replacements[block.key])
    return student
