"""search_student: the least aggressive student whose analyzed memory fits the budget.

Each knob is moved only for what it saves. Candidates are tried from least to most aggressive:
widths outermost (width costs the most accuracy), then cheap convolutions, then pool factors
innermost. Aggressive pooling is what lowers peak activation memory, so for
``scope="activations"`` the pool factor moves first and the conv moves on only when the weights
are what fails (``weights_budget_bytes``); with ``scope="total"`` (activations + weights) cheap
convs are tried too, since they lower the weights. Pooling never removes weights (RED blocks add
some), so once the unpooled student's weights are over, its pooled siblings are skipped unmeasured.
Every candidate is derived, exported to ONNX and analyzed (``measure_memory``); the verdict of
each is kept. When nothing fits, ``NoStudentFits`` (a BudgetError, exit 3) names the smallest
memory reached and the spec that reached it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgemem.distill.budget import ModelMemory, check_precision, check_scope, measure_memory
from edgemem.distill.export import ExportError
from edgemem.distill.students.derive import derive_student, model_label
from edgemem.distill.students.spec import Student, StudentSpec
from edgemem.errors import BudgetError, ConfigError
from edgemem.units import format_bytes

DEFAULT_POOL_FACTORS = (1, 2, 4, 8)
DEFAULT_CONVS = ("standard", "G(2)", "B(2)", "G(4)", "DW")  # roughly decreasing weights
DEFAULT_WIDTHS = (1.0, 0.75, 0.5, 0.25)


@dataclass(frozen=True)
class Candidate:
    spec: StudentSpec
    memory: ModelMemory | None  # None when not applicable or skipped
    required_bytes: int | None  # what was compared with the budget (arena, + weights for "total")
    fits: bool
    verdict: str  # "fits", "over budget by ...", "weights over ...", "not applicable: ...", "skipped: ..."


@dataclass(frozen=True)
class SearchResult:
    spec: StudentSpec
    memory: ModelMemory
    candidates: tuple[Candidate, ...]
    budget_bytes: int
    scope: str
    precision: str
    weights_budget_bytes: int | None
    teacher_memory: ModelMemory
    student: Any = field(default=None, compare=False, repr=False)  # the derived Student for ``spec``


class NoStudentFits(BudgetError):
    """No candidate fits; carries every candidate and the smallest one reached."""

    def __init__(self, message: str, hint: str | None, candidates: tuple[Candidate, ...], smallest: Candidate | None) -> None:
        super().__init__(message, hint)
        self.candidates = candidates
        self.smallest = smallest


def _positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{what} must be a positive number of bytes, got {value!r}")
    return value


def _slug(spec: StudentSpec) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"k{spec.pool_factor}-{spec.conv}-w{spec.width:g}-{'red' if spec.red else 'plain'}")


def _measure(teacher, spec, input_shape, precision, workdir, cache):
    """(memory, None) or (None, reason) for ``spec``; cached per (spec, shape, precision)."""
    key = (spec, tuple(input_shape), precision)
    if cache is not None and key in cache:
        return cache[key]
    try:
        student = derive_student(teacher, spec, input_shape)
        folder = Path(workdir) / _slug(spec) if workdir is not None else None
        outcome = (measure_memory(student.model, input_shape, precision, folder), None)
    except (ConfigError, ExportError) as exc:
        outcome = (None, exc.one_line())
    if cache is not None:
        cache[key] = outcome
    return outcome


def search_student(teacher, input_shape, budget_bytes: int, scope: str = "activations", precision: str = "fp32",
                   weights_budget_bytes: int | None = None, pool_factors=DEFAULT_POOL_FACTORS, convs=DEFAULT_CONVS,
                   widths=DEFAULT_WIDTHS, red: bool = True, workdir: Path | None = None, cache: dict | None = None) -> SearchResult:
    """Least aggressive ``StudentSpec`` of ``teacher`` that fits; NoStudentFits (exit 3) when none does.

    ``cache`` (a dict, one per teacher and input shape) lets repeated searches reuse measurements.
    """
    _positive(budget_bytes, "budget")
    if weights_budget_bytes is not None:
        _positive(weights_budget_bytes, "weights budget")
    check_scope(scope)
    check_precision(precision)
    input_shape = tuple(int(d) for d in input_shape)
    teacher_memory, reason = _measure(teacher, StudentSpec(), input_shape, precision, workdir, cache)
    if teacher_memory is None:
        raise ConfigError(f"cannot measure the teacher: {reason}")
    candidates: list[Candidate] = []
    for width in widths:
        for conv in convs:
            fit, weights_over = _search_pools(teacher, input_shape, budget_bytes, scope, precision, weights_budget_bytes,
                                              pool_factors, conv, width, red, workdir, cache, candidates)
            if fit is not None:
                student = derive_student(teacher, fit.spec, input_shape)
                return SearchResult(fit.spec, fit.memory, tuple(candidates), budget_bytes, scope, precision,
                                    weights_budget_bytes, teacher_memory, student)
            if scope == "activations" and not weights_over:
                break  # cheap convs do not lower activations: move on to the next width
    raise _no_fit(teacher, budget_bytes, scope, precision, weights_budget_bytes, teacher_memory, tuple(candidates))


def _search_pools(teacher, input_shape, budget_bytes, scope, precision, weights_budget_bytes, pool_factors,
                  conv, width, red, workdir, cache, candidates) -> tuple[Candidate | None, bool]:
    """Try every pool factor for one (conv, width); returns (first fitting candidate, base weights over?)."""
    weights_over = False
    for k in pool_factors:
        spec = StudentSpec(pool_factor=int(k), conv=conv, width=float(width), red=red)
        if weights_over:
            candidates.append(Candidate(spec, None, None, False, "skipped: the unpooled student's weights are already over; pooling only adds weights"))
            continue
        memory, reason = _measure(teacher, spec, input_shape, precision, workdir, cache)
        if memory is None:
            candidates.append(Candidate(spec, None, None, False, f"not applicable: {reason}"))
            continue
        required = memory.required_bytes(scope)
        weights_ok = weights_budget_bytes is None or memory.weights_bytes <= weights_budget_bytes
        fits = required <= budget_bytes and weights_ok
        if fits:
            verdict = "fits"
        elif not weights_ok:
            verdict = f"weights {format_bytes(memory.weights_bytes)} over the weights budget {format_bytes(weights_budget_bytes)}"
        else:
            verdict = f"over budget by {format_bytes(required - budget_bytes)}"
        candidate = Candidate(spec, memory, required, fits, verdict)
        candidates.append(candidate)
        if fits:
            return candidate, weights_over
        unpooled = spec.pool_factor == 1 or not spec.red
        if unpooled and (not weights_ok or (scope == "total" and memory.weights_bytes > budget_bytes)):
            weights_over = True
    return None, weights_over


def _no_fit(teacher, budget_bytes, scope, precision, weights_budget_bytes, teacher_memory, candidates) -> NoStudentFits:
    measured = [c for c in candidates if c.memory is not None]
    smallest = min(measured, key=lambda c: (c.required_bytes, c.memory.weights_bytes), default=None)
    what = "peak activation memory (arena)" if scope == "activations" else "activations + weights"
    name = model_label(teacher)
    if smallest is None:
        reached = "no candidate could be derived"
    else:
        reached = f"the smallest {what} reachable is {format_bytes(smallest.required_bytes)} by {smallest.spec.label()}"
    message = (f"no student of {name} fits the budget {format_bytes(budget_bytes)} ({scope}, {precision}"
               f"{', weights ' + format_bytes(weights_budget_bytes) if weights_budget_bytes else ''}): {reached} "
               f"(teacher: {format_bytes(teacher_memory.required_bytes(scope))})")
    if weights_budget_bytes is not None and measured:
        lightest = min(measured, key=lambda c: c.memory.weights_bytes)
        message += f"; the lightest weights reached are {format_bytes(lightest.memory.weights_bytes)} by {lightest.spec.label()}"
    return NoStudentFits(message, "raise the budget, or allow larger pool factors, more cheap convs or smaller widths",
                         candidates, smallest)
