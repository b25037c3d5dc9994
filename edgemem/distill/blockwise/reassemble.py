"""Reassembly: splice the trained replacements into the teacher, keeping each only if the
acceptance rule (``acceptance.py``) holds.

The paper's order: start from a copy of the teacher; go through the blocks in reverse execution
order; a block that passes the rule's checks on its own record (output error, accuracy alone) is
swapped in and the whole student evaluated; it stays while ``teacher accuracy - student accuracy
<= threshold`` (cumulative: the kept set as a whole stays within it), otherwise the teacher's block
goes back. The kept set is what the end-to-end fine-tune starts from.
"""

from __future__ import annotations

import copy
from typing import Callable

from torch import nn

from edgemem.distill.blockwise.acceptance import AcceptanceRule, Decision, screen
from edgemem.distill.blockwise.blocks import Block
from edgemem.distill.students.convs import replace_module


def reassemble(teacher: nn.Module, blocks: list[Block], replacements: dict[str, nn.Module], records: dict,
               evaluate: Callable[[nn.Module], float], teacher_accuracy: float, rule: AcceptanceRule
               ) -> tuple[nn.Module, dict[str, Decision], float]:
    """(student, decision per block key, final accuracy); ``records[key]`` has ``relative_error``
    and ``spliced_accuracy``. The teacher is left untouched."""
    student = copy.deepcopy(teacher)
    decisions: dict[str, Decision] = {}
    current = teacher_accuracy
    for block in sorted(blocks, key=lambda b: b.index, reverse=True):
        record = records[block.key]
        reason = screen(record.relative_error, record.spliced_accuracy, teacher_accuracy, rule)
        if reason is not None:
            decisions[block.key] = Decision(False, None, reason)
            continue
        original = student.get_submodule(block.path)
        replace_module(student, block.path, replacements[block.key])
        accuracy = evaluate(student)
        drop = teacher_accuracy - accuracy
        if drop <= rule.threshold:
            current = accuracy
            decisions[block.key] = Decision(True, accuracy, f"student -{drop * 100:.1f}<={rule.threshold * 100:.1f} pts")
        else:
            replace_module(student, block.path, original)
            decisions[block.key] = Decision(False, accuracy, f"student -{drop * 100:.1f}>{rule.threshold * 100:.1f} pts")
    return student, decisions, current


def assemble(teacher: nn.Module, blocks: list[Block], kept: list[str], replacements: dict[str, nn.Module]) -> nn.Module:
    """A copy of the teacher with the replacements of the ``kept`` block keys swapped in."""
    student = copy.deepcopy(teacher)
    for block in blocks:
        if block.key in kept:
            replace_module(student, block.path, replacements[block.key])
    return student




def decide(teacher: nn.Module, blocks: list[Block], replacements: dict[str, nn.Module], records: dict,
           evaluate: Callable[[nn.Module], float], teacher_accuracy: float, rule: AcceptanceRule, teacher_name: str
           ) -> tuple[dict, list[str], float, str | None]:
    """Reassemble and record every decision: (records with ``kept``/``reason`` set, kept keys in
    execution order, the reassembled accuracy, the one-line error when nothing was kept, else None)."""
    from edgemem.distill.blockwise.acceptance import nothing_kept_message

    _, decisions, final = reassemble(teacher, blocks, replacements, records, evaluate, teacher_accuracy, rule)
    decided = {k: r.decided(decisions[k].kept, decisions[k].accuracy, decisions[k].reason) for k, r in records.items()}
    kept = [b.key for b in blocks if decisions[b.key].kept]
    ordered = {b.key: decisions[b.key] for b in sorted(blocks, key=lambda b: b.index, reverse=True)}
    return decided, kept, final, None if kept else nothing_kept_message(ordered, teacher_name)
