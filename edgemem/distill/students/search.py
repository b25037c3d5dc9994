"""search_student: the least aggressive student whose analyzed memory fits the budget.

Each knob is moved only for what it saves. Candidates are tried from least to most aggressive:
widths outermost (width costs the most accuracy), then cheap convolutions, then pool factors
innermost. Aggressive pooling is what lowers peak activation memory, so for
``scope="activations"`` the pool factor moves first and the conv moves on only when the weights
are what fails (a weights budget); with a budget that counts the weights (scope weights or model) cheap
convs are tried too, since they lower the weights. Pooling never removes weights (RED blocks add
some), so once the unpooled student's weights are over, its pooled siblings are skipped unmeasured.
Every candidate is derived, exported to ONNX and analyzed with the budget passed in
(``measure_memory``): each candidate keeps the analyzer's own ``BudgetCheck`` (and the weights
budget's, checked by the same ``edgemem.budget.check_budget``). When nothing fits,
``NoStudentFits`` (a BudgetError, exit 3) names the smallest memory reached and the spec that
reached it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgemem.budget import Budget, BudgetCheck, Precision, Scope
from edgemem.distill.budget import ModelMemory, analyze_graph, exported_graph
from edgemem.distill.export import ExportError
from edgemem.distill.students.derive import derive_student, model_label
from edgemem.distill.students.spec import StudentSpec
from edgemem.errors import BudgetError, ConfigError, UsageError
from edgemem.units import format_bytes

DEFAULT_POOL_FACTORS = (1, 2, 4, 8)
DEFAULT_CONVS = ("standard", "G(2)", "B(2)", "G(4)", "DW")  # roughly decreasing weights
DEFAULT_WIDTHS = (1.0, 0.75, 0.5, 0.25)


@dataclass(frozen=True)
class Candidate:
    spec: StudentSpec
    memory: ModelMemory | None  # None when not applicable or skipped
    weights: BudgetCheck | None = None  # the weights budget's verdict, when one was given
    note: str = ""  # why it was not measured ("not applicable: ...", "skipped: ...")

    @property
    def budget(self) -> BudgetCheck | None:
        """The analyzer's verdict on this candidate against the budget."""
        return None if self.memory is None else self.memory.budget

    @property
    def required_bytes(self) -> int | None:
        return None if self.budget is None else self.budget.required_bytes

    @property
    def fits(self) -> bool:
        return self.budget is not None and self.budget.fits is True and not (self.weights is not None and self.weights.over)

    @property
    def verdict(self) -> str:
        if self.memory is None:
            return self.note
        if self.fits:
            return "fits"
        if self.weights is not None and self.weights.over:
            return (f"weights {format_bytes(self.memory.weights_bytes)} over the weights budget "
                    f"{format_bytes(self.weights.budget_bytes)}")
        return f"over budget by {format_bytes(self.budget.shortfall_bytes)}"


@dataclass(frozen=True)
class SearchResult:
    spec: StudentSpec
    memory: ModelMemory
    candidates: tuple[Candidate, ...]
    budget: Budget
    precision: Precision
    weights_budget: Budget | None
    teacher_memory: ModelMemory
    student: Any = field(default=None, compare=False, repr=False)  # the derived Student for ``spec``


class NoStudentFits(BudgetError):
    """No candidate fits; carries every candidate and the smallest one reached."""

    def __init__(self, message: str, hint: str | None, candidates: tuple[Candidate, ...], smallest: Candidate | None) -> None:
        super().__init__(message, hint)
        self.candidates = candidates
        self.smallest = smallest


def _slug(spec: StudentSpec) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"k{spec.pool_factor}-{spec.conv}-w{spec.width:g}-{'red' if spec.red else 'plain'}")


def measure_candidate(teacher, spec: StudentSpec, input_shape, precision: Precision | str, budget: Budget | None = None,
                      workdir: Path | None = None, cache: dict | None = None) -> tuple[ModelMemory | None, str | None]:
    """(the analyzer's memory and verdict against ``budget``, None) or (None, why ``spec`` does not apply).

    The export is cached per (spec, shape) in ``cache``: precision and budget only change the analysis.
    """
    key = (spec, tuple(input_shape))
    if cache is None or key not in cache:
        try:
            student = derive_student(teacher, spec, input_shape)
            folder = Path(workdir) / _slug(spec) if workdir is not None else None
            outcome = (exported_graph(student.model, input_shape, folder), None)
        except (ConfigError, ExportError) as exc:
            outcome = (None, exc.one_line())
        if cache is None:
            cache = {}
        cache[key] = outcome
    exported, reason = cache[key]
    if exported is None:
        return None, reason
    graph, kept = exported
    return analyze_graph(graph, precision, budget, onnx_path=kept), None


@dataclass(frozen=True)
class _Search:
    """One search's fixed inputs."""

    teacher: Any
    input_shape: tuple[int, ...]
    budget: Budget
    precision: Precision
    weights_budget: Budget | None
    red: bool
    workdir: Path | None
    cache: dict | None

    def measure(self, spec: StudentSpec) -> tuple[ModelMemory | None, str | None]:
        return measure_candidate(self.teacher, spec, self.input_shape, self.precision, self.budget, self.workdir, self.cache)

    def candidate(self, spec: StudentSpec) -> Candidate:
        memory, reason = self.measure(spec)
        if memory is None:
            return Candidate(spec, None, note=f"not applicable: {reason}")
        return Candidate(spec, memory, self.weights_budget.check(memory.parts) if self.weights_budget else None)

    @property
    def weighs_weights(self) -> bool:
        """The budget itself counts the weights (then cheap convs are tried even without a weights budget)."""
        return self.budget.scope is not Scope.ACTIVATIONS


def search_student(teacher, input_shape, budget: Budget, precision: Precision | str = Precision.FP32,
                   weights_budget: Budget | None = None, pool_factors=DEFAULT_POOL_FACTORS, convs=DEFAULT_CONVS,
                   widths=DEFAULT_WIDTHS, red: bool = True, workdir: Path | None = None, cache: dict | None = None) -> SearchResult:
    """Least aggressive ``StudentSpec`` of ``teacher`` that fits ``budget``; NoStudentFits (exit 3) when none does.

    ``cache`` (a dict, one per teacher and input shape) lets repeated searches reuse measurements.
    """
    if not isinstance(budget, Budget) or (weights_budget is not None and not isinstance(weights_budget, Budget)):
        raise UsageError("search_student takes its budgets as edgemem.budget.Budget")
    search = _Search(teacher, tuple(int(d) for d in input_shape), budget, Precision.parse(precision), weights_budget,
                     red, workdir, cache)
    teacher_memory, reason = search.measure(StudentSpec())
    if teacher_memory is None:
        raise ConfigError(f"cannot measure the teacher: {reason}")
    candidates: list[Candidate] = []
    for width in widths:
        for conv in convs:
            fit, weights_over = _search_pools(search, pool_factors, conv, width, candidates)
            if fit is not None:
                student = derive_student(teacher, fit.spec, search.input_shape)
                return SearchResult(fit.spec, fit.memory, tuple(candidates), budget, search.precision, weights_budget,
                                    teacher_memory, student)
            if not search.weighs_weights and not weights_over:
                break  # cheap convs do not lower activations: move on to the next width
    raise _no_fit(search, teacher_memory, tuple(candidates))


def _search_pools(search: _Search, pool_factors, conv, width, candidates) -> tuple[Candidate | None, bool]:
    """Try every pool factor for one (conv, width); returns (first fitting candidate, base weights over?)."""
    weights_over = False
    for k in pool_factors:
        spec = StudentSpec(pool_factor=int(k), conv=conv, width=float(width), red=search.red)
        if weights_over:
            candidates.append(Candidate(spec, None, note="skipped: the unpooled student's weights are already over; "
                                                          "pooling only adds weights"))
            continue
        candidate = search.candidate(spec)
        candidates.append(candidate)
        if candidate.memory is None:
            continue
        if candidate.fits:
            return candidate, weights_over
        unpooled = spec.pool_factor == 1 or not spec.red
        weights_alone = candidate.memory.weights_bytes > search.budget.budget_bytes and search.weighs_weights
        if unpooled and ((candidate.weights is not None and candidate.weights.over) or weights_alone):
            weights_over = True
    return None, weights_over


def _no_fit(search: _Search, teacher_memory: ModelMemory, candidates: tuple[Candidate, ...]) -> NoStudentFits:
    measured = [c for c in candidates if c.memory is not None]
    smallest = min(measured, key=lambda c: (c.required_bytes, c.memory.weights_bytes), default=None)
    scope, budget = search.budget.scope, search.budget.budget_bytes
    what = "peak activation memory (arena)" if scope is Scope.ACTIVATIONS else scope.description
    if smallest is None:
        reached = "no candidate could be derived"
    else:
        reached = f"the smallest {what} reachable is {format_bytes(smallest.required_bytes)} by {smallest.spec.label()}"
    weights = search.weights_budget
    message = (f"no student of {model_label(search.teacher)} fits the budget {format_bytes(budget)} ({scope.value}, "
               f"{search.precision.value}{', weights ' + format_bytes(weights.budget_bytes) if weights else ''}): {reached} "
               f"(teacher: {format_bytes(teacher_memory.required_bytes(scope))})")
    if weights is not None and measured:
        lightest = min(measured, key=lambda c: c.memory.weights_bytes)
        message += f"; the lightest weights reached are {format_bytes(lightest.memory.weights_bytes)} by {lightest.spec.label()}"
    return NoStudentFits(message, "raise the budget, or allow larger pool factors, more cheap convs or smaller widths",
                         candidates, smallest)
